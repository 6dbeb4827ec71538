// Small helpers every benchmark uses: the median of its rounds, a pause between phases.

/** The median (upper middle for an even count) of the rounds; NaN when there are none. */
export const median = (xs: number[]): number => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Command-line numbers of the benchmarks: `--name 123`, else the default.
export function numberArg(name: string, fallback: number, argv: string[] = process.argv): number {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? Number(argv[i + 1]) : fallback;
}

/** `--name value` as a string, else the default; `allowed` (if given) lists the accepted values. */
export function stringArg<T extends string>(name: string, fallback: T, allowed?: readonly T[], argv: string[] = process.argv): T {
  const i = argv.indexOf(`--${name}`);
  if (i <= 0) return fallback;
  const value = argv[i + 1] as T;
  if (allowed && !allowed.includes(value)) throw new Error(`--${name} ${value ?? ''}: expected one of ${allowed.join(', ')}`);
  return value;
}

// The one way tests wait: poll a condition until it holds or the timeout passes.
// For another process, a socket or the daemon's state, never for time itself (the
// injected clock moves that): a slow machine makes a test slower, never wrong, and a
// bug that fires late still fails it.

export interface WaitOptions {
  /** When to give up (default 5000 ms). */
  timeoutMs?: number;
  /** What is awaited, for the failure message. */
  what?: string;
  /** The polling interval (default 10 ms). */
  everyMs?: number;
}

export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, what = 'the condition', everyMs = 10 }: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`waitUntil: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Whether `p` settles within `ms`: a bound on a wait for an event (a child's exit), not a
 * wait, since it returns as soon as `p` does; it leaves no timer behind to hold the process.
 */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

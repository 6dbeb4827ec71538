// Reconnect delays with "decorrelated jitter" (AWS Architecture Blog, "Exponential
// Backoff And Jitter"; Mosquitto's bridge uses the same idea in src/bridge.c):
//   sleep = min(cap, random_between(base, previous * 3))
// Many gateways losing the same cloud at once then spread their reconnects out
// instead of hammering it in lockstep.

export class DecorrelatedJitterBackoff {
  private previousMs: number;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(baseMs > 0) || !(capMs > 0)) throw new RangeError('backoff base and cap must be positive');
    this.previousMs = baseMs;
  }

  /** The next delay in ms: within [base, cap], and at most three times the previous one. */
  next(): number {
    const base = Math.min(this.baseMs, this.capMs);
    const upper = Math.max(base, this.previousMs * 3);
    const sleep = Math.min(this.capMs, base + this.random() * (upper - base));
    this.previousMs = sleep;
    return sleep;
  }

  /** After a successful connection the next failure starts again from the base. */
  reset(): void {
    this.previousMs = this.baseMs;
  }
}

// Delays between attempts to (re)open a serial device: minSec, doubling up to
// maxSec. Deterministic on purpose: each port has its own device, so there is no
// herd to spread out, and operators can predict when the next attempt comes.

export class ReopenBackoff {
  private nextMs: number;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.nextMs = minMs;
  }

  /** The delay before the next attempt; each call doubles the following one. */
  next(): number {
    const delay = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return delay;
  }

  reset(): void {
    this.nextMs = this.minMs;
  }
}

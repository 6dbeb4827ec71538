// bridge.drainRatePerSec: a token bucket in front of the uplink, so that a fleet
// of gateways coming back from a cloud outage does not send every backlog at full
// speed at the same moment. Tokens refill continuously on the monotonic clock; the
// bucket holds at most a tenth of a second's worth, so the rate stays smooth
// rather than arriving in one-second bursts.
import type { TimerHandle } from '../clock/timeSource.js';

export interface DrainClock {
  monotonic(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
}

export class DrainLimiter {
  private tokens: number;
  private readonly capacity: number;
  private refilledAt: number;
  private timer?: TimerHandle;

  /** `ratePerSec` 0 = no limit. */
  constructor(
    private readonly ratePerSec: number,
    private readonly clock: DrainClock,
  ) {
    this.capacity = Math.max(1, Math.ceil(ratePerSec / 10));
    this.tokens = this.capacity;
    this.refilledAt = clock.monotonic();
  }

  get limited(): boolean {
    return this.ratePerSec > 0;
  }

  /** How many messages may leave now, at most `wanted` (taken from the bucket). */
  take(wanted: number): number {
    if (!this.limited) return wanted;
    this.refill();
    const n = Math.min(wanted, Math.floor(this.tokens));
    this.tokens -= n;
    return n;
  }

  /** Calls `fn` once the next message may leave (one pending wake-up at a time). */
  wakeWhenReady(fn: () => void): void {
    if (this.timer) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec));
    this.timer = this.clock.setTimer(waitMs, () => {
      this.timer = undefined;
      fn();
    });
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private refill(): void {
    const now = this.clock.monotonic();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) * this.ratePerSec) / 1000);
    this.refilledAt = now;
  }
}

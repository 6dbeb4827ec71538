// Publishes one port's payloads in order with bounded memory. Up to `window`
// publishes are in flight at once, started in line order: every line of a port
// takes the same path through the broker (same topic, QoS, interceptors), so they
// complete in the order started, and a burst shares the bridge's group commits
// (one SQLite commit, not one per line; with queue.sync=full, one fsync). At `high`
// waiting payloads (or `highBytes`) the port is paused — the serial stream stops
// reading; its own buffer, the kernel's and the device's fill meanwhile — and it is
// resumed once a tenth is left. So a burst is slowed down, never dropped by us.

export interface PublishQueueHooks {
  publish(payload: Buffer): Promise<void>;
  published(): void;
  failed(err: unknown): void;
  pause(): void;
  resume(): void;
}

export interface PublishQueueLimits {
  high: number;
  highBytes: number;
  window: number;
}

const DEFAULT_LIMITS: PublishQueueLimits = { high: 1000, highBytes: 256 * 1024, window: 64 };

export class PublishQueue {
  private queue: Buffer[] = [];
  private head = 0;
  private inFlight = 0;
  private paused = false;
  /** Bytes waiting or in flight. */
  private bytes = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly limits: PublishQueueLimits;

  constructor(
    private readonly hooks: PublishQueueHooks,
    limits: Partial<PublishQueueLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Payloads waiting, including those in flight. */
  get length(): number {
    return this.queue.length - this.head + this.inFlight;
  }

  enqueue(payload: Buffer): void {
    this.queue.push(payload);
    this.bytes += payload.length;
    if (!this.paused && (this.length >= this.limits.high || this.bytes >= this.limits.highBytes)) {
      this.paused = true;
      this.hooks.pause();
    }
    this.pump();
  }

  /** Resolves once everything queued so far is published (or failed). */
  drain(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Starts waiting payloads, oldest first, while the window has room. */
  private pump(): void {
    while (this.inFlight < this.limits.window && this.head < this.queue.length) {
      const payload = this.queue[this.head]!;
      this.head++;
      this.inFlight++;
      let published: Promise<void>;
      try {
        published = this.hooks.publish(payload);
      } catch (err) {
        published = Promise.reject(err);
      }
      published.then(
        () => this.settled(payload, undefined, true),
        (err: unknown) => this.settled(payload, err, false),
      );
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private settled(payload: Buffer, err: unknown, ok: boolean): void {
    this.inFlight--;
    this.bytes -= payload.length;
    try {
      if (ok) this.hooks.published();
      else this.hooks.failed(err);
    } catch {
      // Counting must never break the queue (or become an unhandled rejection).
    }
    if (this.paused && this.length <= this.limits.high / 10 && this.bytes <= this.limits.highBytes / 10) {
      this.paused = false;
      this.hooks.resume();
    }
    this.pump();
    if (this.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

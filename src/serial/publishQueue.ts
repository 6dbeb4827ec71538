// Publishes one port's payloads strictly in order, one at a time, with bounded
// memory: at `high` waiting payloads (or `highBytes`) the port is paused (the serial
// stream stops reading; its own buffer, the kernel's and the device's fill meanwhile)
// and it is resumed once a tenth is left. So a burst is slowed down, never dropped by us.

export interface PublishQueueHooks {
  publish(payload: Buffer): Promise<void>;
  published(): void;
  failed(err: unknown): void;
  pause(): void;
  resume(): void;
}

export class PublishQueue {
  private queue: Buffer[] = [];
  private head = 0;
  private running?: Promise<void>;
  private paused = false;
  private bytes = 0;

  /** Pauses at `high` payloads or `highBytes` bytes waiting; resumes at a tenth of both. */
  constructor(private readonly hooks: PublishQueueHooks, private readonly high = 1000, private readonly highBytes = 256 * 1024) {}

  get length(): number {
    return this.queue.length - this.head;
  }

  enqueue(payload: Buffer): void {
    this.queue.push(payload);
    this.bytes += payload.length;
    if (!this.paused && (this.length >= this.high || this.bytes >= this.highBytes)) {
      this.paused = true;
      this.hooks.pause();
    }
    this.running ??= this.run();
  }

  /** Resolves once everything queued so far is published (or failed). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.length > 0) {
        const payload = this.queue[this.head]!;
        this.head++;
        this.bytes -= payload.length;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        try {
          await this.hooks.publish(payload);
          this.hooks.published();
        } catch (err) {
          this.hooks.failed(err);
        }
        if (this.paused && this.length <= this.high / 10 && this.bytes <= this.highBytes / 10) {
          this.paused = false;
          this.hooks.resume();
        }
      }
    } finally {
      this.queue = [];
      this.head = 0;
      this.bytes = 0;
      this.running = undefined;
    }
  }
}

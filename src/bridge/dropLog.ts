// Drops are never silent, but a full queue under a sensor flood must not flood the
// log either: the first drop is logged at once, later ones summed per interval.
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';

export class DropLog {
  private pending = new Map<string, { messages: number; bytes: number }>();
  private lastLogAt = -Infinity;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly monotonicMs: () => number,
    private readonly intervalMs = 10_000,
  ) {}

  record(reason: string, messages: number, bytes: number): void {
    if (messages <= 0) return;
    this.metrics.bridgeDropped.inc({ reason }, messages);
    const p = this.pending.get(reason) ?? { messages: 0, bytes: 0 };
    p.messages += messages;
    p.bytes += bytes;
    this.pending.set(reason, p);
    const wait = this.lastLogAt + this.intervalMs - this.monotonicMs();
    if (wait <= 0) this.emit();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.emit(), wait);
      this.timer.unref();
    }
  }

  /** Logs what was dropped since the last line. */
  emit(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    this.lastLogAt = this.monotonicMs();
    const dropped = Object.fromEntries(this.pending);
    this.pending.clear();
    this.logger.warn({ dropped }, 'bridge dropped messages (queue bound, TTL, or QoS 0 while offline)');
  }
}

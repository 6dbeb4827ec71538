// Drops are never silent, but a full queue under a sensor flood must not flood the
// log either: the first drop is logged at once, later ones summed per interval.
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export class DropLog {
  private pending = new Map<string, { messages: number; bytes: number }>();
  private lastLogAt = -Infinity;
  private timer?: TimerHandle;
  /** Messages dropped since start, by reason (read by the status page). */
  private readonly totals = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    private readonly clock: Pick<GatewayClock, 'monotonic' | 'setTimer'>,
    private readonly intervalMs = 10_000,
  ) {}

  record(reason: string, messages: number, bytes: number): void {
    if (messages <= 0) return;
    this.metrics.bridgeDropped.inc({ reason }, messages);
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + messages);
    const p = this.pending.get(reason) ?? { messages: 0, bytes: 0 };
    p.messages += messages;
    p.bytes += bytes;
    this.pending.set(reason, p);
    const wait = this.lastLogAt + this.intervalMs - this.clock.monotonic();
    if (wait <= 0) this.emit();
    else this.timer ??= this.clock.setTimer(wait, () => this.emit());
  }

  /** Messages dropped since start, by reason. */
  byReason(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }

  /** Logs what was dropped since the last line. */
  emit(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.pending.size === 0) return;
    this.lastLogAt = this.clock.monotonic();
    const dropped = Object.fromEntries(this.pending);
    this.pending.clear();
    this.logger.warn({ dropped }, 'bridge dropped messages (queue bound, TTL, MQTT 5 message expiry, or QoS 0 while offline)');
  }
}

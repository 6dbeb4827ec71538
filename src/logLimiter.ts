// A log line per event would let a misbehaving client flood the journal (and wear
// the SD card). Per key: the first event is logged at once, later ones within
// the interval are only counted, and the count rides on the next line logged.
import type { Logger } from './log.js';

export class LogLimiter {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly monotonicMs: () => number,
    private readonly intervalMs = 10_000,
  ) {}

  /**
   * Whether an event of `key` may be logged now: undefined when it falls within
   * the interval (it is counted), else how many were suppressed since the last line.
   */
  take(key: string): number | undefined {
    const now = this.monotonicMs();
    const seen = this.last.get(key);
    if (seen && now - seen.atMs < this.intervalMs) {
      seen.suppressed++;
      return undefined;
    }
    this.last.set(key, { atMs: now, suppressed: 0 });
    return seen?.suppressed ?? 0;
  }

  /** Logs `msg` at `level` unless `key` was logged within the interval (then counts it). */
  log(level: 'info' | 'warn', key: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.take(key);
    if (suppressed === undefined) return;
    this.logger[level](suppressed > 0 ? { ...fields, suppressedSinceLastLine: suppressed } : fields, msg);
  }
}

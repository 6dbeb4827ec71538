// Lines that fail to parse are logged rate-limited per port: the first at once,
// then at most one summary per window with how many were suppressed, so a noisy
// or mis-configured device cannot flood the log (or wear the SD card).
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { Logger } from '../log.js';

const WINDOW_MS = 10_000;
const SAMPLE_BYTES = 40;

export class ParseFailureLog {
  private windowStart = -Infinity;
  private suppressed = 0;

  constructor(private readonly clock: GatewayClock, private readonly logger: Logger) {}

  /** `reason` is a stable code (SERIAL_INVALID_JSON, SERIAL_LINE_TOO_LONG, ...). */
  failed(reason: string, line?: Buffer): void {
    const now = this.clock.monotonic();
    if (now - this.windowStart < WINDOW_MS) {
      this.suppressed++;
      return;
    }
    this.windowStart = now;
    const fields: Record<string, unknown> = { reason };
    if (this.suppressed > 0) fields.suppressed = this.suppressed;
    // A short, printable sample helps to see what the device sends.
    if (line) fields.sample = line.subarray(0, SAMPLE_BYTES).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    this.suppressed = 0;
    this.logger.warn(fields, `serial line dropped (${reason}); further drops on this port are summarised every ${WINDOW_MS / 1000} s`);
  }
}

// Lines that fail to parse are logged rate-limited per port: the first at once,
// then at most one summary per window with how many were suppressed, so a noisy
// or mis-configured device cannot flood the log (or wear the SD card).
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../logLimiter.js';

const WINDOW_MS = 10_000;
const SAMPLE_BYTES = 40;

export class ParseFailureLog {
  private readonly limiter: LogLimiter;

  constructor(
    clock: GatewayClock,
    private readonly logger: Logger,
  ) {
    this.limiter = new LogLimiter(logger, () => clock.monotonic(), WINDOW_MS);
  }

  /** `reason` is a stable code (SERIAL_INVALID_JSON, SERIAL_LINE_TOO_LONG, ...). */
  failed(reason: string, line?: Buffer): void {
    // One window per port, whatever the reason.
    const suppressed = this.limiter.take('parse-failure');
    if (suppressed === undefined) return;
    const fields: Record<string, unknown> = { reason };
    if (suppressed > 0) fields.suppressed = suppressed;
    // A short, printable sample helps to see what the device sends.
    if (line)
      fields.sample = line
        .subarray(0, SAMPLE_BYTES)
        .toString('latin1')
        .replace(/[^\x20-\x7e]/g, '.');
    this.logger.warn(fields, `serial line dropped (${reason}); further drops on this port are summarised every ${WINDOW_MS / 1000} s`);
  }
}

// Structured logging: one pino root per daemon, a child per component. Anything
// that could hold a token or a secret is redacted by key, wherever it nests.
import { type DestinationStream, type Logger, pino } from 'pino';
import { errorMessage } from './errors.js';
import { prettyDestination, usePrettyLogs } from './logPretty.js';

export type { Logger } from 'pino';

/** log.* of the configuration (config/ derives its type; this file needs only these two fields). */
export interface LogOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
}

const REDACT_KEYS = ['password', 'token', 'secret', 'authorization', 'privateKey', 'jwt'];
export const REDACT_PATHS = [...REDACT_KEYS, ...REDACT_KEYS.map((k) => `*.${k}`)];

/**
 * Logs go to stderr so that CLI commands keep stdout for their result: JSON lines
 * (journald, log shippers), or readable lines for a person at a terminal.
 */
export function createRootLogger(config: LogOptions, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'edgegate',
      level: config.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? (usePrettyLogs(config.format) ? prettyDestination() : pino.destination({ fd: 2, sync: false })),
  );
}

export function componentLogger(root: Logger, component: string): Logger {
  return root.child({ component });
}

/**
 * The .catch of work nobody awaits (a timer's refresh, a will's deletion): its
 * failure becomes a log line, never an unhandled rejection, which would end the
 * daemon (Node 20). `what` completes "... failed".
 */
export function logFailure(log: Logger, what: string): (err: unknown) => void {
  return (err) => log.error({ err: errorMessage(err) }, `${what} failed`);
}

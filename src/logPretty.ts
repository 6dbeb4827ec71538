// Human-readable log lines for a person at a terminal (`npm start`), instead of
// JSON: "12:34:56.789 WARN  [bridge] cannot connect to the cloud  url=… err=…".
// pino has already redacted secrets by the time a line reaches this stream.
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, [name: string, color: string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO', '32'],
  40: ['WARN', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
/** Fields every line has, shown in the prefix (or not at all) rather than as key=value. */
const PREFIX_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg']);

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Object && 'message' in v && 'stack' in v) return JSON.stringify((v as Error).message);
  return JSON.stringify(v) ?? String(v);
}

/** One JSON log line (as pino writes it) as a readable line; unparsable input passes through. */
export function prettyLine(json: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  const [name, code] = LEVELS[rec.level as number] ?? [String(rec.level), '0'];
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
  const level = color ? `\x1b[${code}m${name.padEnd(5)}\x1b[0m` : name.padEnd(5);
  const component = typeof rec.component === 'string' ? ` [${rec.component}]` : '';
  const fields = Object.entries(rec)
    .filter(([k]) => !PREFIX_FIELDS.has(k))
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  return `${time} ${level}${component} ${String(rec.msg ?? '')}${fields ? `  ${color ? `\x1b[2m${fields}\x1b[0m` : fields}` : ''}\n`;
}

/** A pino destination writing pretty lines to `out` (stderr by default). */
export function prettyDestination(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr): DestinationStream {
  const color = out.isTTY === true && !process.env.NO_COLOR;
  return {
    write: (line: string) => {
      out.write(prettyLine(line, color));
    },
  };
}

/**
 * "auto": pretty when stderr is a terminal and not systemd's journal (which sets
 * JOURNAL_STREAM), JSON lines otherwise, for journald and log shippers.
 */
export function usePrettyLogs(format: 'auto' | 'json' | 'pretty', stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (format !== 'auto') return format === 'pretty';
  return stream.isTTY === true && !env.JOURNAL_STREAM;
}

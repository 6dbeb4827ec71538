// `edgegate status`: asks the running daemon's GET /healthz and prints it
// readably. Exit codes (for scripts and monitoring):
//   0 healthy, 1 unhealthy (the daemon answered 503), 2 invalid configuration,
//   3 not reachable or not an edgegate health answer.
import type { HttpConfig } from '../config/types.js';
import { errorMessage, UsageError } from '../errors.js';
import { type JsonObject, type JsonValue, jsonObject } from '../json.js';
import { configOrExit } from './common.js';

export const STATUS_EXIT = { healthy: 0, unhealthy: 1, unreachable: 3 } as const;

export interface StatusOptions {
  url?: string;
  json?: boolean;
  timeout?: string;
}

/** The /healthz URL of the configured endpoint (wildcard binds are asked on loopback). */
export function healthUrlFromConfig(http: Pick<HttpConfig, 'host' | 'port'> & Partial<HttpConfig>): string {
  let host = http.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::' || host === '[::]') host = '::1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${http.port}/healthz`;
}

/** `--url http://pi:9100` means its /healthz; a URL with a path is used as given. */
export function normalizeHealthUrl(input: string): string {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`unsupported URL scheme ${url.protocol}`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/healthz';
  return url.toString();
}

export async function statusCommand(options: StatusOptions): Promise<void> {
  let url: string;
  try {
    if (options.url) url = normalizeHealthUrl(options.url);
    else {
      const config = await configOrExit();
      if (!config.http.enabled) {
        process.stderr.write('edgegate: the health endpoint is disabled (http.enabled = false); enable it or pass --url\n');
        process.exit(STATUS_EXIT.unreachable);
      }
      url = healthUrlFromConfig(config.http);
    }
  } catch (err) {
    process.stderr.write(`edgegate: ${errorMessage(err)}\n`);
    process.exit(STATUS_EXIT.unreachable);
  }
  const timeoutMs = Math.max(100, Number(options.timeout ?? 5) * 1000 || 5000);
  const outcome = await fetchHealth(url, timeoutMs);
  if ('error' in outcome) {
    process.stderr.write(`edgegate: cannot reach ${url}: ${outcome.error}\nIs the daemon running? Try: systemctl status edgegate\n`);
    process.exit(STATUS_EXIT.unreachable);
  }
  const { httpStatus, report } = outcome;
  const healthy = httpStatus === 200 && report.healthy === true;
  const text = options.json ? JSON.stringify(report, null, 2) + '\n' : formatHealth(report, httpStatus);
  // Exit once the text (newline last, so a shell prompt starts on its own line) is written out.
  process.stdout.write(text.endsWith('\n') ? text : text + '\n', () => process.exit(healthy ? STATUS_EXIT.healthy : STATUS_EXIT.unhealthy));
}

// Another edgegate's report (another version, perhaps): rendered from what it holds, whatever its shape.
type Outcome = { httpStatus: number; report: JsonObject } | { error: string };

async function fetchHealth(url: string, timeoutMs: number): Promise<Outcome> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    const text = await res.text();
    let report: unknown;
    try {
      report = JSON.parse(text);
    } catch {
      return { error: `HTTP ${res.status}, not a JSON health report` };
    }
    const object = jsonObject(report);
    if (!object || !('healthy' in object)) return { error: `HTTP ${res.status}, not an edgegate health report` };
    return { httpStatus: res.status, report: object };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? errorMessage(err) };
  }
}

// ---- rendering -------------------------------------------------------------

const KNOWN = new Set(['status', 'healthy', 'version', 'pid', 'uptimeSec', 'time', 'listeners', 'clientsConnected', 'broker', 'reasons']);

export function formatDuration(totalSec: number): string {
  const s = Math.max(0, Math.floor(totalSec));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** A compact one-line rendering of any status value: `key value, key value`. */
export function describe(value: JsonValue | undefined, depth = 0): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map((v) => describe(v, depth + 1)).join('; ');
  if (typeof value !== 'object') return String(value);
  if (depth > 2) return JSON.stringify(value).slice(1, -1); // the caller adds the braces
  const parts = Object.entries(value).map(([k, v]) =>
    typeof v === 'object' && v !== null ? `${k} {${describe(v, depth + 1)}}` : `${k} ${describe(v, depth + 1)}`,
  );
  return parts.length === 0 ? '-' : parts.join(', ');
}

function describeClock(clock: JsonObject): string {
  const parts = [String(clock.status ?? 'unknown')];
  if (typeof clock.offsetSec === 'number') parts.push(`offset ${clock.offsetSec >= 0 ? '+' : ''}${clock.offsetSec.toFixed(3)} s`);
  if (typeof clock.now === 'string') parts.push(`now ${clock.now}`);
  return parts.join(', ');
}

function describeBridge(bridge: JsonObject): string {
  if (bridge.enabled === false) return 'disabled';
  if (typeof bridge.state !== 'string') return describe(bridge);
  const parts = [bridge.state + (typeof bridge.url === 'string' && bridge.url ? ` (${bridge.url})` : '')];
  if (typeof bridge.connectedSince === 'string') parts.push(`since ${bridge.connectedSince}`);
  const queue = jsonObject(bridge.queue);
  if (queue && typeof queue.messages === 'number') {
    parts.push(`queue ${queue.messages} message${queue.messages === 1 ? '' : 's'}${typeof queue.bytes === 'number' ? ` (${queue.bytes} bytes)` : ''}`);
  }
  if (bridge.lastError) parts.push(`last error: ${String(bridge.lastError)}`);
  return parts.join(', ');
}

/** One serial port: `name: state path, N published, M invalid` (or every field when unknown). */
function describePort(port: JsonObject): string {
  const { name, ...rest } = port;
  if (typeof rest.state !== 'string') return `${String(name ?? '?')}: ${describe(rest, 1)}`;
  const parts = [`${rest.state}${typeof rest.path === 'string' ? ` ${rest.path}` : ''}`];
  const lines = jsonObject(rest.lines);
  if (lines)
    parts.push(
      Object.entries(lines)
        .map(([k, v]) => `${String(v)} ${k}`)
        .join(', '),
    );
  if (rest.lastError) parts.push(`last error: ${String(rest.lastError)}`);
  return `${String(name ?? '?')}: ${parts.join(', ')}`;
}

function describeSerial(serial: JsonObject): string {
  const ports = serial.ports;
  if (Array.isArray(ports)) {
    if (ports.length === 0) return 'no ports configured';
    return ports.map((p) => describePort(jsonObject(p) ?? {})).join('\n' + ' '.repeat(14));
  }
  const byName = jsonObject(ports);
  if (byName) {
    const entries = Object.entries(byName);
    if (entries.length === 0) return 'no ports configured';
    return entries.map(([n, p]) => `${n}: ${describe(p, 1)}`).join('\n' + ' '.repeat(14));
  }
  return describe(serial);
}

/** The human-readable report `edgegate status` prints. */
export function formatHealth(report: JsonObject, httpStatus: number): string {
  const healthy = httpStatus === 200 && report.healthy === true;
  const lines: string[] = [];
  const head = [`edgegate ${String(report.version ?? '')}`.trim(), healthy ? 'HEALTHY' : `UNHEALTHY (HTTP ${httpStatus})`];
  const facts: string[] = [];
  if (report.pid !== undefined) facts.push(`pid ${String(report.pid)}`);
  if (typeof report.uptimeSec === 'number') facts.push(`up ${formatDuration(report.uptimeSec)}`);
  lines.push(`${head.join(': ')}${facts.length ? ` (${facts.join(', ')})` : ''}`);
  const row = (label: string, text: string): void => {
    lines.push(`  ${label.padEnd(12)}${text}`);
  };

  const listeners = Object.entries(jsonObject(report.listeners) ?? {}).map(([name, a]) => {
    const r = jsonObject(a) ?? {};
    return `${name} ${String(r.host)}:${String(r.port)}`;
  });
  row('listeners', listeners.length ? listeners.join(', ') : 'none (not serving)');
  row('clients', `${String(report.clientsConnected ?? 0)} connected`);
  const banned = jsonObject(jsonObject(report.auth)?.rateLimit)?.banned;
  if (typeof banned === 'number') row('bans', `${banned} address${banned === 1 ? '' : 'es'} banned${banned > 0 ? ' (edgegate auth bans)' : ''}`);
  for (const [key, value] of Object.entries(report)) {
    if (KNOWN.has(key)) continue;
    const r = jsonObject(value);
    if (key === 'clock' && r) row('clock', describeClock(r));
    else if (key === 'serial' && r) row('serial', describeSerial(r));
    else if (key === 'bridge' && r) row('bridge', describeBridge(r));
    else row(key, describe(value));
  }
  const reasons = Array.isArray(report.reasons) ? report.reasons : [];
  for (const r of reasons) lines.push(`  ! ${String(r)}`);
  return lines.join('\n') + '\n';
}

// `edgegate fleet status --cloud URL [--prefix P] [--json]`: every gateway that
// left a retained `<prefix>edgegate/<clientId>/state` or `/health` on the cloud,
// as a table. A gateway is fine when its state is "online" and its health summary
// is fresh (newer than twice its interval plus 30 s, or --stale-after seconds).
// Exit 0 when at least one gateway was found and all are fine, 1 otherwise (an
// unreachable cloud included).
import { jsonNumber, jsonObject, jsonString, parseJsonObject } from '../json.js';
import { failAndExit } from './common.js';
import { type CloudOptions, withCloud } from './fleetCloud.js';

/** 0: every gateway online and fresh; 1: anything else, an unreachable cloud included. */
export const FLEET_STATUS_EXIT = { ok: 0, notOk: 1 } as const;
const SLACK_SEC = 30;

export interface FleetStatusOptions extends CloudOptions {
  prefix?: string;
  json?: boolean;
  staleAfter?: string;
  wait?: string;
}

export interface GatewayRow {
  clientId: string;
  state: string;
  online: boolean;
  fresh: boolean;
  lastSeen: string | null;
  ageSec: number | null;
  version: string | null;
  status: string | null;
  clients: number | null;
  queue: number | null;
  queueOldestSec: number | null;
  clock: string | null;
}

/**
 * What the table shows of a retained health summary (bridge/healthPublisher.ts):
 * the cloud holds whatever was published there, so a field of another type is left out.
 */
interface SummaryFields {
  state?: string;
  time?: string;
  intervalSec?: number;
  version?: string;
  status?: string;
  clients?: number;
  queueMessages?: number;
  queueOldestSec?: number;
  clock?: string;
}

function parseHealth(text: string): SummaryFields | undefined {
  const h = parseJsonObject(text);
  if (!h) return undefined;
  const queue = jsonObject(h.queue);
  const clock = jsonObject(h.clock);
  return {
    state: jsonString(h.state),
    time: jsonString(h.time),
    intervalSec: jsonNumber(h.intervalSec),
    version: jsonString(h.version),
    status: jsonString(h.status),
    clients: jsonNumber(h.clients),
    queueMessages: jsonNumber(queue?.messages),
    queueOldestSec: jsonNumber(queue?.oldestAgeSec),
    clock: jsonString(clock?.status),
  };
}

export function gatewayRows(messages: Array<{ topic: string; payload: Buffer }>, prefix: string, nowMs: number, staleAfterSec?: number): GatewayRow[] {
  const base = `${prefix}edgegate/`;
  const byId = new Map<string, { state?: string; health?: SummaryFields }>();
  for (const m of messages) {
    if (!m.topic.startsWith(base)) continue;
    const [id, leaf, ...rest] = m.topic.slice(base.length).split('/');
    if (!id || rest.length > 0) continue;
    const entry = byId.get(id) ?? {};
    if (leaf === 'state') entry.state = m.payload.toString('utf8');
    else if (leaf === 'health') entry.health = parseHealth(m.payload.toString('utf8'));
    else continue;
    byId.set(id, entry);
  }
  return [...byId.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([clientId, { state, health }]) => {
      const seenMs = health?.time ? Date.parse(health.time) : NaN;
      const ageSec = Number.isFinite(seenMs) ? Math.max(0, Math.round((nowMs - seenMs) / 1000)) : null;
      const limit = staleAfterSec ?? 2 * (health?.intervalSec ?? 60) + SLACK_SEC;
      const online = state === 'online' && health?.state !== 'offline';
      return {
        clientId,
        state: state ?? 'unknown',
        online,
        fresh: ageSec !== null && ageSec <= limit,
        lastSeen: Number.isFinite(seenMs) ? new Date(seenMs).toISOString() : null,
        ageSec,
        version: health?.version ?? null,
        status: health?.status ?? null,
        clients: health?.clients ?? null,
        queue: health?.queueMessages ?? null,
        queueOldestSec: health?.queueOldestSec ?? null,
        clock: health?.clock ?? null,
      };
    });
}

function table(rows: GatewayRow[]): string {
  const head = ['GATEWAY', 'STATE', 'FRESH', 'LAST SEEN', 'VERSION', 'HEALTH', 'CLIENTS', 'QUEUE', 'OLDEST', 'CLOCK'];
  const cells = rows.map((r) => [
    r.clientId,
    r.online ? 'online' : r.state,
    r.fresh ? 'yes' : 'STALE',
    r.lastSeen ? `${r.lastSeen} (${r.ageSec}s ago)` : '-',
    r.version ?? '-',
    r.status ?? '-',
    r.clients === null ? '-' : String(r.clients),
    r.queue === null ? '-' : String(r.queue),
    r.queueOldestSec === null ? '-' : `${r.queueOldestSec}s`,
    r.clock ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  return (
    [head, ...cells]
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export async function fleetStatus(o: FleetStatusOptions): Promise<void> {
  const prefix = o.prefix ?? '';
  const quietMs = Math.max(100, Number(o.wait ?? 1) * 1000 || 1000);
  let rows: GatewayRow[];
  try {
    const messages = await withCloud(o, (s) => s.retained([`${prefix}edgegate/+/state`, `${prefix}edgegate/+/health`], quietMs));
    rows = gatewayRows(messages, prefix, Date.now(), o.staleAfter === undefined ? undefined : Number(o.staleAfter));
  } catch (err) {
    failAndExit(err); // exit 1 (FLEET_STATUS_EXIT.notOk), the reason on stderr
  }
  const ok = rows.length > 0 && rows.every((r) => r.online && r.fresh);
  const text = o.json
    ? JSON.stringify({ ok, gateways: rows }, null, 2) + '\n'
    : rows.length === 0
      ? `no gateways found under ${prefix}edgegate/+/state|health\n`
      : table(rows) + `${rows.filter((r) => r.online && r.fresh).length} of ${rows.length} gateways online and fresh\n`;
  process.stdout.write(text, () => process.exit(ok ? FLEET_STATUS_EXIT.ok : FLEET_STATUS_EXIT.notOk));
}

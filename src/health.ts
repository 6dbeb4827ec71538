// The health report: one JSON document built from the status board, served by
// GET /healthz, summarised in $SYS/edgegate/... and printed by `edgegate status`.
import type { BoardSnapshot, Reported, StatusBoard, StatusMap } from './status.js';

export interface ListenerView {
  host: string;
  port: number;
}

/** The bridge registers only when enabled; the report says which either way. */
export type BridgeReport = ({ enabled: true } & Reported<StatusMap['bridge']>) | { enabled: false; state: 'disabled' };

type Components = Omit<BoardSnapshot, 'healthy'>;

/**
 * Every registered component by name (any other name a provider registered
 * under, such as a test's probe, is in the JSON too); bridge, serial, clock and
 * storage always, with a default for one that is not configured.
 */
export interface HealthReport extends Omit<Components, 'bridge'> {
  /** "ok" when serving and every component's health check passes, else "unhealthy". */
  status: 'ok' | 'unhealthy';
  healthy: boolean;
  version: string;
  pid: number;
  uptimeSec: number;
  time: string;
  listeners: Record<string, ListenerView>;
  clientsConnected: number;
  bridge: BridgeReport;
  serial: Reported<StatusMap['serial']>;
  clock: Reported<StatusMap['clock']>;
  storage: Reported<StatusMap['storage']>;
  /** What an operator should know even while healthy (a banned address, a failing disk), in words. */
  reasons?: string[];
}

export interface HealthFacts {
  version: string;
  /** Monotonic time since the daemon started (a Pi's wall clock may jump). */
  uptimeMs: number;
  /** Wall time of the report. */
  nowMs: number;
  pid?: number;
}

/** The broker's bound addresses ({address, family, port} each) → {host, port}. */
export function listenerViews(listeners: StatusMap['broker']['listeners'] | undefined): Record<string, ListenerView> {
  const out: Record<string, ListenerView> = {};
  for (const [name, info] of Object.entries(listeners ?? {})) if (info) out[name] = { host: info.address, port: info.port };
  return out;
}

/** Why the report is worth a look: what failed, and what an operator may have to undo. */
function reasonsOf(components: Components, serving: boolean): string[] {
  const out: string[] = [];
  if (!serving) out.push('the MQTT broker is not serving');
  const { storage, auth } = components;
  if (storage?.writable === false) out.push(`storage: ${storage.error ?? 'commits fail'}`);
  const banned = auth?.rateLimit?.banned ?? 0;
  if (banned > 0) {
    out.push(
      `${banned} address${banned === 1 ? ' is' : 'es are'} banned after failed ` +
        `authentications (auth.rateLimit): see edgegate auth bans, lift with edgegate auth unban`,
    );
  }
  return out;
}

/** `detail`: for the status page only (see StatusOptions). */
export function buildHealthReport(board: StatusBoard, facts: HealthFacts, options = { detail: false }): HealthReport {
  const { healthy: checksPass, bridge, ...components } = board.snapshot(options);
  const broker = components.broker;
  const serving = broker?.serving === true;
  const healthy = checksPass && serving;
  return {
    status: healthy ? 'ok' : 'unhealthy',
    healthy,
    reasons: reasonsOf(components, serving),
    version: facts.version,
    pid: facts.pid ?? process.pid,
    uptimeSec: Math.max(0, Math.round(facts.uptimeMs / 1000)),
    time: new Date(facts.nowMs).toISOString(),
    listeners: listenerViews(broker?.listeners),
    clientsConnected: broker?.clientsConnected ?? 0,
    // Fixed key order, and a value for components that did not register (not configured).
    bridge: bridge ? { enabled: true, ...bridge } : { enabled: false, state: 'disabled' },
    serial: { ports: [] },
    clock: {},
    storage: {},
    ...components,
  };
}

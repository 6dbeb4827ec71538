// The health report: one JSON document built from the status board, served by
// GET /healthz, summarised in $SYS/edgegate/... and printed by `edgegate status`.
import type { StatusBoard } from './status.js';
import { asRecord } from './record.js';

export interface ListenerView {
  host: string;
  port: number;
}

export interface HealthReport {
  /** "ok" when serving and every component's health check passes, else "unhealthy". */
  status: 'ok' | 'unhealthy';
  healthy: boolean;
  version: string;
  pid: number;
  uptimeSec: number;
  time: string;
  listeners: Record<string, ListenerView>;
  clientsConnected: number;
  bridge: Record<string, unknown>;
  clock: Record<string, unknown>;
  serial: Record<string, unknown>;
  storage: Record<string, unknown>;
  /** What an operator should know even while healthy (a banned address, a failing disk), in words. */
  reasons?: string[];
  /** Any other component that registered a status provider, by name. */
  [component: string]: unknown;
}

export interface HealthFacts {
  version: string;
  /** Monotonic time since the daemon started (a Pi's wall clock may jump). */
  uptimeMs: number;
  /** Wall time of the report. */
  nowMs: number;
  pid?: number;
}


/** AddressInfo ({address, family, port}) → {host, port}; anything else is skipped. */
export function listenerViews(listeners: unknown): Record<string, ListenerView> {
  const out: Record<string, ListenerView> = {};
  for (const [name, info] of Object.entries(asRecord(listeners) ?? {})) {
    const a = asRecord(info);
    if (a && typeof a.port === 'number') out[name] = { host: String(a.address ?? a.host ?? ''), port: a.port };
  }
  return out;
}

/** Why the report is worth a look: what failed, and what an operator may have to undo. */
function reasonsOf(components: Record<string, unknown>, serving: boolean): string[] {
  const out: string[] = [];
  if (!serving) out.push('the MQTT broker is not serving');
  const storage = asRecord(components.storage);
  if (storage?.writable === false) out.push(`storage: ${String(storage.error ?? 'commits fail')}`);
  const banned = asRecord(asRecord(components.auth)?.rateLimit)?.banned;
  if (typeof banned === 'number' && banned > 0) {
    out.push(`${banned} address${banned === 1 ? ' is' : 'es are'} banned after failed authentications (auth.rateLimit): see edgegate auth bans, lift with edgegate auth unban`);
  }
  return out;
}

/** `detail`: for the status page only (see StatusProvider). */
export function buildHealthReport(board: StatusBoard, facts: HealthFacts, options = { detail: false }): HealthReport {
  const snapshot = board.snapshot(options);
  const broker = asRecord(snapshot.broker) ?? {};
  const serving = broker.serving === true;
  const healthy = snapshot.healthy === true && serving;
  const { healthy: _healthy, ...components } = snapshot;
  void _healthy;
  const bridge = asRecord(components.bridge);
  // The bridge registers only when enabled; say so explicitly either way.
  components.bridge = bridge ? { enabled: true, ...bridge } : { enabled: false, state: 'disabled' };
  return {
    status: healthy ? 'ok' : 'unhealthy',
    healthy,
    reasons: reasonsOf(components, serving),
    version: facts.version,
    pid: facts.pid ?? process.pid,
    uptimeSec: Math.max(0, Math.round(facts.uptimeMs / 1000)),
    time: new Date(facts.nowMs).toISOString(),
    listeners: listenerViews(broker.listeners),
    clientsConnected: typeof broker.clientsConnected === 'number' ? broker.clientsConnected : 0,
    // Fixed key order, and a value for components that did not register (not configured).
    bridge: { enabled: false, state: 'disabled' },
    serial: { ports: [] },
    clock: {},
    storage: {},
    ...components,
  };
}

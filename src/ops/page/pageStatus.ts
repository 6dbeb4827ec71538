// The JSON the status page reads (GET /api/status and each `status` event):
// built from the health report, the broker's client list and the sampler. Only
// what an operator needs; never a token, a token hash, a secret or a session.
import type { ClientView } from '../../broker/sessions.js';
import type { HealthReport } from '../../health.js';
import type { ObservedState } from '../sampler.js';

export interface PageStatusSources {
  report: () => HealthReport;
  clients: () => ClientView[];
  bridgeState: () => ObservedState | undefined;
  authRequired: boolean;
}

export interface Problem {
  /** "error": the gateway is unhealthy because of it; "warning": degraded but serving. */
  level: 'error' | 'warning';
  text: string;
}

/** Why the gateway is (or may soon be) unhealthy, in words. */
export function problemsOf(r: HealthReport): Problem[] {
  const out: Problem[] = [];
  if (r.broker?.serving !== true) out.push({ level: 'error', text: 'the MQTT broker is not serving' });
  if (!r.healthy && out.length === 0) out.push({ level: 'error', text: 'a component failed its health check' });
  const { storage, clock, bridge } = r;
  if (storage.persistent === false) out.push({ level: 'warning', text: 'storage is in memory (database unusable): nothing persists across a restart' });
  if (storage.writable === false) out.push({ level: 'error', text: `storage: ${storage.error ?? 'commits fail'}` });
  const banned = r.auth?.rateLimit?.banned ?? 0;
  if (banned > 0) {
    const text = `${banned} address${banned === 1 ? '' : 'es'} banned after failed authentications (edgegate auth bans / edgegate auth unban)`;
    out.push({ level: 'warning', text });
  }
  if (clock.status !== undefined && clock.status !== 'synced') out.push({ level: 'warning', text: `clock ${clock.status}` });
  if (bridge.enabled === true && bridge.state !== 'connected') {
    out.push({ level: 'warning', text: `bridge ${String(bridge.state)}${bridge.lastError ? `: ${bridge.lastError}` : ''}` });
  }
  for (const p of r.serial.ports ?? []) if (p.state !== 'open') out.push({ level: 'warning', text: `serial port ${p.name} ${p.state}` });
  return out;
}

export function buildPageStatus(src: PageStatusSources): Record<string, unknown> {
  const r = src.report();
  const { clock, storage, bridge } = r;
  const observed = src.bridgeState();
  return {
    time: r.time,
    overview: {
      healthy: r.healthy,
      status: r.status,
      problems: problemsOf(r),
      uptimeSec: r.uptimeSec,
      version: r.version,
      clock: { status: clock.status ?? null, offsetSec: clock.offsetSec ?? null },
      storage: { persistent: storage.persistent === true, writable: storage.writable !== false, sync: storage.sync ?? null, error: storage.error ?? null },
      listeners: r.listeners,
      clientsConnected: r.clientsConnected,
      authRequired: src.authRequired,
    },
    sensors: src.clients().map((c) => ({
      ...c,
      connectedAt: new Date(c.connectedAtMs).toISOString(),
      expiresAt: c.expiresAtMs === null ? null : new Date(c.expiresAtMs).toISOString(),
    })),
    bridge:
      bridge.enabled === true
        ? {
            enabled: true,
            state: bridge.state,
            // Observed by the sampler (within its interval); connectedSince is exact while connected.
            stateSince:
              bridge.state === 'connected' && bridge.connectedSince
                ? bridge.connectedSince
                : observed && observed.state === bridge.state
                  ? new Date(observed.sinceMs).toISOString()
                  : null,
            url: bridge.url,
            clientId: bridge.clientId,
            rules: bridge.rules ?? [],
            queue: {
              messages: bridge.queue?.messages ?? 0,
              bytes: bridge.queue?.bytes ?? 0,
              durable: bridge.queue?.durable ?? false,
              inflight: bridge.queue?.inflight ?? 0,
            },
            oldestQueuedAgeSec: bridge.oldestQueuedAgeSec ?? null,
            dropped: bridge.dropped ?? {},
            lastError: bridge.lastError ?? null,
          }
        : { enabled: false },
    serial: {
      ports: (r.serial.ports ?? []).map((p) => ({
        name: p.name,
        path: p.path,
        state: p.state,
        format: p.format,
        lines: p.lines,
        errors: p.errors,
        lastError: p.lastError ?? null,
        lastLineAt: p.lastLineAt ?? null,
        lastLine: p.lastLine ?? null,
      })),
    },
  };
}

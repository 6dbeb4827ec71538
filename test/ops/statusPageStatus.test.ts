// The JSON of GET /api/status, from a health report: the overview's "why", the
// bridge's state with its time, rules, queue age and drops, and serial ports with
// the time of their last line (its text only for the expander).
import assert from 'node:assert/strict';
import type { HealthReport } from '../../src/health.js';
import { buildPageStatus, problemsOf } from '../../src/ops/page/pageStatus.js';

/** A report with the given components (each with only the fields a test needs). */
function report(overrides: Record<string, unknown> = {}): HealthReport {
  return {
    status: 'ok',
    healthy: true,
    version: '1.2.3',
    pid: 1,
    uptimeSec: 90,
    time: '2026-12-01T12:00:00.000Z',
    listeners: { tcp: { host: '127.0.0.1', port: 1883 } },
    clientsConnected: 0,
    broker: { serving: true },
    bridge: { enabled: false, state: 'disabled' },
    clock: { status: 'synced', offsetSec: 0 },
    serial: { ports: [] },
    storage: { persistent: true },
    ...overrides,
  } as HealthReport;
}

describe('status page JSON', () => {
  it('says why: the broker not serving is an error, degraded parts are warnings', () => {
    assert.deepEqual(problemsOf(report()), []);
    const r = report({
      healthy: false,
      status: 'unhealthy',
      broker: { serving: false },
      storage: { persistent: false },
      clock: { status: 'unsynchronized', offsetSec: 0 },
      bridge: { enabled: true, state: 'waiting', lastError: 'connect ECONNREFUSED 127.0.0.1:1' },
      serial: { ports: [{ name: 'weather', state: 'reopening' }] },
    });
    assert.deepEqual(problemsOf(r), [
      { level: 'error', text: 'the MQTT broker is not serving' },
      { level: 'warning', text: 'storage is in memory (database unusable): nothing persists across a restart' },
      { level: 'warning', text: 'clock unsynchronized' },
      { level: 'warning', text: 'bridge waiting: connect ECONNREFUSED 127.0.0.1:1' },
      { level: 'warning', text: 'serial port weather reopening' },
    ]);
  });

  it('gives the bridge state with its time, rules, queue, oldest age and drops; serial ports with their last line', () => {
    const bridge = {
      enabled: true,
      state: 'waiting',
      url: 'mqtts://cloud.example:8883',
      clientId: 'gw-1',
      connectedSince: null,
      lastError: 'connack timeout',
      queue: { messages: 7, bytes: 70, durable: true, inflight: 0 },
      rules: [{ pattern: 'data/#', direction: 'out', qos: 1, localPrefix: '', remotePrefix: 'up/' }],
      oldestQueuedAgeSec: 42,
      dropped: { overflow: 3 },
    };
    const port = {
      name: 'weather',
      path: '/dev/ttyUSB0',
      state: 'open',
      format: 'kv',
      lines: { published: 10, invalid: 1, oversized: 0 },
      errors: 0,
      lastError: null,
      lastLineAt: '2026-12-01T11:59:59.000Z',
      lastLine: 't=21.5',
    };
    const out = buildPageStatus({
      report: () => report({ bridge, serial: { ports: [port] } }),
      clients: () => [],
      bridgeState: () => ({ state: 'waiting', sinceMs: Date.parse('2026-12-01T11:58:00Z') }),
      authRequired: false,
    }) as Record<string, any>;
    assert.deepEqual(out.bridge, {
      enabled: true,
      state: 'waiting',
      stateSince: '2026-12-01T11:58:00.000Z',
      url: 'mqtts://cloud.example:8883',
      clientId: 'gw-1',
      rules: bridge.rules,
      queue: bridge.queue,
      oldestQueuedAgeSec: 42,
      dropped: { overflow: 3 },
      lastError: 'connack timeout',
    });
    assert.deepEqual(out.serial.ports[0], {
      name: 'weather',
      path: '/dev/ttyUSB0',
      state: 'open',
      format: 'kv',
      lines: port.lines,
      errors: 0,
      lastError: null,
      lastLineAt: port.lastLineAt,
      lastLine: 't=21.5',
    });
    assert.equal(out.overview.version, '1.2.3');
    assert.deepEqual(out.overview.clock, { status: 'synced', offsetSec: 0 });
  });

  it("takes a connected bridge's time from connectedSince, and a state the sampler has not seen yet has none", () => {
    const connected = { enabled: true, state: 'connected', connectedSince: '2026-12-01T11:00:00.000Z', queue: {} };
    const status = (bridge: Record<string, unknown>, seen?: { state: string; sinceMs: number }) =>
      (buildPageStatus({ report: () => report({ bridge }), clients: () => [], bridgeState: () => seen, authRequired: true }) as Record<string, any>).bridge;
    assert.equal(status(connected, { state: 'connected', sinceMs: Date.parse('2026-12-01T11:00:04Z') }).stateSince, '2026-12-01T11:00:00.000Z');
    assert.equal(status({ ...connected, state: 'connecting' }, { state: 'waiting', sinceMs: 0 }).stateSince, null);
  });
});

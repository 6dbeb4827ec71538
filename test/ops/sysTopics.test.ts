// Retained $SYS/edgegate/... topics, read by a real MQTT client; time moved by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { HealthReport } from '../../src/health.js';
import { SYS_DEBOUNCE_MS, SYS_REFRESH_MS, stableReport, sysTopicValues } from '../../src/ops/sysTopics.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';

const SECRET = 'sys-topics-secret-0123456789abcdef';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('$SYS/edgegate topics', () => {
  let d: TestDaemon;
  let time: FakeTimeSource;
  let watcher: MqttClient;
  let seen: ReturnType<typeof collector>;
  const others: MqttClient[] = [];

  const latest = (topic: string): string | undefined => seen.messages.filter((m) => m.topic === topic).at(-1)?.payload;
  const countOf = (topic: string): number => seen.messages.filter((m) => m.topic === topic).length;
  /** Retained messages come from the store after SUBACK, not in order with live ones: wait for each. */
  async function waitForTopics(suffixes: string[]): Promise<void> {
    const missing = (): string[] => suffixes.filter((t) => latest(`$SYS/edgegate/${t}`) === undefined);
    while (missing().length > 0) {
      await seen.waitFor(seen.messages.length + 1).catch(() => {
        throw new Error(`not received: ${missing().join(', ')}`);
      });
    }
  }

  /** Resolves once the latest message on $SYS/edgegate/<suffix> carries `expected`. */
  async function waitForValue(suffix: string, expected: string): Promise<void> {
    while (latest(`$SYS/edgegate/${suffix}`) !== expected) {
      await seen.waitFor(seen.messages.length + 1).catch(() => {
        throw new Error(`${suffix}: expected ${expected}, still ${String(latest(`$SYS/edgegate/${suffix}`))}`);
      });
    }
  }

  let markers = 0;
  /** Anything the gateway published before this marker has been delivered once the marker is. */
  async function barrier(): Promise<void> {
    const marker = `m${++markers}`;
    const arrived = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`marker ${marker} not delivered`)), 5000);
      const onMessage = (topic: string, payload: Buffer): void => {
        if (topic !== 'test/marker' || payload.toString() !== marker) return;
        clearTimeout(t);
        watcher.off('message', onMessage);
        resolve();
      };
      watcher.on('message', onMessage);
    });
    await new Promise((r) => setImmediate(r));
    await d.daemon.broker!.publishInternal({ topic: 'test/marker', payload: marker }, 'test');
    await arrived;
  }

  before(async () => {
    time = new FakeTimeSource();
    d = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { timeSource: time });
    watcher = await connectOk(d.port, { username: 'ops', password: await hsToken(SECRET, { sub: 'ops' }), clientId: 'ops-watcher' });
    seen = collector(watcher);
    assert.deepEqual(await subscribe(watcher, ['$SYS/edgegate/#', 'test/marker']), [0, 0]);
  });
  after(async () => {
    await end(watcher, ...others);
    await d?.stop();
  });

  it('a new subscriber gets the retained essentials at once', async () => {
    await waitForTopics(['version', 'healthy', 'listeners', 'clients/connected', 'clock/status', 'clock/offset', 'storage/persistent', 'started', 'health']);
    assert.equal(latest('$SYS/edgegate/version'), VERSION);
    assert.equal(latest('$SYS/edgegate/healthy'), 'true');
    assert.deepEqual(JSON.parse(latest('$SYS/edgegate/listeners')!), { tcp: { host: '127.0.0.1', port: d.port } });
    assert.equal(latest('$SYS/edgegate/clock/status'), 'synced');
    assert.equal(latest('$SYS/edgegate/clock/offset'), '0');
    assert.equal(latest('$SYS/edgegate/storage/persistent'), 'true');
    assert.ok(!Number.isNaN(Date.parse(latest('$SYS/edgegate/started')!)));
    const health = JSON.parse(latest('$SYS/edgegate/health')!) as Record<string, unknown>;
    assert.equal(health.healthy, true);
    assert.equal(health.version, VERSION);
    // (aedes's own $SYS/edgegate/new/... announcements are not retained, ours are)
    const ours = seen.messages.filter((m) => m.topic.startsWith('$SYS/edgegate/') && !/^\$SYS\/edgegate\/(new|disconnect)\//.test(m.topic));
    assert.ok(ours.length >= 9 && ours.every((m) => m.retain), 'delivered as retained');
  });

  it('republishes the client count shortly after connections change', async () => {
    // The watcher's own connection was announced; one debounce period later the count follows.
    time.advance(SYS_DEBOUNCE_MS);
    await waitForValue('clients/connected', '1');
    others.push(await connectOk(d.port, { username: 's', password: await hsToken(SECRET, { sub: 's' }), clientId: 'sensor-s' }));
    time.advance(SYS_DEBOUNCE_MS);
    await waitForValue('clients/connected', '2');
  });

  it('publishes only what changed', async () => {
    const before = ['version', 'healthy', 'listeners', 'clients/connected', 'clock/status', 'started'].map((t) => countOf(`$SYS/edgegate/${t}`));
    time.advance(SYS_REFRESH_MS * 3);
    await barrier();
    const after = ['version', 'healthy', 'listeners', 'clients/connected', 'clock/status', 'started'].map((t) => countOf(`$SYS/edgegate/${t}`));
    assert.deepEqual(after, before);
  });

  it('reports an unhealthy component on the next refresh, and retains it for late subscribers', async () => {
    d.daemon.status.register(
      'test-probe',
      () => ({ ok: false }),
      () => false,
    );
    try {
      time.advance(SYS_REFRESH_MS);
      await waitForValue('healthy', 'false');
      const late = await connectOk(d.port, { username: 'l', password: await hsToken(SECRET, { sub: 'l' }), clientId: 'late' });
      others.push(late);
      const got = collector(late);
      await subscribe(late, '$SYS/edgegate/healthy');
      await got.waitFor(1);
      assert.deepEqual(got.messages[0], { topic: '$SYS/edgegate/healthy', payload: 'false', retain: true });
    } finally {
      d.daemon.status.unregister('test-probe');
    }
    time.advance(SYS_REFRESH_MS);
    await waitForValue('healthy', 'true');
  });

  it("clients cannot publish on the gateway's $SYS topics", async () => {
    const intruder = await connectOk(d.port, { username: 'i', password: await hsToken(SECRET, { sub: 'i' }), clientId: 'intruder' });
    others.push(intruder);
    await publish(intruder, '$SYS/edgegate/healthy', 'hacked', { qos: 1, retain: true });
    await barrier();
    assert.ok(!seen.messages.some((m) => m.payload === 'hacked'));
  });
});

describe('$SYS values from a health report', () => {
  // Only the fields the topics read; the rest of each component's status is left out.
  const report = {
    status: 'ok',
    healthy: true,
    version: '1.2.3',
    pid: 1,
    uptimeSec: 5,
    time: '2026-01-01T00:00:00.000Z',
    listeners: { tcp: { host: '0.0.0.0', port: 1883 } },
    clientsConnected: 3,
    bridge: { state: 'connected', queue: { messages: 7, bytes: 70 } },
    clock: { status: 'skewed', offsetSec: -300.5, now: '2026-01-01T00:00:00.000Z' },
    serial: {
      ports: [
        { name: 'gps/0+', state: 'open', path: '/dev/ttyUSB0' },
        { name: 'meter', state: 'closed' },
      ],
    },
    storage: { persistent: false },
  } as unknown as HealthReport;

  it('maps the essentials to topics, sanitizing port names into one topic level', () => {
    const v = sysTopicValues(report);
    assert.equal(v.get('clients/connected'), '3');
    assert.equal(v.get('clock/status'), 'skewed');
    assert.equal(v.get('clock/offset'), '-300.5');
    assert.equal(v.get('storage/persistent'), 'false');
    assert.equal(v.get('bridge/status'), 'connected');
    assert.equal(v.get('bridge/queue/messages'), '7');
    assert.equal(sysTopicValues({ ...report, bridge: { enabled: false, state: 'disabled' } }).get('bridge/status'), 'disabled');
    assert.equal(v.get('serial/gps_0_/state'), 'open');
    assert.equal(v.get('serial/meter/state'), 'closed');
    for (const topic of v.keys()) assert.ok(!/[+#]/.test(topic), topic);
  });

  it('leaves out what changes on every read', () => {
    const s = stableReport(report);
    assert.equal('time' in s, false);
    assert.equal('uptimeSec' in s, false);
    assert.deepEqual(s.clock, { status: 'skewed', offsetSec: -300.5 });
    const later = { ...report, time: '2026-01-01T00:00:10.000Z', uptimeSec: 15, clock: { ...report.clock, now: '2026-01-01T00:00:10.000Z' } };
    assert.equal(sysTopicValues(later).get('health'), sysTopicValues(report).get('health'));
  });
});

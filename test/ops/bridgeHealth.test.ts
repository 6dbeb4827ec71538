// The bridge's state and queue depth as /healthz, /metrics and $SYS report them:
// first with the cloud broker down (messages queue up), then with a real
// Mosquitto started on that port (the queue drains).
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { haveCommand } from './support/notifyReceiver.js';

const SECRET = 'bridge-health-secret-0123456789abcdef';

async function json(d: TestDaemon, path: string): Promise<Record<string, any>> {
  return (await (await fetch(`http://127.0.0.1:${d.httpPort}${path}`)).json()) as Record<string, any>;
}

async function metric(d: TestDaemon, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('bridge state and queue depth in health, metrics and $SYS', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let cloud: Mosquitto | undefined;
  let sensor: MqttClient;
  let cloudPort: number;

  before(async function () {
    if (!haveCommand('mosquitto')) {
      // eslint-disable-next-line no-console
      console.log('      skipped: mosquitto not found (apt-get install mosquitto)');
      return this.skip();
    }
    cloudPort = await freePort();
    d = await startDaemon({
      auth: { jwt: { secret: SECRET } },
      http: { enabled: true },
      bridge: {
        enabled: true,
        url: `mqtt://127.0.0.1:${cloudPort}`,
        clientId: 'edgegate-ops-test',
        reconnect: { minSec: 1, maxSec: 1 },
        topics: [{ pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: '', remotePrefix: '' }],
      },
    });
    sensor = await connectOk(d.port, { username: 's', password: await hsToken(SECRET, { sub: 's' }), clientId: 'bridge-health-sensor' });
  });
  after(async () => {
    await end(sensor);
    await d?.stop();
    await cloud?.dispose();
  });

  it('reports a disconnected bridge and the messages it queued', async () => {
    for (let i = 0; i < 3; i++) await publish(sensor, 'sensors/s/t', String(i), { qos: 1 });
    const health = await json(d, '/healthz');
    assert.equal(health.bridge.enabled, true);
    assert.notEqual(health.bridge.state, 'connected');
    assert.equal(health.bridge.queue.messages, 3);
    assert.equal(health.healthy, true, 'an unreachable cloud does not make the gateway unhealthy');
    assert.equal(await metric(d, 'edgegate_bridge_connected'), 0);
    assert.equal(await metric(d, 'edgegate_bridge_queue_messages'), 3);
  });

  it('reports the connection and the drained queue once the cloud broker is up', async () => {
    cloud = await Mosquitto.start({ port: cloudPort });
    await waitUntil(
      async () => {
        const b = (await json(d, '/healthz')).bridge;
        return b.state === 'connected' && b.queue.messages === 0;
      },
      { timeoutMs: 15_000, what: 'bridge connected and queue drained' },
    );
    assert.equal(await metric(d, 'edgegate_bridge_connected'), 1);
    assert.equal(await metric(d, 'edgegate_bridge_queue_messages'), 0);
    assert.equal(await metric(d, 'edgegate_bridge_messages_total{direction="out"}'), 3);

    const watcher = await connectOk(d.port, { username: 'o', password: await hsToken(SECRET, { sub: 'o' }), clientId: 'bridge-health-ops' });
    try {
      const got = collector(watcher);
      await subscribe(watcher, ['$SYS/edgegate/bridge/status', '$SYS/edgegate/bridge/queue/messages']);
      // The $SYS refresh runs every 10 s on the real clock here; the retained values
      // are at least those of the last refresh, and converge to connected / 0.
      await waitUntil(
        async () => {
          const last = (t: string): string | undefined => got.messages.filter((m) => m.topic === t).at(-1)?.payload;
          return last('$SYS/edgegate/bridge/status') === 'connected' && last('$SYS/edgegate/bridge/queue/messages') === '0';
        },
        { timeoutMs: 15_000, what: '$SYS bridge topics' },
      );
    } finally {
      await end(watcher);
    }
  });
});

// Serial readings flow over the cloud bridge like any sensor's, and commands from
// the cloud reach the device: socat PTY, real daemon, real Mosquitto as the cloud.
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { Device, SocatPair, unplugAll } from './support/socat.js';

describe('serial ports over the cloud bridge (real Mosquitto)', function () {
  this.timeout(30_000);
  let dir: string;
  let pair: SocatPair;
  let device: Device;
  let cloud: Mosquitto;
  let cloudClient: MqttClient;
  let cloudInbox: ReturnType<typeof collector>;
  let d: TestDaemon;

  before(async () => {
    dir = SocatPair.tempDir();
    pair = new SocatPair(dir, 'meter');
    await pair.plug();
    cloud = await Mosquitto.start();
    cloudClient = await connectOk(cloud.port, { clientId: 'cloud-watch-serial' });
    cloudInbox = collector(cloudClient);
    await subscribe(cloudClient, 'gw1/#', 1);
    d = await startDaemon({
      auth: { jwt: { secret: 'serial-bridge-secret-0123456789abcdef' } },
      bridge: {
        enabled: true,
        url: `mqtt://127.0.0.1:${cloud.port}`,
        clientId: 'gw1-serial',
        reconnect: { minSec: 0.05, maxSec: 0.3 },
        // fsync per commit: serial lines in flight together share the group commits.
        queue: { sync: 'full' },
        topics: [
          { pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: '', remotePrefix: 'gw1/' },
          { pattern: 'cmd/#', direction: 'in', qos: 1, localPrefix: '', remotePrefix: 'cloud/gw1/' },
        ],
      },
      serial: { ports: [{ name: 'meter', path: pair.daemonSide, format: 'kv', qos: 1, commandTopic: 'cmd/%n', reopen: { minSec: 0.05, maxSec: 0.2 } }] },
    } as never);
    // The bridge subscribes to its `in` rules before it publishes its retained "online" state.
    await waitUntil(() => cloudInbox.messages.some((m) => m.payload === 'online'), { timeoutMs: 10_000, what: 'the bridge online state' });
    await waitUntil(() => (d.daemon.status.snapshot().serial as { ports: Array<{ state: string }> }).ports[0]!.state === 'open', { what: 'the port to open' });
    device = await Device.open(pair.deviceSide);
  });

  after(async () => {
    await device?.close();
    await end(cloudClient);
    await d?.stop();
    await cloud?.dispose();
    await unplugAll(dir);
  });

  it('a reading from the device arrives at the cloud under the rule remote prefix', async () => {
    await device.write('kwh=1234.5 ok=true\n');
    await waitUntil(() => cloudInbox.messages.some((m) => m.topic === 'gw1/sensors/meter/data'), { timeoutMs: 10_000, what: 'the reading at the cloud' });
    assert.deepEqual(
      cloudInbox.messages.filter((m) => m.topic === 'gw1/sensors/meter/data').map((m) => m.payload),
      ['{"kwh":1234.5,"ok":true}'],
    );
  });

  it('a burst of lines reaches the cloud complete and in order (QoS 1 through the durable queue)', async () => {
    const N = 500;
    await device.write(Array.from({ length: N }, (_, i) => `seq=${i}`).join('\n') + '\n');
    const seqs = (): number[] =>
      cloudInbox.messages
        .filter((m) => m.topic === 'gw1/sensors/meter/data' && m.payload.startsWith('{"seq"'))
        .map((m) => (JSON.parse(m.payload) as { seq: number }).seq);
    await waitUntil(() => seqs().length >= N, { timeoutMs: 20_000, what: `${N} lines at the cloud (have ${seqs().length})` });
    assert.deepEqual(
      seqs(),
      Array.from({ length: N }, (_, i) => i),
    );
  });

  it('a command published in the cloud reaches the device', async () => {
    await publish(cloudClient, 'cloud/gw1/cmd/meter', 'RESET', { qos: 1 });
    await waitUntil(() => device.received.includes('\n'), { timeoutMs: 10_000, what: 'the command on the device' });
    assert.equal(device.received, 'RESET\n');
  });
});

// The bridge sees publishes from WebSocket sensors as from TCP ones: an `out`
// rule carries a ws:// sensor's QoS 1 message to a real Mosquitto cloud, and an
// `in` rule delivers a cloud message to a ws:// subscriber.
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, rule, sensorToken } from './support.js';

function wsSensor(port: number, clientId: string, password: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`ws://127.0.0.1:${port}/mqtt`, { clientId, username: 'sensor', password, reconnectPeriod: 0, protocolVersion: 4 });
    const t = setTimeout(() => (c.end(true), reject(new Error('no CONNACK over ws'))), 5000);
    c.once('connect', () => (clearTimeout(t), resolve(c)));
    c.once('error', (err) => (clearTimeout(t), c.end(true), reject(err)));
  });
}

describe('bridge with WebSocket sensors', () => {
  let cloud: Mosquitto;
  let d: TestDaemon;
  let cloudClient: MqttClient;

  before(async () => {
    cloud = await Mosquitto.start();
    cloudClient = await connectOk(cloud.port, { clientId: 'cloud-ws-watch' });
    d = await startDaemon(
      bridgeConfig(
        `mqtt://127.0.0.1:${cloud.port}`,
        [rule('sensors/#', 'out', 1, '', 'site/'), rule('cmd/#', 'in', 1, '', 'site/')],
        {},
        {
          listeners: { ws: { enabled: true, host: '127.0.0.1', port: 0 } },
        },
      ),
    );
    await waitUntil(() => (d.daemon.status.snapshot().bridge as { state: string }).state === 'connected', { what: 'bridge connected' });
  });
  after(async () => {
    await end(cloudClient);
    await d?.stop();
    await cloud?.dispose();
  });

  it('carries a ws sensor publish to the cloud, and a cloud command to a ws subscriber', async () => {
    const wsPort = d.daemon.broker!.addresses().ws!.port;
    const cloudInbox = collector(cloudClient);
    await subscribe(cloudClient, 'site/sensors/#', 1);
    const s = await wsSensor(wsPort, 'ws-sensor', await sensorToken());
    const inbox = collector(s);
    await subscribe(s, 'cmd/ws-sensor', 1);
    await publish(s, 'sensors/ws-sensor/t', '21.5', { qos: 1 });
    await cloudInbox.waitFor(1);
    assert.deepEqual(cloudInbox.messages[0], { topic: 'site/sensors/ws-sensor/t', payload: '21.5', retain: false });

    // The cloud's subscription for the `in` rule is up once the bridge is connected.
    await waitUntil(() => inbox.messages.length > 0 || (void cloudClient.publish('site/cmd/ws-sensor', 'reboot', { qos: 1 }), false), {
      what: 'command over ws',
    });
    assert.equal(inbox.messages[0]!.topic, 'cmd/ws-sensor');
    assert.equal(inbox.messages[0]!.payload, 'reboot');
    await end(s);
  });
});

// MQTT 5 properties through the bridge, end to end: v5 sensors on the real daemon,
// a real Mosquitto cloud seen by v5 clients. Up, they survive the durable queue and
// a daemon restart, with the Message Expiry Interval counted down by the time
// queued (MQTT 5.0 section 3.3.2.3.3) on the daemon's hand-moved clock; a 3.1.1
// uplink drops them; down, a v5 local subscriber gets them.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, subscribe } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { cloudSubscriber5, inbox5, PROPS, publish5, type Received, sensor5 } from './mqtt5Support.js';
import { bridgeConfig, bridgeStatus, rule, sensor } from './support.js';

const dropped = async (d: TestDaemon, reason: string): Promise<number> =>
  (await d.daemon.metrics.bridgeDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

/** The properties a message arrived with, minus the expiry (checked on its own: it counts down). */
const carried = (m: Received | undefined): Record<string, unknown> => {
  const { messageExpiryInterval: _, ...rest } = m?.properties ?? {};
  return rest;
};

/** Moves the daemon's clock in small steps (its reconnect backoff runs on it) until the bridge is connected. */
async function connectOnFakeClock(d: TestDaemon, fake: FakeTimeSource): Promise<void> {
  await waitUntil(() => bridgeStatus(d.daemon).state === 'connected' || (fake.advance(100), false), { timeoutMs: 10_000, what: 'bridge connected' });
}

describe('bridge MQTT 5: properties up and down', function () {
  this.timeout(40_000);

  it("up: a v5 sensor's properties reach the cloud intact (queued QoS 1 and direct QoS 0)", async () => {
    const cloud = await Mosquitto.start();
    const sub = await cloudSubscriber5(cloud, 'up/data/#');
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')], { protocolVersion: 5 }));
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      const s = await sensor5(d.port);
      // A Topic Alias from the sensor is the sensor connection's own: it must not travel (the bridge never sends one up).
      assert.equal(await publish5(s, 'data/q1', 'one', { qos: 1, properties: { ...PROPS, messageExpiryInterval: 3600, topicAlias: 1 } }), 0);
      assert.equal(await publish5(s, 'data/q0', 'zero', { qos: 0, properties: PROPS }), 0);
      assert.equal(await publish5(s, 'data/plain', 'plain', { qos: 1 }), 0);
      await sub.inbox.waitFor((m) => m.length >= 3, 'three messages');
      const [one, zero, plain] = ['one', 'zero', 'plain'].map((p) => sub.inbox.messages.find((m) => m.payload === p));
      assert.deepEqual(carried(one), PROPS);
      const expiry = one!.properties!.messageExpiryInterval!;
      assert.ok(expiry >= 3599 && expiry <= 3600, `expiry ${expiry}`);
      assert.deepEqual(carried(zero), PROPS);
      assert.equal(zero!.properties!.messageExpiryInterval, undefined);
      assert.deepEqual(carried(plain), {});
      assert.equal(one!.topic, 'up/data/q1');
      await end(s);
    } finally {
      await end(sub.client);
      await d.stop();
      await cloud.dispose();
    }
  });

  it('up: queued while the cloud is down, kept across a daemon restart, sent with the remaining expiry; an expired one is dropped ("expired")', async () => {
    const cloud = await Mosquitto.start({ persistence: true });
    const sub = await cloudSubscriber5(cloud, 'up/data/#');
    const dataDir = tempDir();
    const config = bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')], { protocolVersion: 5 });
    const first = new FakeTimeSource(Date.now());
    let d = await startDaemon(config, { timeSource: first, dataDir });
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      await cloud.stop();
      await waitUntil(() => bridgeStatus(d.daemon).state !== 'connected', { what: 'bridge disconnected' });
      const s = await sensor5(d.port);
      assert.equal(await publish5(s, 'data/long', 'long', { qos: 1, properties: { ...PROPS, messageExpiryInterval: 100 } }), 0);
      assert.equal(await publish5(s, 'data/short', 'short', { qos: 1, properties: { ...PROPS, messageExpiryInterval: 10 } }), 0);
      assert.equal(await publish5(s, 'data/none', 'none', { qos: 1, properties: { contentType: 'text/plain' } }), 0);
      assert.equal(bridgeStatus(d.daemon).queue.messages, 3);
      await end(s);
      await d.stop();

      // The cloud comes back first (its subscriber's session with it), then the gateway, 30 s later.
      await cloud.restart();
      await waitUntil(() => sub.client.connected, { what: 'cloud subscriber back' });
      d = await startDaemon(config, { timeSource: new FakeTimeSource(first.systemNow() + 30_000), dataDir });
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected after restart' });
      await sub.inbox.waitFor((m) => m.some((x) => x.payload === 'none'), 'backlog delivered');
      await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 0, { what: 'queue empty' });
      const got = sub.inbox.messages;
      assert.deepEqual(
        got.map((m) => m.payload),
        ['long', 'none'],
      );
      assert.deepEqual(carried(got[0]), PROPS);
      // 100 s minus the 30 whole seconds spent queued (Mosquitto forwards what is left of it at once).
      const left = got[0].properties!.messageExpiryInterval!;
      assert.ok(left === 70 || left === 69, `remaining expiry ${left}`);
      assert.deepEqual(got[1].properties, { contentType: 'text/plain' });
      assert.equal(await dropped(d, 'expired'), 1);
      await waitUntil(() => d.logs.some((l) => (l.dropped as Record<string, { messages: number }> | undefined)?.expired?.messages === 1), {
        what: 'drop logged',
      });
    } finally {
      await end(sub.client);
      await d.stop();
      await cloud.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('up: a message whose expiry runs out in the queue is dropped as "expired", not sent (no restart)', async () => {
    const cloud = await Mosquitto.start({ persistence: true });
    const sub = await cloudSubscriber5(cloud, 'up/data/#');
    const fake = new FakeTimeSource(Date.now());
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')], { protocolVersion: 5 }), {
      timeSource: fake,
    });
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      await cloud.stop();
      await waitUntil(() => bridgeStatus(d.daemon).state !== 'connected', { what: 'bridge disconnected' });
      const s = await sensor5(d.port);
      assert.equal(await publish5(s, 'data/x', 'expires', { qos: 1, properties: { messageExpiryInterval: 5 } }), 0);
      assert.equal(await publish5(s, 'data/x', 'stays', { qos: 1, properties: { messageExpiryInterval: 60 } }), 0);
      fake.advance(5_000);
      await cloud.restart();
      await waitUntil(() => sub.client.connected, { what: 'cloud subscriber back' });
      await connectOnFakeClock(d, fake);
      await sub.inbox.waitFor((m) => m.some((x) => x.payload === 'stays'), 'the unexpired message');
      await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 0, { what: 'queue empty' });
      assert.deepEqual(
        sub.inbox.messages.map((m) => m.payload),
        ['stays'],
      );
      const left = sub.inbox.messages[0].properties!.messageExpiryInterval!;
      assert.ok(left <= 55 && left >= 45, `remaining expiry ${left}`);
      assert.equal(await dropped(d, 'expired'), 1);
      await end(s);
    } finally {
      await end(sub.client);
      await d.stop();
      await cloud.dispose();
    }
  });

  it('up: a 3.1.1 uplink carries the message without its properties, as before', async () => {
    const cloud = await Mosquitto.start();
    const sub = await cloudSubscriber5(cloud, 'up/data/#');
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')]));
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      const s = await sensor5(d.port);
      assert.equal(await publish5(s, 'data/q1', 'one', { qos: 1, properties: { ...PROPS, messageExpiryInterval: 60 } }), 0);
      assert.equal(await publish5(s, 'data/q0', 'zero', { qos: 0, properties: PROPS }), 0);
      await sub.inbox.waitFor((m) => m.length >= 2, 'both messages');
      for (const m of sub.inbox.messages) assert.deepEqual(m.properties ?? {}, {}, m.payload);
      await end(s);
    } finally {
      await end(sub.client);
      await d.stop();
      await cloud.dispose();
    }
  });

  it('down: a cloud message keeps its properties for a v5 local subscriber; a 3.1.1 one gets it without', async () => {
    const cloud = await Mosquitto.start();
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('cmd/#', 'in', 1, '', 'down/')], { protocolVersion: 5 }));
    const publisher = await connectOk(cloud.port, { clientId: 'cloud-pub-v5', protocolVersion: 5 });
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      const v5 = await sensor5(d.port, 'local-v5');
      const v4 = await sensor(d.port, 'local-v4');
      const in5 = inbox5(v5);
      const in4 = collector(v4);
      await subscribe(v5, 'cmd/#', 1);
      await subscribe(v4, 'cmd/#', 1);
      // The bridge's cloud subscription may still be on its way: publish until one arrives.
      let n = 0;
      const command = (): void => void publish5(publisher, 'down/cmd/set', `c-${n++}`, { qos: 1, properties: { ...PROPS, messageExpiryInterval: 600 } });
      await waitUntil(() => in5.messages.length > 0 || (command(), false), { what: 'a command down' });
      const m = in5.messages[0];
      assert.equal(m.topic, 'cmd/set');
      assert.deepEqual(carried(m), PROPS);
      const expiry = m.properties!.messageExpiryInterval;
      assert.ok(expiry !== undefined && expiry <= 600 && expiry >= 598, `expiry ${expiry}`);
      await in4.waitFor(1);
      assert.equal(in4.messages[0].topic, 'cmd/set');
      await end(v5, v4);
    } finally {
      await end(publisher);
      await d.stop();
      await cloud.dispose();
    }
  });
});

// The bridge against a real Mosquitto "cloud": rules with prefixes, both
// directions without loops, retained messages, state topics. That nothing more
// arrives (no stray copy, no echo) is shown by a marker sent after through the
// same path: MQTT keeps a publisher's messages in order, the bridge too.
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, publish, subscribe, takeMarker } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, rule, sensor } from './support.js';

describe('bridge topic rules against a real Mosquitto', () => {
  let cloud: Mosquitto;
  let d: TestDaemon;
  let cloudClient: MqttClient;
  let cloudInbox: ReturnType<typeof collector>;
  let local: MqttClient;

  before(async () => {
    cloud = await Mosquitto.start();
    cloudClient = await connectOk(cloud.port, { clientId: 'cloud-watch' });
    cloudInbox = collector(cloudClient);
    await subscribe(cloudClient, ['cloud/gw1/#', 'gw/#', 'edgegate/#'], 1);
    d = await startDaemon(
      bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [
        rule('sensors/#', 'out', 1, 'site/', 'cloud/gw1/'),
        rule('cmd/#', 'in', 1, 'local/', 'cloud/gw1/'),
        rule('sync/#', 'both', 1, '', 'gw/'),
        rule('telemetry/#', 'out', 0, '', 'gw/'),
      ]),
    );
    // The SUBSCRIBEs go before the retained `online`, so once the cloud has it the rules are active.
    await waitUntil(() => cloudInbox.messages.some((m) => m.topic === 'cloud/gw1/edgegate/gw-test/state' && m.payload === 'online'), { what: 'online state' });
    local = await sensor(d.port);
  });
  after(async () => {
    await end(local, cloudClient);
    await d?.stop();
    await cloud?.dispose();
  });

  it('publishes retained online on the cloud (first rule remotePrefix) and mirrors it locally', async () => {
    const watcher = await sensor(d.port, 'state-watch');
    const inbox = collector(watcher);
    await subscribe(watcher, '$SYS/edgegate/bridge/state', 1);
    await inbox.waitFor(1);
    assert.deepEqual(inbox.messages[0], { topic: '$SYS/edgegate/bridge/state', payload: 'online', retain: true });
    await end(watcher);
    assert.equal(bridgeStatus(d.daemon).state, 'connected');
  });

  it('out: local localPrefix+pattern goes to remotePrefix+pattern; other topics stay local', async () => {
    const before = cloudInbox.messages.length;
    await publish(local, 'other/sensors/t1', 'not-bridged', { qos: 1 });
    await publish(local, 'sensors/t1', 'no-prefix', { qos: 1 });
    await publish(local, 'site/sensors/t1', '21.5', { qos: 1 });
    await publish(local, 'telemetry/rssi', '-70', { qos: 0 });
    await waitUntil(() => cloudInbox.messages.length >= before + 2, { what: 'out messages' });
    await publish(local, 'site/sensors/marker', 'after', { qos: 1 });
    await takeMarker(cloudInbox.messages, (m) => m.topic === 'cloud/gw1/sensors/marker');
    const got = cloudInbox.messages.slice(before).map((m) => `${m.topic}=${m.payload}`);
    assert.deepEqual(got.sort(), ['cloud/gw1/sensors/t1=21.5', 'gw/telemetry/rssi=-70']);
  });

  it('in: remotePrefix+pattern on the cloud arrives at localPrefix+pattern locally', async () => {
    const inbox = collector(local);
    await subscribe(local, 'local/#', 1);
    await publish(cloudClient, 'cloud/gw1/cmd/valve', 'open', { qos: 1 });
    await publish(cloudClient, 'cloud/gw1/elsewhere', 'ignored', { qos: 1 });
    await inbox.waitFor(1);
    // The cloud watcher gets its own messages too: all of them are in before the next test counts.
    await publish(cloudClient, 'cloud/gw1/cmd/marker', 'after', { qos: 1 });
    await takeMarker(inbox.messages, (m) => m.topic === 'local/cmd/marker');
    await takeMarker(cloudInbox.messages, (m) => m.topic === 'cloud/gw1/cmd/marker');
    assert.deepEqual(
      inbox.messages.map((m) => `${m.topic}=${m.payload}`),
      ['local/cmd/valve=open'],
    );
    local.unsubscribe('local/#');
  });

  it("both: each side gets the other side's message exactly once, nothing loops back", async () => {
    const watcher = await sensor(d.port, 'sync-watch');
    const localInbox = collector(watcher);
    await subscribe(watcher, ['sync/#', 'local/cmd/marker'], 1);
    const before = cloudInbox.messages.length;
    await publish(local, 'sync/from-local', 'L', { qos: 1 });
    await publish(cloudClient, 'gw/sync/from-cloud', 'C', { qos: 1 });
    await localInbox.waitFor(2);
    await waitUntil(() => cloudInbox.messages.length >= before + 2, { what: 'cloud copies' });
    // An echo of C going out again, of L coming back in, would be ahead of these markers.
    await publish(local, 'site/sensors/marker', 'after', { qos: 1 });
    await publish(cloudClient, 'cloud/gw1/cmd/marker', 'after', { qos: 1 });
    await takeMarker(cloudInbox.messages, (m) => m.topic === 'cloud/gw1/sensors/marker');
    await takeMarker(cloudInbox.messages, (m) => m.topic === 'cloud/gw1/cmd/marker');
    await takeMarker(localInbox.messages, (m) => m.topic === 'local/cmd/marker');
    assert.deepEqual(localInbox.messages.map((m) => `${m.topic}=${m.payload}`).sort(), ['sync/from-cloud=C', 'sync/from-local=L']);
    assert.deepEqual(
      cloudInbox.messages
        .slice(before)
        .map((m) => `${m.topic}=${m.payload}`)
        .sort(),
      ['gw/sync/from-cloud=C', 'gw/sync/from-local=L'],
    );
    await end(watcher);
  });

  it('retained: cloud retained messages are retained locally, local retained ones on the cloud', async () => {
    await publish(cloudClient, 'cloud/gw1/cmd/config', 'interval=5', { qos: 1, retain: true });
    await publish(local, 'site/sensors/fw', 'v1.2', { qos: 1, retain: true });
    // Late subscribers on each side see them as retained messages.
    const lateLocal = await sensor(d.port, 'late-local');
    const li = collector(lateLocal);
    // Subscribed again until the message, retained on its way through the bridge, is there to be sent.
    await waitUntil(async () => li.messages.length > 0 || (await subscribe(lateLocal, 'local/cmd/config', 1), false), {
      what: 'retained locally',
      everyMs: 50,
    });
    await li.waitFor(1);
    assert.deepEqual(li.messages[0], { topic: 'local/cmd/config', payload: 'interval=5', retain: true });
    const lateCloud = await connectOk(cloud.port, { clientId: 'late-cloud' });
    const ci = collector(lateCloud);
    await waitUntil(async () => ci.messages.length > 0 || (await subscribe(lateCloud, 'cloud/gw1/sensors/fw', 1), false), {
      what: 'retained on the cloud',
      everyMs: 50,
    });
    await ci.waitFor(1);
    assert.deepEqual(ci.messages[0], { topic: 'cloud/gw1/sensors/fw', payload: 'v1.2', retain: true });
    await end(lateLocal, lateCloud);
  });

  it('on stop: offline on the cloud state topic and locally', async () => {
    const before = cloudInbox.messages.length;
    await d.stop();
    await waitUntil(() => cloudInbox.messages.slice(before).some((m) => m.topic === 'cloud/gw1/edgegate/gw-test/state' && m.payload === 'offline'), {
      what: 'offline state',
    });
  });
});

describe('bridge session and MQTT 5 against a real Mosquitto', function () {
  this.timeout(20_000);

  it('cleanSession false: cloud QoS 1 commands sent while the gateway was away arrive after it reconnects', async () => {
    const cloud = await Mosquitto.start({ persistence: true });
    const topics = [rule('cmd/#', 'in', 1, 'local/', 'cloud/gw1/')];
    let d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, topics));
    const dataDir = d.dataDir;
    const cloudClient = await connectOk(cloud.port, { clientId: 'cloud-cmd' });
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'connected' });
      // The bridge SUBSCRIBEs before it publishes its retained `online`: once that is on the cloud, so is the subscription.
      const state = collector(cloudClient);
      await subscribe(cloudClient, 'cloud/gw1/edgegate/gw-test/state', 1);
      await waitUntil(() => state.messages.some((m) => m.payload === 'online'), { what: 'online on the cloud' });
      await d.daemon.stop();
      await publish(cloudClient, 'cloud/gw1/cmd/reboot', 'now', { qos: 1 });
      d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, topics), { dataDir });
      // The queued command comes right after CONNACK: listen inside the daemon at once.
      const got: string[] = [];
      d.daemon.broker!.subscribeInternal('local/cmd/#', (p) => got.push(`${p.topic}=${p.payload.toString()}`));
      const inCount = async (): Promise<number> => (await d.daemon.metrics.bridgeForwarded.get()).values.find((v) => v.labels.direction === 'in')?.value ?? 0;
      await waitUntil(async () => (await inCount()) >= 1, { what: 'the queued command forwarded' });
      assert.equal(await inCount(), 1, 'the cloud kept the session and delivered the queued command');
      assert.deepEqual(got, ['local/cmd/reboot=now']);
    } finally {
      await end(cloudClient);
      await d.stop();
      await cloud.dispose();
    }
  });

  it('protocolVersion 5: out, in and both (noLocal: no echo)', async () => {
    const cloud = await Mosquitto.start();
    const watch = await connectOk(cloud.port, { clientId: 'cloud-v5', protocolVersion: 5 });
    const cloudInbox = collector(watch);
    await subscribe(watch, ['v5/#'], 1);
    const d = await startDaemon(
      bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('up/#', 'out', 1, '', 'v5/'), rule('sync/#', 'both', 1, '', 'v5/')], { protocolVersion: 5 }),
    );
    try {
      await waitUntil(() => cloudInbox.messages.some((m) => m.topic === 'v5/edgegate/gw-test/state' && m.payload === 'online'), { what: 'online' });
      const s = await sensor(d.port);
      const localInbox = collector(s);
      await subscribe(s, 'sync/#', 1);
      const before = cloudInbox.messages.length;
      await publish(s, 'up/t', '1', { qos: 1 });
      await publish(s, 'sync/a', 'L', { qos: 1 });
      await publish(watch, 'v5/sync/b', 'C', { qos: 1 });
      await localInbox.waitFor(2);
      await waitUntil(() => cloudInbox.messages.length >= before + 3, { what: 'cloud copies' });
      // Markers both ways: an echo (noLocal missing) would be ahead of them. The cloud watcher gets its own one too.
      await publish(s, 'up/marker', 'after', { qos: 1 });
      await publish(watch, 'v5/sync/marker', 'after', { qos: 1 });
      await takeMarker(cloudInbox.messages, (m) => m.topic === 'v5/up/marker');
      await takeMarker(cloudInbox.messages, (m) => m.topic === 'v5/sync/marker');
      await takeMarker(localInbox.messages, (m) => m.topic === 'sync/marker');
      assert.deepEqual(localInbox.messages.map((m) => `${m.topic}=${m.payload}`).sort(), ['sync/a=L', 'sync/b=C']);
      assert.deepEqual(
        cloudInbox.messages
          .slice(before)
          .map((m) => `${m.topic}=${m.payload}`)
          .sort(),
        ['v5/sync/a=L', 'v5/sync/b=C', 'v5/up/t=1'],
      );
      await end(s);
    } finally {
      await end(watch);
      await d.stop();
      await cloud.dispose();
    }
  });
});

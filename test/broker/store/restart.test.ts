// The broker's state across a restart of the daemon on the same data directory
// (an orderly stop, as `systemctl restart` does): retained messages, persistent
// sessions (MQTT 3.1.1 clean session 0, MQTT 5 session expiry) with their
// subscriptions and queued QoS 1 messages, inbound QoS 2 state; and the bounds:
// broker.queueLimit, broker.persistence.maxRetained, sessionExpirySec. Power cuts
// are in test/powercut/.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import type { ConfigOverrides } from '../../../src/config/types.js';
import { startDaemon, type TestDaemon, tempDir } from '../../helpers/daemon.js';
import { FakeTimeSource } from '../../helpers/fakeTimeSource.js';
import { collector, connectOk, end, publish, subscribe, takeMarker } from '../../helpers/mqtt.js';
import { hsToken } from '../../helpers/tokens.js';
import { waitUntil } from '../../helpers/wait.js';
import { connect5Ok, connectPacket5, RawV5 } from '../support/mqtt5.js';

const SECRET = 'broker-store-secret-0123456789abcdef';
const NOW = Math.floor(Date.now() / 1000) + 3600;

describe('broker state across a restart', function () {
  this.timeout(30_000);
  let dataDir: string;
  let time: FakeTimeSource;
  let d: TestDaemon | undefined;
  const token = (sub = 'dev'): Promise<string> => hsToken(SECRET, { sub, exp: Math.floor(time.systemNow() / 1000) + 3600 });
  const start = async (extra: ConfigOverrides = {}): Promise<TestDaemon> =>
    (d = await startDaemon({ auth: { jwt: { secret: SECRET } }, ...extra }, { timeSource: time, dataDir, keepDataDir: true }));
  const restart = async (extra: ConfigOverrides = {}): Promise<TestDaemon> => {
    await d?.stop();
    return start(extra);
  };
  const client = async (clientId: string, opts: Record<string, unknown> = {}): Promise<MqttClient> =>
    connectOk(d!.port, { username: 'u', password: await token(), clientId, ...opts });
  /** An MQTT 3.1.1 clean session 0 CONNECT: the client, with its messages collected from the start, and the CONNACK's session present flag. */
  const resume = async (clientId: string): Promise<{ c: MqttClient; sessionPresent: boolean; got: ReturnType<typeof collector> }> => {
    const c = mqtt.connect({
      host: '127.0.0.1',
      port: d!.port,
      protocolVersion: 4,
      clean: false,
      clientId,
      username: 'u',
      password: await token(),
      reconnectPeriod: 0,
    });
    const got = collector(c);
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => (c.once('connect', resolve), c.once('error', reject)));
    return { c, sessionPresent: connack.sessionPresent, got };
  };

  beforeEach(() => {
    dataDir = tempDir('edgegate-store-');
    time = new FakeTimeSource(NOW * 1000);
  });
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a retained QoS 1 message is there after a restart (as Mosquitto with persistence true)', async () => {
    await start();
    const pub = await client('retainer');
    await publish(pub, 'home/kitchen/temp', '21.5', { qos: 1, retain: true });
    await publish(pub, 'home/hall/temp', '19.0', { qos: 1, retain: true });
    await publish(pub, 'home/hall/temp', '', { qos: 1, retain: true }); // cleared [MQTT-3.3.1-10]
    await end(pub);
    await restart();
    const sub = await client('reader');
    const got = collector(sub);
    await subscribe(sub, 'home/#', 1);
    await got.waitFor(1);
    // A live message after the retained ones: a stray retained copy would come before it.
    await publish(sub, 'home/marker', 'after', { qos: 1 });
    await takeMarker(got.messages, (m) => m.topic === 'home/marker');
    assert.deepEqual(
      got.messages.map((m) => `${m.topic}=${m.payload}:${m.retain}`),
      ['home/kitchen/temp=21.5:true'],
    );
    await end(sub);
  });

  it('a persistent session (clean session 0) keeps its subscription and 5 queued QoS 1 messages: session present, 5 of 5', async () => {
    await start();
    const away = await client('persistent', { clean: false });
    await subscribe(away, 'alerts/#', 1);
    await end(away);
    const pub = await client('alerter');
    for (let i = 0; i < 5; i++) await publish(pub, `alerts/${i}`, `a${i}`, { qos: 1 });
    await end(pub);
    await restart();
    const { c: back, sessionPresent, got } = await resume('persistent');
    assert.equal(sessionPresent, true);
    await got.waitFor(5);
    assert.deepEqual(got.messages.map((m) => m.payload).sort(), ['a0', 'a1', 'a2', 'a3', 'a4']);
    await end(back);
  });

  it('an MQTT 5 session with a Session Expiry Interval comes back after a restart; once its interval has passed it is gone', async () => {
    await start();
    const v5 = await connect5Ok(d!.port, {
      username: 'u',
      password: await token(),
      clientId: 'v5-session',
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    });
    await subscribe(v5, 'v5/#', 1);
    v5.end(true);
    await waitUntil(() => !d!.daemon.broker!.clientOf('v5-session'), { what: 'the session closed' });
    const pub = await client('v5-pub');
    await publish(pub, 'v5/x', 'kept', { qos: 1 });
    await end(pub);
    await restart();
    const raw = await RawV5.open(d!.port);
    raw.send(connectPacket5('v5-session', { clean: false, username: 'u', password: Buffer.from(await token()), properties: { sessionExpiryInterval: 600 } }));
    assert.equal((await raw.next('connack')).sessionPresent, true);
    assert.equal(String((await raw.next('publish')).payload), 'kept');
    raw.end();
    await waitUntil(() => !d!.daemon.broker!.clientOf('v5-session'), { what: 'the session closed' });
    await restart();
    time.advance(601_000 + 60_000); // past the interval, and the next expiry sweep
    const again = await RawV5.open(d!.port);
    again.send(connectPacket5('v5-session', { clean: false, username: 'u', password: Buffer.from(await token()) }));
    assert.equal((await again.next('connack')).sessionPresent, false, 'expired while the gateway was down, ended at the next start');
    again.end();
  });

  it('an MQTT 3.1.1 persistent session that never comes back ends after broker.persistence.sessionExpirySec (counted)', async () => {
    await start({ broker: { persistence: { sessionExpirySec: 3600 } } });
    const gone = await client('never-back', { clean: false });
    await subscribe(gone, 'x/#', 1);
    await end(gone);
    await waitUntil(() => !d!.daemon.broker!.clientOf('never-back'), { what: 'the gateway saw it leave' });
    time.advance(3_600_000 + 60_000);
    await waitUntil(async () => ((await d!.daemon.metrics.brokerSessionsExpired.get()).values[0]?.value ?? 0) === 1, { what: 'expired' });
    const { c, sessionPresent } = await resume('never-back');
    assert.equal(sessionPresent, false, 'the session ended');
    await end(c);
  });

  it('broker.queueLimit: a session keeps the newest N queued messages, the older ones are dropped and counted', async () => {
    await start({ broker: { queueLimit: 3 } });
    const away = await client('bounded', { clean: false });
    await subscribe(away, 'q/#', 1);
    await end(away);
    const pub = await client('q-pub');
    for (let i = 0; i < 5; i++) await publish(pub, 'q/x', `m${i}`, { qos: 1 });
    await end(pub);
    const { c: back, got } = await resume('bounded');
    await got.waitFor(3);
    await publish(back, 'q/marker', 'after', { qos: 1 });
    await takeMarker(got.messages, (m) => m.topic === 'q/marker');
    assert.deepEqual(
      got.messages.map((m) => m.payload),
      ['m2', 'm3', 'm4'],
    );
    assert.equal((await d!.daemon.metrics.brokerQueueDropped.get()).values[0]?.value, 2);
    assert.ok(d!.logs.some((l) => String(l.msg).includes('broker.queueLimit reached')));
    await end(back);
  });

  it(
    'broker.persistence.maxRetained: a retained message on a new topic beyond ' + 'it is delivered but not kept (counted); existing topics still update',
    async () => {
      await start({ broker: { persistence: { maxRetained: 2 } } });
      const pub = await client('r-pub');
      for (const t of ['r/a', 'r/b', 'r/c']) await publish(pub, t, t, { qos: 1, retain: true });
      await publish(pub, 'r/a', 'a2', { qos: 1, retain: true });
      await end(pub);
      assert.equal((await d!.daemon.metrics.brokerRetainedDropped.get()).values[0]?.value, 1);
      const sub = await client('r-sub');
      const got = collector(sub);
      await subscribe(sub, 'r/#', 1);
      await got.waitFor(2);
      await publish(sub, 'r/marker', 'after', { qos: 1 });
      await takeMarker(got.messages, (m) => m.topic === 'r/marker');
      assert.deepEqual(got.messages.map((m) => `${m.topic}=${m.payload}`).sort(), ['r/a=a2', 'r/b=r/b']);
      await end(sub);
    },
  );

  it('inbound QoS 2: a message received (PUBREC) before a restart, sent again (DUP) and released after it, is delivered once', async () => {
    await start();
    const first = await resume('q2-sub');
    await subscribe(first.c, 'q2/#', 2);
    const raw = await RawV5.open(d!.port);
    raw.send(connectPacket5('q2-pub', { clean: false, username: 'u', password: Buffer.from(await token()), properties: { sessionExpiryInterval: 600 } }));
    await raw.next('connack');
    raw.send({ cmd: 'publish', topic: 'q2/once', payload: 'exactly-once', qos: 2, messageId: 7 });
    assert.equal((await raw.next('pubrec')).messageId, 7);
    await first.got.waitFor(1); // delivered on receipt (MQTT 5.0 section 4.3.3, method B)
    raw.end();
    await end(first.c);
    await restart();
    const again = await RawV5.open(d!.port);
    again.send(connectPacket5('q2-pub', { clean: false, username: 'u', password: Buffer.from(await token()), properties: { sessionExpiryInterval: 600 } }));
    await again.next('connack');
    // The client sends the PUBLISH again (DUP), then the PUBREL: the stored state says it is a duplicate [MQTT-4.3.3-2].
    again.send({ cmd: 'publish', topic: 'q2/once', payload: 'exactly-once', qos: 2, messageId: 7, dup: true });
    await again.next('pubrec');
    again.send({ cmd: 'pubrel', messageId: 7 });
    assert.equal((await again.next('pubcomp')).messageId, 7);
    // Queued for the offline subscriber behind a second copy, if there were one.
    again.send({ cmd: 'publish', topic: 'q2/marker', payload: 'after', qos: 1, messageId: 8 });
    await again.next('puback');
    const back = await resume('q2-sub');
    assert.equal(back.sessionPresent, true);
    await takeMarker(back.got.messages, (m) => m.topic === 'q2/marker');
    assert.deepEqual(
      back.got.messages.map((m) => m.payload),
      [],
      'not a second time',
    );
    again.end();
    await end(back.c);
  });
});

// MQTT 5 features as users expect them, with mqtt.js over real sockets: Session
// Expiry Interval, Message Expiry Interval (queued and retained messages expire; the
// remaining interval is sent on delivery), Topic Alias both ways, subscription
// options (No Local, Retain As Published, Retain Handling), properties passed
// through, and the Will Delay Interval. (aedes keeps session and message expiry and
// the will delay on its own wall clock, not the daemon's: those tests wait for aedes
// to act, a second of real time, never for a guessed period.)
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { subscribe, takeMarker } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { connect5Ok, connectPacket5, publish5, RawV5 } from './support/mqtt5.js';

const SECRET = 'mqtt5-features-secret-0123456789abcdef';

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
  properties: Record<string, unknown>;
}

function inbox(c: MqttClient): Received[] {
  const got: Received[] = [];
  c.on('message', (topic, payload, packet) =>
    got.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos, properties: (packet.properties ?? {}) as Record<string, unknown> }),
  );
  return got;
}

/** The daemon's aedes (private to the broker): its session and will timers, and what it stored. */
interface AedesView {
  delayedWills: Map<string, unknown>;
  on(event: 'sessionExpired', fn: (client: { id: string }) => void): void;
  off(event: 'sessionExpired', fn: (client: { id: string }) => void): void;
  persistence: { createRetainedStream(pattern: string): AsyncIterable<{ messageExpiry?: number }> };
}
const aedesOf = (d: TestDaemon): AedesView => (d.daemon.broker as unknown as { aedes: AedesView }).aedes;

describe('MQTT 5 features', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  const token = (): Promise<string> => hsToken(SECRET, { sub: 'v5', exp: nowSec() + 3600 });
  const client = async (clientId: string, opts: Record<string, unknown> = {}): Promise<MqttClient> =>
    connect5Ok(d.port, { username: 'u', password: await token(), clientId, ...opts });

  before(async () => (d = await startDaemon({ auth: { jwt: { secret: SECRET } } })));
  after(() => d.stop());

  it('user properties, content type, payload format indicator, response topic and correlation data pass through', async () => {
    const sub = await client('props-sub');
    const got = inbox(sub);
    await subscribe(sub, 'req/#', 1);
    const pub = await client('props-pub');
    const properties = {
      userProperties: { unit: 'celsius', tag: ['a', 'b'] },
      contentType: 'application/json',
      payloadFormatIndicator: true,
      responseTopic: 'resp/sensor-1',
      correlationData: Buffer.from([0, 1, 2, 255]),
    };
    await publish5(pub, 'req/temp', '{"t":21.5}', { qos: 1, properties });
    await waitUntil(() => got.length === 1, { what: 'the message' });
    const p = got[0]!.properties;
    assert.deepEqual({ ...(p.userProperties as object) }, properties.userProperties);
    assert.equal(p.contentType, 'application/json');
    assert.equal(p.payloadFormatIndicator, true);
    assert.equal(p.responseTopic, 'resp/sensor-1');
    assert.deepEqual(p.correlationData, properties.correlationData);
    sub.end(true);
    pub.end(true);
  });

  it('Session Expiry Interval: queued QoS 1 messages wait for a session that comes back in time; an expired one is gone', async () => {
    const keep = await client('keeper', { clean: false, properties: { sessionExpiryInterval: 300 } });
    await subscribe(keep, 'queue/#', 1);
    keep.end(true);
    await waitUntil(() => !d.daemon.broker!.clientOf('keeper'), { what: 'the session closed' });
    const pub = await client('queue-pub');
    for (let i = 0; i < 5; i++) await publish5(pub, `queue/${i}`, `m${i}`, { qos: 1 });
    const back = await client('keeper', { clean: false, properties: { sessionExpiryInterval: 300 } });
    assert.equal((back as unknown as { connack: { sessionPresent?: boolean } }).connack !== undefined, true);
    const got = inbox(back);
    await waitUntil(() => got.length === 5, { what: '5 queued messages' });
    assert.deepEqual(got.map((m) => m.payload).sort(), ['m0', 'm1', 'm2', 'm3', 'm4']);
    back.end(true);

    const brief = await client('brief', { clean: false, properties: { sessionExpiryInterval: 1 } });
    await subscribe(brief, 'queue/#', 1);
    let expired = false;
    const onExpired = (c: { id: string }): void => {
      if (c.id === 'brief') expired = true;
    };
    aedesOf(d).on('sessionExpired', onExpired);
    brief.end(true);
    await waitUntil(() => expired, { what: 'aedes to end the session after its 1 s interval' });
    aedesOf(d).off('sessionExpired', onExpired);
    await publish5(pub, 'queue/late', 'late', { qos: 1 });
    const again = await RawV5.open(d.port);
    again.send(connectPacket5('brief', { clean: false, username: 'u', password: Buffer.from(await token()) }));
    assert.equal((await again.next('connack')).sessionPresent, false, 'the session expired');
    again.end();
    pub.end(true);
  });

  it('Message Expiry Interval: a retained message is sent with what is left of its interval, and not at all once expired', async () => {
    const pub = await client('expiry-pub');
    await publish5(pub, 'retained/long', 'long', { qos: 1, retain: true, properties: { messageExpiryInterval: 600 } });
    await publish5(pub, 'retained/short', 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    // The instant aedes stamped on the stored copy: past it, the message has expired.
    let expiresAt = Infinity;
    for await (const p of aedesOf(d).persistence.createRetainedStream('retained/short')) expiresAt = p.messageExpiry ?? Infinity;
    await waitUntil(() => Date.now() > expiresAt, { what: 'retained/short to expire' });
    const sub = await client('expiry-sub');
    const got = inbox(sub);
    await subscribe(sub, 'retained/#', 1);
    await waitUntil(() => got.length >= 1, { what: 'the retained message' });
    // A live message after the retained ones: an expired copy sent anyway would come before it.
    await publish5(pub, 'retained/marker', 'after', { qos: 1 });
    await takeMarker(got, (m) => m.topic === 'retained/marker');
    assert.deepEqual(
      got.map((m) => m.payload),
      ['long'],
    );
    const left = got[0]!.properties.messageExpiryInterval as number;
    assert.ok(left <= 600 && left >= 598, `remaining interval ${left}`);
    sub.end(true);
    pub.end(true);
  });

  it('Topic Alias from the client: registered then used with an empty topic; an alias above the maximum gets DISCONNECT 0x94', async () => {
    const sub = await client('alias-sub');
    const got = inbox(sub);
    await subscribe(sub, 'alias/#', 1);
    const raw = await RawV5.open(d.port);
    raw.send(connectPacket5('alias-pub', { username: 'u', password: Buffer.from(await token()) }));
    assert.equal((await raw.next('connack')).properties?.topicAliasMaximum, 10);
    raw.send({ cmd: 'publish', topic: 'alias/long/topic/name', payload: 'one', qos: 1, messageId: 1, properties: { topicAlias: 3 } });
    await raw.next('puback');
    raw.send({ cmd: 'publish', topic: '', payload: 'two', qos: 1, messageId: 2, properties: { topicAlias: 3 } });
    await raw.next('puback');
    await waitUntil(() => got.length === 2, { what: 'two messages' });
    assert.deepEqual(
      got.map((m) => `${m.topic}=${m.payload}`),
      ['alias/long/topic/name=one', 'alias/long/topic/name=two'],
    );
    raw.send({ cmd: 'publish', topic: 'alias/x', payload: 'bad', qos: 0, properties: { topicAlias: 11 } });
    assert.equal((await raw.next('disconnect')).reasonCode, 0x94);
    await raw.whenClosed();
    sub.end(true);
  });

  it('Topic Alias towards a client that allows them: the first message names the topic, later ones only the alias', async () => {
    const raw = await RawV5.open(d.port);
    raw.send(connectPacket5('alias-in', { username: 'u', password: Buffer.from(await token()), properties: { topicAliasMaximum: 2 } }));
    await raw.next('connack');
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fan/#', qos: 0 }] });
    await raw.next('suback');
    const pub = await client('alias-out-pub');
    for (const t of ['fan/a', 'fan/a', 'fan/b', 'fan/c', 'fan/a']) await publish5(pub, t, 'x', { qos: 1 });
    const seen: Array<[string, unknown]> = [];
    for (let i = 0; i < 5; i++) {
      const p = await raw.next('publish');
      seen.push([p.topic as string, p.properties?.topicAlias]);
    }
    // Two aliases allowed: fan/a -> 1, fan/b -> 2, fan/c in full.
    assert.deepEqual(seen, [
      ['fan/a', 1],
      ['', 1],
      ['fan/b', 2],
      ['fan/c', undefined],
      ['', 1],
    ]);
    raw.end();
    pub.end(true);
  });

  it('subscription options: No Local, Retain As Published, Retain Handling 0, 1 and 2', async () => {
    const pub = await client('opts-pub');
    await publish5(pub, 'opts/retained', 'kept', { qos: 1, retain: true });
    const c = await client('opts-sub');
    const got = inbox(c);
    await new Promise<void>((resolve, reject) => c.subscribe('opts/#', { qos: 1, nl: true, rap: true, rh: 0 }, (err) => (err ? reject(err) : resolve())));
    await waitUntil(() => got.length === 1, { what: 'the retained message (rh 0)' });
    assert.equal(got[0]!.retain, true);
    await publish5(c, 'opts/own', 'mine', { qos: 1 }); // No Local: not back to me
    await publish5(pub, 'opts/live', 'live', { qos: 1, retain: true }); // Retain As Published: the flag stays
    await waitUntil(() => got.some((m) => m.topic === 'opts/live'), { what: 'the live message' });
    assert.equal(got.find((m) => m.topic === 'opts/live')!.retain, true);
    assert.ok(!got.some((m) => m.topic === 'opts/own'), 'No Local');
    // rh 1: retained messages only for a new subscription; rh 2: never.
    const before = got.length;
    await new Promise<void>((resolve, reject) => c.subscribe('opts/#', { qos: 1, rh: 1 }, (err) => (err ? reject(err) : resolve())));
    const fresh = await client('opts-rh');
    const freshGot = inbox(fresh);
    await new Promise<void>((resolve, reject) => fresh.subscribe('opts/retained', { qos: 1, rh: 2 }, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => fresh.subscribe('opts/live', { qos: 1, rh: 1 }, (err) => (err ? reject(err) : resolve())));
    await waitUntil(() => freshGot.length === 1, { what: 'rh 1 on a new subscription' });
    assert.deepEqual(
      freshGot.map((m) => m.topic),
      ['opts/live'],
    );
    assert.equal(got.length, before, 'rh 1 on an existing subscription sends nothing');
    for (const x of [c, pub, fresh]) x.end(true);
  });

  it('Will Delay Interval: the will waits; a reconnect within the delay cancels it', async () => {
    const watcher = await client('will-watch');
    const wills = inbox(watcher);
    await subscribe(watcher, 'wills/#', 1);
    const will = (topic: string) => ({
      will: { topic, payload: Buffer.from('gone'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } },
      properties: { sessionExpiryInterval: 60 },
    });
    const dies = await client('dies', will('wills/dies'));
    const returns = await client('returns', will('wills/returns'));
    dies.stream.destroy();
    returns.stream.destroy();
    // Both wills held back (not published at the close), and a marker after them: nothing came first.
    await waitUntil(() => aedesOf(d).delayedWills.has('dies') && aedesOf(d).delayedWills.has('returns'), { what: 'the broker to delay both wills' });
    await d.daemon.broker!.publishInternal({ topic: 'wills/marker', payload: Buffer.from('after'), qos: 1 }, 'test');
    await takeMarker(wills, (w) => w.topic === 'wills/marker');
    assert.equal(wills.length, 0, 'not before the delay');
    const back = await client('returns', { clean: false, properties: { sessionExpiryInterval: 60 } });
    await waitUntil(() => wills.length === 1, { what: 'the delayed will' });
    // No will is pending any more (the reconnect cancelled the other), and whatever was published has arrived.
    await waitUntil(() => aedesOf(d).delayedWills.size === 0, { what: 'no will left pending' });
    await d.daemon.broker!.publishInternal({ topic: 'wills/marker', payload: Buffer.from('after'), qos: 1 }, 'test');
    await takeMarker(wills, (w) => w.topic === 'wills/marker');
    assert.deepEqual(
      wills.map((w) => w.topic),
      ['wills/dies'],
    );
    back.end(true);
    watcher.end(true);
  });
});

// Last-will messages of local sensors against a real Mosquitto "cloud": a will
// published at an abrupt close is authorized against the ACL of the token the
// sensor connected with, reaches local subscribers and goes up an `out` rule
// through the durable queue (also across a cloud outage); a clean DISCONNECT, a
// forbidden will topic and a revoked token publish nothing; aedes's sweep of
// persisted wills never publishes the will of a connected sensor.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Client } from 'aedes';
import type { IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { Session } from '../../src/auth/authenticator.js';
import { SessionRegistry } from '../../src/broker/sessions.js';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { closed, collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, cloudSubscriber, rule, SECRET, sensorToken } from './support.js';

const REVOCATIONS = 'cloud/revocations';

type Will = NonNullable<IClientOptions['will']>;
const will = (topic: string, payload: string, extra: Partial<Will> = {}): Will => ({ topic, payload: Buffer.from(payload), qos: 1, retain: false, ...extra });

/** Closes the sensor's socket without a DISCONNECT (power cut, crash, radio gone). */
function kill(client: MqttClient, how: 'fin' | 'rst' = 'fin'): void {
  const stream = (client as unknown as { stream: { destroy(): void; resetAndDestroy(): void } }).stream;
  if (how === 'rst') stream.resetAndDestroy();
  else stream.destroy();
  client.end(true);
}

const aclDenied = async (d: TestDaemon): Promise<number> =>
  (await d.daemon.metrics.aclDenied.get()).values.find((v) => v.labels.action === 'publish')?.value ?? 0;

describe('bridge: last-will messages of local sensors', function () {
  this.timeout(30_000);
  let cloud: Mosquitto;
  let d: TestDaemon;
  let sub: Awaited<ReturnType<typeof cloudSubscriber>>;
  let watcher: MqttClient;
  let local: ReturnType<typeof collector>;
  let marks = 0;

  const sensorWith = async (clientId: string, w: Will, claims: Record<string, unknown> = {}): Promise<MqttClient> => {
    const password =
      Object.keys(claims).length === 0 ? await sensorToken() : await hsToken(SECRET, { sub: 'sensor', iat: nowSec(), exp: nowSec() + 3600, ...claims });
    const c = await connectOk(d.port, { clientId, username: 'sensor', password, will: w });
    // A subscription, as a sensor listening for its commands has: aedes then
    // unsubscribes it asynchronously before it publishes the will.
    assert.deepEqual(await subscribe(c, `cmd/${clientId}/#`, 1), [1]);
    return c;
  };

  /** An allowed publish through the same paths: whatever was published before it has arrived on both sides once it has. */
  const flush = async (): Promise<void> => {
    const payload = `mark-${++marks}`;
    const s = await connectOk(d.port, { clientId: `marker-${marks}`, username: 'sensor', password: await sensorToken() });
    await publish(s, 'sensors/marker', payload, { qos: 1 });
    await end(s);
    await waitUntil(() => local.messages.some((m) => m.payload === payload), { what: 'marker locally' });
    await waitUntil(() => sub.inbox.messages.some((m) => m.payload === payload), { timeoutMs: 10_000, what: 'marker on the cloud' });
  };
  // The marker's own session goes once the gateway has seen its connection close, which may follow its messages' arrival.
  const onlyWatcherLeft = (): Promise<void> => waitUntil(() => d.daemon.broker!.sessions.size() === 1, { what: 'only the watcher holding a session' });
  const localWills = (): string[] => local.messages.filter((m) => m.topic !== 'sensors/marker').map((m) => `${m.topic}=${m.payload}`);
  const cloudWills = (): string[] => [
    ...new Set(sub.inbox.messages.filter((m) => m.topic !== 'cloud/gw1/sensors/marker').map((m) => `${m.topic}=${m.payload}`)),
  ];

  before(async () => {
    cloud = await Mosquitto.start({ persistence: true });
    sub = await cloudSubscriber(cloud, 'cloud/gw1/sensors/#', 'will-cloud-sub');
    d = await startDaemon(
      bridgeConfig(
        `mqtt://127.0.0.1:${cloud.port}`,
        [rule('sensors/#', 'out', 1, '', 'cloud/gw1/')],
        {},
        {
          auth: { jwt: { secret: SECRET, clockToleranceSec: 0 }, revocation: { topic: REVOCATIONS, requireSigned: false } },
        },
      ),
    );
    await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
    watcher = await connectOk(d.port, { clientId: 'will-watch', username: 'sensor', password: await sensorToken() });
    local = collector(watcher);
    assert.deepEqual(await subscribe(watcher, 'sensors/#', 1), [1]);
  });
  beforeEach(async () => {
    await flush();
    local.messages.length = 0;
    sub.inbox.messages.length = 0;
  });
  after(async () => {
    await end(watcher, sub?.client);
    await d?.stop();
    await cloud?.dispose();
  });

  for (const how of ['fin', 'rst'] as const)
    it(
      `abrupt close (${how === 'fin' ? 'socket destroyed' : 'TCP reset'}): the ` +
        `will reaches local subscribers and the cloud (remotePrefix of the out rule)`,
      async () => {
        const id = `w1-${how}`;
        const s = await sensorWith(id, will(`sensors/${id}/status`, `gone-${id}`));
        kill(s, how);
        await waitUntil(() => localWills().length > 0, { what: 'will locally' });
        await waitUntil(() => cloudWills().length > 0, { timeoutMs: 10_000, what: 'will on the cloud' });
        await flush();
        assert.deepEqual(localWills(), [`sensors/${id}/status=gone-${id}`]);
        assert.deepEqual(cloudWills(), [`cloud/gw1/sensors/${id}/status=gone-${id}`]);
        await onlyWatcherLeft(); // the will's session was released too
      },
    );

  it('clean DISCONNECT: no will anywhere (MQTT 3.1.1 section 3.14.4)', async () => {
    const s = await sensorWith('w2', will('sensors/w2/status', 'gone-w2'));
    await new Promise<void>((resolve) => s.end(false, {}, () => resolve())); // sends DISCONNECT
    await flush();
    assert.deepEqual(localWills(), []);
    assert.deepEqual(cloudWills(), []);
  });

  it('a will the token ACL forbids (topic, or retain) is dropped and counted: not delivered, not bridged', async () => {
    const before = await aclDenied(d);
    const acl = [
      { permission: 'deny', action: 'publish', topic: 'sensors/%c/#', retain: true },
      { permission: 'allow', action: 'publish', topic: 'sensors/%c/#' },
      { permission: 'allow', action: 'subscribe', topic: 'cmd/%c/#' },
    ];
    const other = await sensorWith('w3', will('sensors/someone-else/status', 'forged'), { acl });
    const retained = await sensorWith('w4', will('sensors/w4/status', 'retained', { retain: true }), { acl });
    kill(other);
    kill(retained);
    await waitUntil(() => d.logs.filter((l) => l.msg === 'publish denied by ACL' && l.will === true).length >= 2, { what: 'two denials logged' });
    await flush();
    assert.deepEqual(localWills(), []);
    assert.deepEqual(cloudWills(), []);
    assert.equal(await aclDenied(d), before + 2);
    await onlyWatcherLeft();
  });

  it('cloud down when the sensor dies: the will is queued durably and reaches the cloud once it is back', async () => {
    const s = await sensorWith('w5', will('sensors/w5/status', 'gone-w5'));
    await cloud.stop();
    await waitUntil(() => bridgeStatus(d.daemon).state !== 'connected', { what: 'bridge disconnected' });
    kill(s);
    await waitUntil(() => localWills().length > 0, { what: 'will locally' });
    await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 1, { what: 'will queued' });
    await cloud.restart();
    await waitUntil(() => cloudWills().length > 0, { timeoutMs: 15_000, what: 'will on the cloud after the outage' });
    await flush();
    assert.deepEqual(cloudWills(), ['cloud/gw1/sensors/w5/status=gone-w5']);
    await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 0, { what: 'queue drained' });
  });

  it('disconnected by the gateway at token expiry: the will is published (the server closed the connection)', async () => {
    const s = await sensorWith('w6', will('sensors/w6/status', 'expired-w6'), { exp: nowSec() + 2 });
    await closed(s, 5000);
    await waitUntil(() => cloudWills().length > 0, { timeoutMs: 10_000, what: 'will on the cloud' });
    await flush();
    assert.deepEqual(localWills(), ['sensors/w6/status=expired-w6']);
    assert.deepEqual(cloudWills(), ['cloud/gw1/sensors/w6/status=expired-w6']);
    assert.ok(d.logs.some((l) => l.msg === 'disconnecting client' && l.clientId === 'w6' && l.reason === 'JWT_EXPIRED'));
  });

  it('disconnected because its token was revoked: the will is not published', async () => {
    const s = await sensorWith('w7', will('sensors/w7/status', 'revoked-w7'), { jti: 'will-jti-7' });
    await d.daemon.broker!.publishInternal({ topic: REVOCATIONS, payload: Buffer.from(JSON.stringify({ jti: 'will-jti-7' })), qos: 1 }, 'bridge');
    await closed(s, 5000);
    await waitUntil(() => d.logs.some((l) => l.msg === 'will dropped: token revoked' && l.clientId === 'w7'), { what: 'will dropped' });
    await flush();
    assert.deepEqual(localWills(), []);
    assert.deepEqual(cloudWills(), []);
    await onlyWatcherLeft();
  });

  it('aedes\'s sweep of "dead brokers" wills (after a wall-clock step) publishes nothing; the sensor\'s own will still goes at its close', async () => {
    const s = await sensorWith('w8', will('sensors/w8/status', 'gone-w8'));
    // What aedes.js _clearWills does with each persisted will: authorizePublish, then publish.
    const aedes = (
      d.daemon.broker as unknown as {
        aedes: { authorizePublish(c: Client | null, p: unknown, cb: (err?: Error | null) => void): void; publish(p: unknown, cb: () => void): void };
      }
    ).aedes;
    const client = d.daemon.broker!.clientOf('w8')!;
    const sweep = async (c: Client | null, p: unknown): Promise<void> => {
      await new Promise<void>((resolve, reject) => aedes.authorizePublish(c, p, (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve) => aedes.publish(p, () => resolve()));
    };
    const persisted = (client as unknown as { will: Record<string, unknown> }).will; // the memory store keeps this very object
    await sweep(client, persisted);
    await sweep(null, { ...persisted, clientId: 'long-gone' });
    await flush();
    assert.deepEqual(localWills(), []);
    assert.deepEqual(cloudWills(), []);
    assert.ok(s.connected);
    kill(s);
    await waitUntil(() => cloudWills().length > 0, { timeoutMs: 10_000, what: 'will on the cloud' });
    await flush();
    assert.deepEqual(localWills(), ['sensors/w8/status=gone-w8']);
    assert.deepEqual(cloudWills(), ['cloud/gw1/sensors/w8/status=gone-w8']);
  });
});

describe("SessionRegistry: a closed connection's session kept for its will", () => {
  const registry = (): SessionRegistry => new SessionRegistry(new GatewayClock(new FakeTimeSource(Date.now())), false, pino({ level: 'silent' }));
  const session = { clientId: 'c', acl: {}, expiresAtMs: null, payload: {} } as unknown as Session;
  const fakeClient = (will: unknown): Client & { conn: EventEmitter; _disconnected: boolean } =>
    ({ id: 'c', conn: new EventEmitter(), will, _disconnected: false }) as unknown as Client & { conn: EventEmitter; _disconnected: boolean };

  it('socket closed before aedes asks for the will: the session is handed out once, then released', () => {
    const r = registry();
    const c = fakeClient({ topic: 't', payload: Buffer.from('x'), qos: 0, retain: false });
    r.add(c, session);
    c.conn.emit('close');
    assert.equal(r.size(), 0, 'no longer a live session');
    assert.equal(r.get(c), undefined, 'nothing else may use it');
    assert.equal(r.willSession(c)?.session, session);
    assert.equal(r.willSession(c), undefined, 'released once taken');
    r.stop();
  });

  it('nothing is kept without a will or after a DISCONNECT', () => {
    const r = registry();
    const none = fakeClient(null);
    const clean = fakeClient({ topic: 't', payload: Buffer.from('x'), qos: 0, retain: false });
    clean._disconnected = true;
    for (const c of [none, clean]) {
      r.add(c, session);
      c.conn.emit('close');
      assert.equal(r.willSession(c), undefined);
    }
    r.stop();
  });

  it('disconnected by the gateway: kept for the will, withheld after a revocation', () => {
    const r = registry();
    const expired = fakeClient({ topic: 't', payload: Buffer.from('x'), qos: 0, retain: false });
    const revoked = fakeClient({ topic: 't', payload: Buffer.from('y'), qos: 0, retain: false });
    let closes = 0;
    for (const c of [expired, revoked]) (c as unknown as { close(): void }).close = () => void closes++;
    r.add(expired, session);
    assert.equal(
      r.disconnectWhere(() => true, 'JWT_EXPIRED'),
      1,
    );
    r.add(revoked, session);
    assert.equal(
      r.disconnectWhere(() => true, 'JWT_REVOKED'),
      1,
    );
    assert.equal(closes, 2);
    assert.deepEqual(r.willSession(expired), { session, withheld: undefined });
    assert.deepEqual(r.willSession(revoked), { session, withheld: 'JWT_REVOKED' });
    assert.equal(r.size(), 0);
    r.stop();
  });
});

// The token's ACL claim over real connections: publish allow/deny with both
// aclDenyAction values, subscribe allow/deny (SUBACK 0x80, nothing received),
// filter containment, defaultAcl, %u/%c placeholders, the EMQX 5 rule-list
// form and a custom aclClaim name.
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { closed, collector, connect, end, publish, subscribe, takeMarker } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { acceptedClient, expectRefused, uniqueId, waitForLog } from './support/expect.js';

const SECRET = 'acl-test-secret-0123456789abcdef';
const tok = (extra: Record<string, unknown>): Promise<string> => hsToken(SECRET, { sub: 's', exp: nowSec() + 600, ...extra });

/** A watcher allowed everything (no ACL claim, defaultAcl allow) that collects what is delivered. */
async function watcher(d: TestDaemon, filter = '#'): Promise<{ client: MqttClient; got: ReturnType<typeof collector> }> {
  const client = await acceptedClient(d, await tok({}), { clientId: uniqueId('watch') });
  const got = collector(client);
  assert.deepEqual(await subscribe(client, filter, 1), [1]);
  return { client, got };
}

/** Publishes a marker that is allowed, waits for it: anything published before it has been routed by then. */
async function flush(d: TestDaemon, w: { got: ReturnType<typeof collector> }): Promise<void> {
  const n = w.got.messages.length;
  // QoS 1 as the messages it follows: a QoS 0 marker skips the queue a QoS 1 delivery waits in.
  await d.daemon.broker!.publishInternal({ topic: 'marker/flush', payload: Buffer.from(String(n)), qos: 1 }, 'test');
  await w.got.waitFor(n + 1);
}

/** A QoS 1 marker through the broker after what a test checks, taken out of `got` once there (see takeMarker). */
async function passMarker(d: TestDaemon, got: ReturnType<typeof collector>, topic: string): Promise<void> {
  await d.daemon.broker!.publishInternal({ topic, payload: Buffer.from('marker'), qos: 1 }, 'test');
  await takeMarker(got.messages, (m) => m.topic === topic);
}

// Rate limiting is off here: this suite's many deliberate refusals all come from
// 127.0.0.1 and would otherwise get it banned (rate limiting has its own tests).
describe('token ACL over TCP', () => {
  const clients: Array<MqttClient | undefined> = [];
  const daemons: TestDaemon[] = [];
  const start = async (overrides: Record<string, unknown> = {}, jwt: Record<string, unknown> = {}): Promise<TestDaemon> => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET, ...jwt }, rateLimit: { maxFailures: 0 }, ...overrides } });
    daemons.push(d);
    return d;
  };
  afterEach(async () => end(...clients.splice(0)));
  after(() => Promise.all(daemons.map((d) => d.stop())));

  describe('publish, aclDenyAction = ignore (default)', () => {
    let d: TestDaemon;
    before(async () => (d = await start()));

    it('delivers an allowed publish (%c in a pub filter)', async () => {
      const w = await watcher(d);
      const c = await acceptedClient(d, await tok({ acl: { pub: ['sensors/%c/#'] } }), { clientId: 'c1' });
      clients.push(w.client, c);
      await publish(c, 'sensors/c1/temp', '21.5', { qos: 1 });
      await w.got.waitFor(1);
      assert.deepEqual(w.got.messages[0], { topic: 'sensors/c1/temp', payload: '21.5', retain: false });
    });

    it('acknowledges a denied QoS 1 publish, keeps the connection and delivers nothing', async () => {
      const w = await watcher(d);
      const c = await acceptedClient(d, await tok({ acl: { pub: ['sensors/%c/#'] } }), { clientId: 'c1' });
      clients.push(w.client, c);
      await publish(c, 'sensors/c2/temp', 'spoofed', { qos: 1 }); // resolves on PUBACK
      await publish(c, 'actuators/valve', 'open', { qos: 0 });
      await publish(c, 'sensors/c1/ok', 'fine', { qos: 1 });
      await flush(d, w);
      assert.ok(c.connected, 'connection stays open');
      assert.deepEqual(
        w.got.messages.map((m) => m.topic),
        ['sensors/c1/ok', 'marker/flush'],
      );
      const denied = d.logs.filter((l) => l.msg === 'publish denied by ACL' && l.clientId === 'c1');
      assert.deepEqual(
        denied.map((l) => l.topic),
        ['sensors/c2/temp', 'actuators/valve'],
      );
    });

    it('a denied retained publish is not stored as retained', async () => {
      const c = await acceptedClient(d, await tok({ acl: { pub: ['sensors/%c/#'] } }), { clientId: 'c1' });
      clients.push(c);
      await publish(c, 'retained/x', 'r', { qos: 1, retain: true });
      const w = await watcher(d, 'retained/#');
      clients.push(w.client);
      assert.deepEqual(await subscribe(w.client, 'marker/#', 1), [1]);
      await flush(d, { got: w.got });
      assert.equal(w.got.messages.filter((m) => m.topic === 'retained/x').length, 0);
    });

    it('nobody can subscribe to the denied sink or publish to $SYS', async () => {
      const c = await acceptedClient(d, await tok({}));
      clients.push(c);
      assert.deepEqual(await subscribe(c, '$edgegate/denied', 1), [128]);
      assert.deepEqual(await subscribe(c, '$edgegate/#', 1), [128]);
      const w = await watcher(d, '$SYS/#');
      clients.push(w.client);
      assert.deepEqual(await subscribe(w.client, 'marker/#', 1), [1]);
      await publish(c, '$SYS/edgegate/fake', 'x', { qos: 1 });
      await passMarker(d, w.got, 'marker/sys');
      assert.equal(w.got.messages.filter((m) => m.topic === '$SYS/edgegate/fake').length, 0);
      assert.ok(c.connected);
    });
  });

  describe('will messages', () => {
    it('a will is published only when the ACL allows its topic', async () => {
      const d = await start();
      const w = await watcher(d);
      clients.push(w.client);
      const t = await tok({ acl: { pub: ['ok/#'] } });
      const allowed = await acceptedClient(d, t, { clientId: 'will-ok', will: { topic: 'ok/will', payload: Buffer.from('gone'), qos: 1, retain: false } });
      const denied = await acceptedClient(d, t, { clientId: 'will-evil', will: { topic: 'evil/will', payload: Buffer.from('gone'), qos: 1, retain: true } });
      // Abrupt loss of the connection (no DISCONNECT): the broker publishes the wills.
      (allowed as unknown as { stream: { destroy(): void } }).stream.destroy();
      (denied as unknown as { stream: { destroy(): void } }).stream.destroy();
      await w.got.waitFor(1);
      await waitForLog(d, (l) => l.msg === 'publish denied by ACL' && l.clientId === 'will-evil');
      await flush(d, w);
      assert.deepEqual(
        w.got.messages.map((m) => m.topic),
        ['ok/will', 'marker/flush'],
      );
    });
  });

  describe('publish, aclDenyAction = disconnect', () => {
    it('closes the connection on a denied publish, not on an allowed one', async () => {
      const d = await start({ aclDenyAction: 'disconnect' });
      const w = await watcher(d);
      const c = await acceptedClient(d, await tok({ acl: { pub: ['sensors/%c/#'] } }), { clientId: 'c1' });
      clients.push(w.client, c);
      await publish(c, 'sensors/c1/a', '1', { qos: 1 });
      await w.got.waitFor(1);
      assert.ok(c.connected);
      c.publish('sensors/c2/a', '2', { qos: 1 });
      await closed(c);
      await flush(d, w);
      assert.deepEqual(
        w.got.messages.map((m) => m.topic),
        ['sensors/c1/a', 'marker/flush'],
      );
    });
  });

  describe('subscribe', () => {
    let d: TestDaemon;
    before(async () => (d = await start()));

    it('grants filters contained in a sub filter and refuses the rest with 0x80', async () => {
      const c = await acceptedClient(d, await tok({ acl: { sub: ['cmd/%c/#'] } }), { clientId: 'c1' });
      clients.push(c);
      assert.deepEqual(await subscribe(c, 'cmd/c1/#', 1), [1]);
      assert.deepEqual(await subscribe(c, 'cmd/c1/x/+', 1), [1]);
      assert.deepEqual(await subscribe(c, 'cmd/c1', 0), [0]);
      assert.deepEqual(await subscribe(c, 'cmd/#', 1), [128]);
      assert.deepEqual(await subscribe(c, 'cmd/+/x', 1), [128]);
      assert.deepEqual(await subscribe(c, 'cmd/c2/x', 1), [128]);
      assert.deepEqual(await subscribe(c, '#', 1), [128]);
      assert.deepEqual(await subscribe(c, ['cmd/c1/y', 'cmd/c3/y'], 1), [1, 128]);
    });

    it('a refused subscription receives nothing', async () => {
      const c = await acceptedClient(d, await tok({ acl: { sub: ['cmd/%c/#'] } }), { clientId: 'c1' });
      clients.push(c);
      const got = collector(c);
      assert.deepEqual(await subscribe(c, 'cmd/#', 1), [128]);
      assert.deepEqual(await subscribe(c, 'cmd/c1/x/+', 1), [1]);
      await d.daemon.broker!.publishInternal({ topic: 'cmd/c2/x', payload: Buffer.from('not for c1'), qos: 1 }, 'test');
      await d.daemon.broker!.publishInternal({ topic: 'cmd/c1/x/go', payload: Buffer.from('for c1'), qos: 1 }, 'test');
      await got.waitFor(1);
      await passMarker(d, got, 'cmd/c1/x/marker');
      assert.deepEqual(
        got.messages.map((m) => m.topic),
        ['cmd/c1/x/go'],
      );
      assert.ok(d.logs.some((l) => l.msg === 'subscription denied by ACL' && l.filter === 'cmd/#'));
    });

    it('an "all" filter grants both publish and subscribe', async () => {
      const c = await acceptedClient(d, await tok({ acl: { all: ['room/%c/#'] } }), { clientId: 'c7' });
      clients.push(c);
      const got = collector(c);
      assert.deepEqual(await subscribe(c, 'room/c7/#', 1), [1]);
      await publish(c, 'room/c7/light', 'on', { qos: 1 });
      await publish(c, 'room/c8/light', 'on', { qos: 1 });
      await got.waitFor(1);
      await publish(c, 'room/c7/marker', 'after', { qos: 1 });
      await takeMarker(got.messages, (m) => m.topic === 'room/c7/marker');
      assert.deepEqual(
        got.messages.map((m) => m.topic),
        ['room/c7/light'],
      );
    });
  });

  describe('persistent sessions', () => {
    it('restored subscriptions are re-checked against the new token: a narrower token loses them', async () => {
      const d = await start();
      const broad = await tok({ acl: { sub: ['a/#'] } });
      const narrow = await tok({ acl: { sub: ['b/#'] } });
      const first = await acceptedClient(d, broad, { clientId: 'persist', clean: false });
      assert.deepEqual(await subscribe(first, 'a/#', 1), [1]);
      await end(first);
      const again = await acceptedClient(d, narrow, { clientId: 'persist', clean: false });
      clients.push(again);
      const got = collector(again);
      assert.deepEqual(await subscribe(again, 'b/#', 1), [1]);
      await d.daemon.broker!.publishInternal({ topic: 'a/x', payload: Buffer.from('old grant'), qos: 1 }, 'test');
      await d.daemon.broker!.publishInternal({ topic: 'b/x', payload: Buffer.from('new grant'), qos: 1 }, 'test');
      await got.waitFor(1);
      await passMarker(d, got, 'b/marker');
      assert.deepEqual(
        got.messages.map((m) => m.topic),
        ['b/x'],
      );
    });
  });

  describe('%u placeholders', () => {
    let d: TestDaemon;
    before(async () => (d = await start()));
    it('expands %u to the username', async () => {
      const c = await acceptedClient(d, await tok({ acl: { all: ['users/%u/#'] } }), { username: 'alice' });
      clients.push(c);
      assert.deepEqual(await subscribe(c, 'users/alice/#', 1), [1]);
      assert.deepEqual(await subscribe(c, 'users/bob/#', 1), [128]);
    });
    it('a username holding a wildcard widens nothing', async () => {
      const c = await acceptedClient(d, await tok({ acl: { all: ['users/%u/#'] } }), { username: '#' });
      clients.push(c);
      assert.deepEqual(await subscribe(c, 'users/#', 1), [128]);
      assert.deepEqual(await subscribe(c, 'users/+/#', 1), [128]);
    });
  });

  describe('defaultAcl', () => {
    it('allow: a token without an ACL claim may publish and subscribe anywhere', async () => {
      const d = await start({}, { defaultAcl: 'allow' });
      const c = await acceptedClient(d, await tok({}));
      clients.push(c);
      const got = collector(c);
      assert.deepEqual(await subscribe(c, 'any/#', 1), [1]);
      await publish(c, 'any/where', 'x', { qos: 1 });
      await got.waitFor(1);
    });
    it('deny: a token without an ACL claim may do nothing; one with a claim uses it', async () => {
      const d = await start({}, { defaultAcl: 'deny' });
      const w = await watcher(d).catch(() => undefined);
      assert.equal(w, undefined, 'the watcher itself has no ACL claim and must be refused the subscription');
      const bare = await acceptedClient(d, await tok({}));
      const withAcl = await acceptedClient(d, await tok({ acl: { all: ['any/#'] } }));
      clients.push(bare, withAcl);
      const got = collector(withAcl);
      assert.deepEqual(await subscribe(bare, 'any/#', 1), [128]);
      assert.deepEqual(await subscribe(withAcl, 'any/#', 1), [1]);
      await publish(bare, 'any/where', 'dropped', { qos: 1 });
      await publish(withAcl, 'any/where', 'kept', { qos: 1 });
      await got.waitFor(1);
      await publish(withAcl, 'any/marker', 'after', { qos: 1 });
      await takeMarker(got.messages, (m) => m.topic === 'any/marker');
      assert.deepEqual(
        got.messages.map((m) => m.payload),
        ['kept'],
      );
      assert.ok(bare.connected);
    });
  });

  describe('EMQX 5 rule list and custom aclClaim', () => {
    it('applies the first matching rule; no match denies', async () => {
      const d = await start({}, { aclClaim: 'perm' });
      const rules = [
        { permission: 'deny', action: 'publish', topic: 'sensors/%c/secret' },
        { permission: 'allow', action: 'publish', topic: 'sensors/%c/#' },
        { permission: 'allow', action: 'subscribe', topics: ['cmd/%c/#', 'bcast/#'] },
        { permission: 'deny', action: 'all', topic: 'bcast/private/#' },
      ];
      const w = await watcher(d);
      const c = await acceptedClient(d, await tok({ perm: rules, acl: { all: ['#'] } }), { clientId: 'c5' });
      clients.push(w.client, c);
      await publish(c, 'sensors/c5/secret', 'no', { qos: 1 });
      await publish(c, 'sensors/c5/temp', 'yes', { qos: 1 });
      await publish(c, 'other/topic', 'no', { qos: 1 });
      await flush(d, w);
      assert.deepEqual(
        w.got.messages.map((m) => m.topic),
        ['sensors/c5/temp', 'marker/flush'],
      );
      assert.deepEqual(await subscribe(c, 'cmd/c5/+', 1), [1]);
      assert.deepEqual(await subscribe(c, 'bcast/news', 1), [1]);
      assert.deepEqual(await subscribe(c, 'sensors/#', 1), [128]);
    });
    it('EMQX 5 qos / retain / eq conditions apply to real packets', async () => {
      const d = await start();
      const rules = [
        { permission: 'deny', action: 'publish', topic: 'q/${clientid}/#', retain: true },
        { permission: 'allow', action: 'publish', topic: 'q/${clientid}/#', qos: [0, 1] },
        { permission: 'allow', action: 'subscribe', topic: 'eq q/#', qos: [1] },
      ];
      const w = await watcher(d);
      const c = await acceptedClient(d, await tok({ acl: rules }), { clientId: 'q1' });
      clients.push(w.client, c);
      await publish(c, 'q/q1/a', 'qos1', { qos: 1 });
      await publish(c, 'q/q1/b', 'qos2', { qos: 2 });
      await publish(c, 'q/q1/c', 'retained', { qos: 1, retain: true });
      await flush(d, w);
      assert.deepEqual(
        w.got.messages.map((m) => m.topic),
        ['q/q1/a', 'marker/flush'],
      );
      assert.deepEqual(await subscribe(c, 'q/#', 1), [1]);
      assert.deepEqual(await subscribe(c, 'q/#', 0), [128], 'qos 0 not listed');
      assert.deepEqual(await subscribe(c, 'q/q1/+', 1), [128], 'eq: only the exact filter');
    });
    it('refuses the connection when the ACL claim has an unknown form (JWT_ACL_INVALID)', async () => {
      const d = await start();
      await expectRefused(d, await tok({ acl: 'everything' }), 'JWT_ACL_INVALID');
      await expectRefused(d, await tok({ acl: { publish_to: ['a'] } }), 'JWT_ACL_INVALID');
      await expectRefused(d, await tok({ acl: { pub: [42] } }), 'JWT_ACL_INVALID');
      await expectRefused(d, await tok({ acl: [{ permission: 'maybe', topic: 'a' }] }), 'JWT_ACL_INVALID');
    });
  });

  it('a refused connection is not left half-open', async () => {
    const d = await start();
    const out = await connect(d.port, { username: 'u', password: await tok({ acl: 'bad' }) });
    assert.equal(out.returnCode, 4);
    // Half-open would keep it counted: the broker must let it go.
    await waitUntil(() => d.daemon.broker!.connectedClients() === 0, { what: 'the refused connection to be gone' });
    assert.equal(d.daemon.broker!.connectedClients(), 0);
  });
});

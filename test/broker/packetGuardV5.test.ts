// The packet guard (src/broker/packetGuard.ts, listeners.ts) with MQTT 5 clients on
// the real daemon: MQTT 5 packets with properties pass; ill-formed UTF-8 in an MQTT 5
// string or string property closes the connection (MQTT 5.0 section 1.5.4), after
// a DISCONNECT 0x81 once the CONNACK is out; so do the MQTT 5 rules of
// src/broker/mqtt5Rules.ts (0x81 Malformed Packet for a properties block that cannot
// be read, 0x82 Protocol Error for a property given twice), while MQTT 3.1.1 clients
// keep what they had; an MQTT 5 CONNECT gets a larger bound
// than a 3.1.1 one (connectGuard.ts); an oversized packet from a connected MQTT 5
// client gets DISCONNECT 0x95 Packet too large before the close (MQTT 5.0 sections
// 3.2.2.3.6, 4.13.1), on TCP and WebSocket, while 3.1.1 clients are closed silently.
import assert from 'node:assert/strict';
import { type Socket, connect as tcpConnect } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { encodeRemainingLength } from '../../scripts/bench/lib/mqttWire.js';
import { MAX_CONNECT_REMAINING_LENGTH, MAX_CONNECT_V5_REMAINING_LENGTH } from '../../src/broker/connectGuard.js';
import { maximumPacketSize } from '../../src/broker/packetGuard.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { collector, end, subscribe, takeMarker } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { settlesWithin, waitUntil } from '../helpers/wait.js';
import { waitForLog } from './support/expect.js';
import { P, prop, props, publishV5, connectV5 as rawConnectV5 } from './support/v5wire.js';

const SECRET = 'packet-guard-v5-test-secret-0123456789';
const v5 = (p: Record<string, unknown>): Buffer => mqttPacket.generate(p as unknown as Packet, { protocolVersion: 5 });
const SURROGATE = [0x61, 0xed, 0xa0, 0x80]; // 'a' + U+D800

/** Replaces the (only) occurrence of the ASCII `marker` with `bytes` of the same length. */
function patch(packet: Buffer, marker: string, bytes: number[]): Buffer {
  const at = packet.indexOf(marker);
  assert.ok(at >= 0 && bytes.length === marker.length);
  const out = Buffer.from(packet);
  out.set(bytes, at);
  return out;
}

/** mqtt.js over MQTT 5, no reconnect; rejects unless CONNACK 0. `connack`: the CONNACK's properties. */
function connect5(port: number, opts: IClientOptions): Promise<MqttClient & { connack: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5, ...opts });
    c.once('connect', (connack) => resolve(Object.assign(c, { connack: (connack.properties ?? {}) as Record<string, unknown> })));
    c.once('error', (err) => (c.end(true), reject(err)));
  });
}

/** What the server did to an mqtt.js client: its DISCONNECT reason code (null: none), once the connection closed. */
function serverClose(c: MqttClient, ms = 5000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    let code: number | null = null;
    const t = setTimeout(() => reject(new Error('still connected')), ms);
    c.once('disconnect', (p) => (code = p.reasonCode ?? 0));
    c.once('close', () => (clearTimeout(t), resolve(code)));
  });
}

/** A raw TCP connection recording every byte the server sends, and whether it closed. */
class Raw {
  readonly got: Buffer[] = [];
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.got.push(d));
    socket.on('error', () => undefined);
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }
  static async open(port: number): Promise<Raw> {
    const s = tcpConnect({ port, host: '127.0.0.1' });
    s.setNoDelay(true);
    await new Promise<void>((r) => s.once('connect', () => r()));
    return new Raw(s);
  }
  reply(): Buffer {
    return Buffer.concat(this.got);
  }
  /** Resolves once the server has sent at least n bytes. */
  async bytes(n: number, ms = 3000): Promise<Buffer> {
    await waitUntil(() => this.reply().length >= n, { timeoutMs: ms, what: `${n} bytes (got ${this.reply().toString('hex')})` });
    return this.reply();
  }
  /** A PINGREQ answered (the server has handled all sent before it): whether the connection is still open. */
  async stillOpen(): Promise<boolean> {
    const pingresps = (): number => this.reply().toString('hex').split('d000').length - 1;
    const before = pingresps();
    let closed = false;
    void this.closed.then(() => (closed = true));
    this.socket.write(Buffer.from([0xc0, 0x00]));
    await waitUntil(() => closed || pingresps() > before, { what: 'a PINGRESP or the close' });
    return !closed;
  }
  /** Whether the server closed the connection within ms. */
  async closedWithin(ms = 3000): Promise<boolean> {
    return settlesWithin(this.closed, ms);
  }
}

const connectV5 = (clientId: string, token: string, extra: Record<string, unknown> = {}): Buffer =>
  v5({ cmd: 'connect', protocolVersion: 5, clientId, clean: true, keepalive: 60, username: 'u', password: Buffer.from(token), ...extra });

/** A raw MQTT 5 client past its CONNACK 0x00 (the CONNACK bytes are dropped from `got`). */
async function rawV5(port: number, clientId: string, token: string): Promise<Raw> {
  const r = await Raw.open(port);
  r.socket.write(connectV5(clientId, token));
  const reply = await r.bytes(4);
  assert.equal(reply[0], 0x20, 'CONNACK');
  assert.equal(reply[3], 0x00, 'reason code 0x00');
  // All of the CONNACK (its properties may come in a later read) before `got` is cleared.
  let remaining = 0;
  let at = 1;
  for (let mul = 1; ; mul *= 128, at++) {
    remaining += (reply[at]! & 0x7f) * mul;
    if ((reply[at]! & 0x80) === 0) break;
  }
  await r.bytes(at + 1 + remaining);
  r.got.length = 0;
  return r;
}

async function rejected(d: TestDaemon, reason: string): Promise<number> {
  const m = await d.daemon.metrics.packetsRejected.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('packet guard with MQTT 5 clients (real daemon)', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let token: string;
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } }, broker: { maxPacketBytes: 1_048_576 } });
    token = await hsToken(SECRET, { sub: 'v5-sensor', exp: nowSec() + 3600 });
  });
  after(() => d.stop());

  /** The daemon still serves: a fresh MQTT 5 pair exchanges a message. */
  async function stillServing(tag: string): Promise<void> {
    const sub = await connect5(d.port, { username: 'u', password: token, clientId: `alive-sub-${tag}` });
    await subscribe(sub, `alive/${tag}`);
    const got = collector(sub);
    const pub = await connect5(d.port, { username: 'u', password: token, clientId: `alive-pub-${tag}` });
    pub.publish(`alive/${tag}`, 'yes');
    await got.waitFor(1);
    await end(sub, pub);
  }

  it('accepts a SUBSCRIBE and UNSUBSCRIBE with properties (mqtt.js), including one a 3.1.1 reading would refuse', async () => {
    const sub = await connect5(d.port, { username: 'u', password: token, clientId: 'v5-props-sub' });
    const got: Array<{ topic: string; id: unknown }> = [];
    sub.on('message', (topic, _p, packet) => got.push({ topic, id: packet.properties?.subscriptionIdentifier }));
    // 40 filters after Subscription Identifier 5: read as 3.1.1, the properties would start a
    // 523-byte "filter" through the options bytes (00): a false invalid_utf8 (see packetScannerV5.test.ts).
    const filters = Array.from({ length: 40 }, (_, k) => `v5/${String(k).padStart(2, '0')}/#`);
    const granted = await new Promise<number[]>((resolve, reject) =>
      sub.subscribe(filters, { qos: 0, properties: { subscriptionIdentifier: 5, userProperties: { site: 'nord', clé: 'välue' } } }, (err, g) =>
        err ? reject(err) : resolve((g ?? []).map((x) => x.qos)),
      ),
    );
    assert.deepEqual(
      granted,
      filters.map(() => 0),
    );
    const pub = await connect5(d.port, { username: 'u', password: token, clientId: 'v5-props-pub' });
    pub.publish('v5/07/x', 'm', {
      qos: 1,
      properties: { contentType: 'text/plain', responseTopic: 'v5/reply', userProperties: { k: 'v' }, correlationData: Buffer.from([0xff, 0]) },
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message')), 5000);
      sub.once('message', () => (clearTimeout(t), resolve()));
    });
    assert.deepEqual(got, [{ topic: 'v5/07/x', id: 5 }]);
    await new Promise<void>((resolve, reject) =>
      sub.unsubscribe(filters, { properties: { userProperties: { why: 'done' } } }, (err) => (err ? reject(err) : resolve())),
    );
    assert.ok(sub.connected && pub.connected);
    await end(sub, pub);
  });

  it('refuses ill-formed UTF-8 in an MQTT 5 client id: closed without CONNACK, counted', async () => {
    const before = await rejected(d, 'invalid_utf8');
    const r = await Raw.open(d.port);
    r.socket.write(patch(connectV5('BAD!', token), 'BAD!', SURROGATE));
    assert.ok(await r.closedWithin(), 'closed');
    assert.equal(r.reply().length, 0, 'no CONNACK, no DISCONNECT before a CONNACK (MQTT-3.14.0-1)');
    assert.equal(await rejected(d, 'invalid_utf8'), before + 1);
    await waitForLog(d, (l) => typeof l.msg === 'string' && l.msg.startsWith('connection closed: ill-formed UTF-8') && l.field === 'client_id');
  });

  for (const c of [
    {
      what: 'a SUBSCRIBE topic filter',
      field: 'topic_filter',
      packet: () =>
        patch(
          v5({
            cmd: 'subscribe',
            messageId: 1,
            properties: { subscriptionIdentifier: 9 },
            subscriptions: [
              { topic: 'ok/#', qos: 0 },
              { topic: 'BAD!', qos: 1 },
            ],
          }),
          'BAD!',
          SURROGATE,
        ),
    },
    {
      what: 'an UNSUBSCRIBE topic filter',
      field: 'topic_filter',
      packet: () => patch(v5({ cmd: 'unsubscribe', messageId: 2, properties: { userProperties: { k: 'v' } }, unsubscriptions: ['BAD!'] }), 'BAD!', SURROGATE),
    },
    {
      what: 'a PUBLISH user property',
      field: 'user_property',
      packet: () =>
        patch(v5({ cmd: 'publish', topic: 'u8/x', payload: 'p', qos: 1, messageId: 3, properties: { userProperties: { k: 'BAD!' } } }), 'BAD!', SURROGATE),
    },
  ]) {
    it(`refuses ill-formed UTF-8 in ${c.what} with DISCONNECT 0x81 (Malformed Packet), then closes; counted`, async () => {
      const watcher = await connect5(d.port, { username: 'u', password: token, clientId: `u8-watch-${c.field}` });
      await subscribe(watcher, 'u8/#');
      const seen = collector(watcher);
      const before = await rejected(d, 'invalid_utf8');
      const r = await rawV5(d.port, `u8-${c.field}`, token);
      r.socket.write(c.packet());
      assert.ok(await r.closedWithin(), 'closed');
      assert.deepEqual([...r.reply()], [0xe0, 0x01, 0x81], 'DISCONNECT 0x81 and nothing else (no SUBACK/UNSUBACK/PUBACK)');
      assert.equal(await rejected(d, 'invalid_utf8'), before + 1);
      await waitForLog(d, (l) => l.field === c.field && typeof l.msg === 'string' && l.msg.startsWith('connection closed: ill-formed UTF-8'));
      // A marker routed after: had the refused packet been delivered, it would be ahead of it.
      await d.daemon.broker!.publishInternal({ topic: 'u8/marker', payload: Buffer.from('after'), qos: 1 }, 'test');
      await takeMarker(seen.messages, (m) => m.topic === 'u8/marker');
      assert.equal(seen.messages.length, 0, 'never delivered');
      await end(watcher);
    });
  }

  for (const c of [
    {
      what: 'a Response Topic running past the packet',
      reason: 'malformed_properties',
      code: 0x81,
      packet: () => Buffer.from('300a0004' + Buffer.from('mr/x').toString('hex') + '030800ff', 'hex'),
    },
    {
      what: 'a Content Type given twice',
      reason: 'protocol_error',
      code: 0x82,
      packet: () => publishV5('mr/x', 'p', { qos: 1, id: 4, properties: props(prop.str(P.contentType, 'a'), prop.str(P.contentType, 'b')) }),
    },
    {
      what: 'a Subscription Identifier',
      reason: 'protocol_error',
      code: 0x82,
      packet: () => publishV5('mr/x', 'p', { qos: 1, id: 4, properties: props(prop.vbi(P.subscriptionId, 3)) }),
    },
    { what: 'DUP on QoS 0', reason: 'malformed_packet', code: 0x81, packet: () => publishV5('mr/x', 'p', { first: 0x38 }) },
  ]) {
    it(`refuses an MQTT 5 PUBLISH with ${c.what}: DISCONNECT 0x${c.code.toString(16)}, then the close; counted as ${c.reason}, never delivered`, async () => {
      const watcher = await connect5(d.port, { username: 'u', password: token, clientId: `mr-watch-${c.code}-${c.reason}` });
      await subscribe(watcher, 'mr/#');
      const seen = collector(watcher);
      const before = await rejected(d, c.reason);
      const r = await rawV5(d.port, `mr-${c.reason}`, token);
      r.socket.write(c.packet());
      assert.ok(await r.closedWithin(), 'closed');
      assert.deepEqual([...r.reply()], [0xe0, 0x01, c.code], 'the DISCONNECT and nothing else (no PUBACK)');
      assert.equal(await rejected(d, c.reason), before + 1);
      await d.daemon.broker!.publishInternal({ topic: 'mr/marker', payload: Buffer.from('after'), qos: 1 }, 'test');
      await takeMarker(seen.messages, (m) => m.topic === 'mr/marker');
      assert.ok(seen.messages.length === 0 && watcher.connected, 'never delivered; the MQTT 5 subscriber keeps its connection');
      await end(watcher);
    });
  }

  it('refuses an MQTT 5 CONNECT with a property twice before any CONNACK: closed silently, counted as protocol_error', async () => {
    const before = await rejected(d, 'protocol_error');
    const r = await Raw.open(d.port); // Session Expiry Interval twice: read as [1, 1], it crashed the daemon at the close (a NaN timer)
    r.socket.write(
      rawConnectV5({ clientId: 'mr-dup-connect', password: token, properties: props(prop.four(P.sessionExpiry, 1), prop.four(P.sessionExpiry, 1)) }),
    );
    assert.ok(await r.closedWithin(), 'closed');
    assert.equal(r.reply().length, 0, 'no CONNACK, no DISCONNECT before a CONNACK (MQTT-3.14.0-1)');
    assert.equal(await rejected(d, 'protocol_error'), before + 1);
    await stillServing('dup-connect');
  });

  it('MQTT 3.1.1 clients keep what they had: a QoS 0 PUBLISH with DUP is delivered, a PINGREQ with a body answered', async () => {
    const watcher = await connect5(d.port, { username: 'u', password: token, clientId: 'v4-rules-watch' });
    await subscribe(watcher, 'v4r/#');
    const seen = collector(watcher);
    const v4 = await Raw.open(d.port);
    v4.socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolVersion: 4,
        clientId: 'v4-rules',
        clean: true,
        keepalive: 60,
        username: 'u',
        password: Buffer.from(token),
      } as Packet),
    );
    await v4.bytes(4);
    v4.got.length = 0;
    v4.socket.write(Buffer.from('38070003' + Buffer.from('v4r').toString('hex') + '7878c00100', 'hex'));
    assert.deepEqual([...(await v4.bytes(2))], [0xd0, 0x00], 'PINGRESP');
    await seen.waitFor(1);
    assert.equal(seen.messages[0]!.topic, 'v4r');
    assert.ok(await v4.stillOpen());
    v4.socket.destroy();
    await end(watcher);
  });

  it('accepts an MQTT 5 CONNECT above the 3.1.1 bound and within the MQTT 5 one; the same size at level 4 is refused', async () => {
    // ~340 KB of User Properties (mqtt.js writes the CONNECT in one go): above 327,695.
    const userProperties = Object.fromEntries(Array.from({ length: 6 }, (_, k) => [`pad${k}`, 'x'.repeat(56_000)]));
    const big = await connect5(d.port, { username: 'u', password: token, clientId: 'v5-big-connect', properties: { userProperties } });
    const bytes = connectV5('v5-big-connect', token, { properties: { userProperties } });
    assert.equal(bytes[3]! & 0x80, 0, 'a 3-byte remaining length');
    const remaining = bytes.length - 4;
    assert.ok(remaining > MAX_CONNECT_REMAINING_LENGTH && remaining <= MAX_CONNECT_V5_REMAINING_LENGTH, `${remaining}`);
    assert.ok(big.connected);
    await end(big);

    const before = await rejected(d, 'too_large');
    const asLevel4 = Buffer.from(bytes);
    asLevel4[1 + 3 + 6] = 4; // the protocol level, after "MQTT" (3 remaining-length bytes)
    const r = await Raw.open(d.port);
    r.socket.write(asLevel4);
    assert.ok(await r.closedWithin(), 'closed');
    assert.equal(r.reply().length, 0);
    assert.equal(await rejected(d, 'too_large'), before + 1);
    const line = await waitForLog(d, (l) => l.msg === 'connection closed: packet too large' && l.announcedBytes === remaining);
    assert.equal(line.limitBytes, MAX_CONNECT_REMAINING_LENGTH);
    assert.equal(line.disconnectReasonCode, undefined);

    const over = await Raw.open(d.port);
    over.socket.write(Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(MAX_CONNECT_V5_REMAINING_LENGTH + 1), bytes.subarray(4, 200)]));
    assert.ok(await over.closedWithin(), 'closed');
    assert.equal((await waitForLog(d, (l) => l.announcedBytes === MAX_CONNECT_V5_REMAINING_LENGTH + 1)).limitBytes, MAX_CONNECT_V5_REMAINING_LENGTH);
    await stillServing('connect');
  });

  it('an oversized PUBLISH from a connected MQTT 5 client gets DISCONNECT 0x95, then the close; others keep working', async () => {
    const before = await rejected(d, 'too_large');
    const r = await rawV5(d.port, 'v5-liar', token);
    r.socket.write(Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(200 * 1_048_576), Buffer.from([0, 3]), Buffer.from('a/b'), Buffer.alloc(1000)]));
    assert.ok(await r.closedWithin(), 'closed');
    assert.deepEqual([...r.reply()], [0xe0, 0x01, 0x95], 'DISCONNECT, reason code 0x95 Packet too large');
    assert.equal(await rejected(d, 'too_large'), before + 1);
    const line = await waitForLog(d, (l) => l.msg === 'connection closed: packet too large' && l.announcedBytes === 200 * 1_048_576);
    assert.equal(line.disconnectReasonCode, 0x95);
    await stillServing('publish');
  });

  it('mqtt.js sees the DISCONNECT 0x95 and the close', async () => {
    const c = await connect5(d.port, { username: 'u', password: token, clientId: 'v5-mqttjs-liar' });
    const outcome = serverClose(c);
    // mqtt.js would not send it (it honours the CONNACK's Maximum Packet Size): write it under it.
    c.stream.write(Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(1_048_577), Buffer.from([0, 1, 0x74])]));
    assert.equal(await outcome, 0x95);
  });

  it('MQTT 3.1.1 clients and MQTT 5 clients before their CONNACK are closed silently, as before', async () => {
    const v4 = await Raw.open(d.port);
    v4.socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolVersion: 4,
        clientId: 'v4-liar',
        clean: true,
        keepalive: 60,
        username: 'u',
        password: Buffer.from(token),
      } as Packet),
    );
    await v4.bytes(4);
    v4.got.length = 0;
    v4.socket.write(Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(200 * 1_048_576)]));
    assert.ok(await v4.closedWithin());
    assert.equal(v4.reply().length, 0, 'no bytes: MQTT 3.1.1 has no server DISCONNECT');
    // CONNECT and an oversized PUBLISH in one write: judged before aedes has even read the CONNECT.
    const early = await Raw.open(d.port);
    early.socket.write(Buffer.concat([connectV5('v5-early', token), Buffer.from([0x30]), encodeRemainingLength(200 * 1_048_576)]));
    assert.ok(await early.closedWithin());
    assert.ok(!early.reply().includes(Buffer.from([0xe0, 0x01, 0x95])), early.reply().toString('hex'));
  });
});

describe('packet guard with MQTT 5 clients: the advertised Maximum Packet Size is the one enforced', function () {
  this.timeout(30_000);
  it('a PUBLISH of exactly maximumPacketSize() bytes passes, one byte more gets DISCONNECT 0x95 (TCP and WebSocket)', async () => {
    const max = 2048;
    const d = await startDaemon({
      auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } },
      broker: { maxPacketBytes: max },
      listeners: { ws: { enabled: true, host: '127.0.0.1', port: 0 } },
    });
    try {
      const token = await hsToken(SECRET, { sub: 'v5-sensor', exp: nowSec() + 3600 });
      const limit = maximumPacketSize(max);
      assert.equal(limit, 2051);
      const sub = await connect5(d.port, { username: 'u', password: token, clientId: 'mps-sub' });
      await subscribe(sub, 'mps/#');
      const got = collector(sub);
      const wsPort = d.daemon.broker!.addresses().ws!.port;
      for (const via of ['tcp', 'ws'] as const) {
        const opts: IClientOptions = via === 'ws' ? { protocol: 'ws', path: '/mqtt' } : {};
        const pub = await connect5(via === 'ws' ? wsPort : d.port, { username: 'u', password: token, clientId: `mps-pub-${via}`, ...opts });
        // A QoS 0 PUBLISH with an empty properties block: 1 + 2 (length) + 2 + topic + 1 + payload.
        const exact = (topic: string, total: number): Buffer =>
          v5({ cmd: 'publish', topic, payload: Buffer.alloc(total - 1 - 2 - 2 - topic.length - 1, 0x61), qos: 0, retain: false, dup: false });
        const fits = exact(`mps/${via}`, limit);
        assert.equal(fits.length, limit);
        const outcome = serverClose(pub);
        pub.stream.write(fits);
        await got.waitFor(via === 'tcp' ? 1 : 2);
        pub.stream.write(exact(`mps/${via}`, limit + 1));
        assert.equal(await outcome, 0x95, via);
        // What the broker advertises (broker.ts, another change): when it does, it is this.
        if (pub.connack.maximumPacketSize !== undefined) assert.equal(pub.connack.maximumPacketSize, limit, 'CONNACK Maximum Packet Size');
      }
      assert.ok(sub.connected);
      await end(sub);
    } finally {
      await d.stop();
    }
  });
});

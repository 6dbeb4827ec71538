// broker.maxPacketBytes: every packet a client sends is bounded, checked from its
// fixed header before aedes buffers the body (src/broker/packetGuard.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { connectPacket, encodeRemainingLength } from '../../scripts/bench/lib/mqttWire.js';
import { MAX_CONNECT_REMAINING_LENGTH } from '../../src/broker/connectGuard.js';
import { PacketScanner } from '../../src/broker/packetGuard.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitForLog } from './support/expect.js';
import { keyPair, selfSignedCert } from './support/keys.js';
import { mosquittoPub } from './support/mosquitto.js';

const SECRET = 'packet-size-test-secret-0123456789';
const MiB = 1_048_576;

/** A QoS 0 PUBLISH (MQTT 3.1.1 section 3.3) with the given payload. */
function publishPacket(topic: string, payload: Buffer | string): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(body.length), body]);
}

/** A raw TCP client that has sent a valid CONNECT and received CONNACK 0. */
async function rawClient(port: number, clientId: string, password: string): Promise<Socket> {
  const s = tcpConnect({ port, host: '127.0.0.1' });
  s.setNoDelay(true);
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(connectPacket({ clientId, username: 'u', password }));
  const connack = await new Promise<Buffer>((resolve) => s.once('data', resolve));
  assert.deepEqual([...connack.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00], 'CONNACK 0');
  return s;
}

const closedPromise = (s: Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

async function rejectedCount(d: TestDaemon, reason: string): Promise<number> {
  const m = await d.daemon.metrics.packetsRejected.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('broker.maxPacketBytes (real daemon, default 1 MiB)', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  let token: string;
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } });
    assert.equal(d.config.broker.maxPacketBytes, MiB);
    token = await hsToken(SECRET, { sub: 'sensor', exp: nowSec() + 3600 });
  });
  after(() => d.stop());

  it('delivers a publish whose remaining length is exactly the limit', async () => {
    const sub = await connectOk(d.port, { username: 'u', password: token, clientId: 'big-sub' });
    const pub = await connectOk(d.port, { username: 'u', password: token, clientId: 'big-pub' });
    await subscribe(sub, 'big/#');
    const got = collector(sub);
    const topic = 'big/one';
    const payload = Buffer.alloc(MiB - 2 - topic.length, 0x61); // remaining length = 2 + topic + payload (QoS 0)
    await publish(pub, topic, payload);
    await got.waitFor(1);
    assert.equal(got.messages[0]!.payload.length, payload.length);
    assert.ok(pub.connected);
    await end(sub, pub);
  });

  it('closes a client announcing a 200 MB PUBLISH without waiting for it; others keep working', async () => {
    const sub = await connectOk(d.port, { username: 'u', password: token, clientId: 'bystander-sub' });
    await subscribe(sub, 'still/#');
    const got = collector(sub);
    const before = await rejectedCount(d, 'too_large');

    const s = await rawClient(d.port, 'liar', token);
    const closed = closedPromise(s);
    const announced = 200 * MiB;
    s.write(Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(announced), Buffer.from([0, 3]), Buffer.from('a/b'), randomBytes(1000)]));
    await closed; // closed long before 200 MB could arrive (none is ever sent)

    const line = await waitForLog(d, (l) => l.msg === 'connection closed: packet too large');
    assert.equal(line.level, 30, 'info');
    assert.equal(line.address, '127.0.0.1');
    assert.equal(line.announcedBytes, announced);
    assert.equal(line.limitBytes, MiB);
    assert.equal(await rejectedCount(d, 'too_large'), before + 1);
    assert.equal(d.logs.filter((l) => l.msg === 'connection closed: packet too large').length, 1, 'logged once');

    // The bystander and the daemon are unaffected.
    const pub = await connectOk(d.port, { username: 'u', password: token, clientId: 'after-liar' });
    await publish(pub, 'still/here', 'yes');
    await got.waitFor(1);
    assert.equal(got.messages[0]!.payload, 'yes');
    assert.ok(sub.connected);
    await end(sub, pub);
  });

  it('closes a client whose PUBLISH is one byte over the limit (header split across writes)', async () => {
    const before = await rejectedCount(d, 'too_large');
    const s = await rawClient(d.port, 'one-over', token);
    const closed = closedPromise(s);
    const header = Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(MiB + 1)]);
    for (const b of header) {
      s.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await closed;
    assert.equal(await rejectedCount(d, 'too_large'), before + 1);
  });

  it('handles many small packets in one TCP chunk', async () => {
    const sub = await connectOk(d.port, { username: 'u', password: token, clientId: 'burst-sub' });
    await subscribe(sub, 'burst/#');
    const got = collector(sub);
    const s = await rawClient(d.port, 'burst-pub', token);
    const pingreq = Buffer.from([0xc0, 0x00]);
    const chunk = Buffer.concat(
      Array.from({ length: 300 }, (_, i) => Buffer.concat([publishPacket(`burst/${i}`, `m${i}`), i % 50 === 0 ? pingreq : Buffer.alloc(0)])),
    );
    s.write(chunk);
    await got.waitFor(300);
    assert.deepEqual(
      got.messages.map((m) => m.payload),
      Array.from({ length: 300 }, (_, i) => `m${i}`),
    );
    assert.ok(!s.destroyed);
    s.end();
    await end(sub);
  });

  it('handles a CONNECT and a PUBLISH written one byte at a time', async () => {
    const sub = await connectOk(d.port, { username: 'u', password: token, clientId: 'drip-sub' });
    await subscribe(sub, 'drip/#');
    const got = collector(sub);
    const s = tcpConnect({ port: d.port, host: '127.0.0.1' });
    s.setNoDelay(true);
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    const payload = 'p'.repeat(300); // a 2-byte remaining length, split too
    const bytes = Buffer.concat([connectPacket({ clientId: 'drip-pub', username: 'u', password: token }), publishPacket('drip/x', payload)]);
    for (const b of bytes) {
      s.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await got.waitFor(1);
    assert.equal(got.messages[0]!.payload, payload);
    assert.ok(!s.destroyed);
    s.end();
    await end(sub);
  });
});

describe('broker.maxPacketBytes (configured smaller)', function () {
  this.timeout(10_000);
  it('applies the configured limit to publishes and to the CONNECT', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } }, broker: { maxPacketBytes: 2048 } });
    try {
      const token = await hsToken(SECRET, { sub: 'sensor', exp: nowSec() + 3600 });
      const sub = await connectOk(d.port, { username: 'u', password: token, clientId: 'small-sub' });
      await subscribe(sub, 'small/#');
      const got = collector(sub);
      const s = await rawClient(d.port, 'small-pub', token);
      s.write(publishPacket('small/a', Buffer.alloc(2048 - 2 - 7, 0x62))); // exactly 2048
      await got.waitFor(1);
      // One chunk: a valid publish, then a whole 2049-byte one. The first is
      // delivered; the second never reaches the parser, and the client is closed.
      const closed = closedPromise(s);
      s.write(Buffer.concat([publishPacket('small/b', 'fine'), publishPacket('small/c', Buffer.alloc(2048 - 2 - 7 + 1, 0x62))]));
      await closed;
      await got.waitFor(2);
      const pub = await connectOk(d.port, { username: 'u', password: token, clientId: 'small-marker' });
      await publish(pub, 'small/marker', 'm');
      await got.waitFor(3);
      assert.deepEqual(
        got.messages.map((m) => m.topic),
        ['small/a', 'small/b', 'small/marker'],
        'the oversized publish is never delivered',
      );
      await end(pub);

      // A CONNECT larger than the limit (a 3000-byte password) is closed before authentication.
      const c = tcpConnect({ port: d.port, host: '127.0.0.1' });
      c.on('error', () => undefined);
      const cClosed = closedPromise(c);
      c.write(connectPacket({ clientId: 'fat', username: 'u', password: 'x'.repeat(3000) }));
      await cClosed;
      const line = await waitForLog(d, (l) => l.msg === 'connection closed: packet too large' && l.packetType === 1);
      assert.equal(line.limitBytes, 2048);
      assert.ok(!d.logText().includes('x'.repeat(100)), 'content is never logged');
      assert.ok(sub.connected);
      await end(sub);
    } finally {
      await d.stop();
    }
  });

  it('mosquitto_pub (an independent client): at the limit delivered, one byte over closed and not delivered', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } }, broker: { maxPacketBytes: 2048 } });
    try {
      const token = await hsToken(SECRET, { sub: 'sensor', exp: nowSec() + 3600 });
      const sub = await connectOk(d.port, { username: 'u', password: token, clientId: 'mosq-sub' });
      await subscribe(sub, 'mosq/#');
      const got = collector(sub);
      // QoS 1 PUBLISH remaining length = 2 + topic (6) + packet id (2) + payload.
      const atLimit = await mosquittoPub(d.port, { username: 'u', password: token, topic: 'mosq/a', message: 'a'.repeat(2048 - 10), qos: 1 });
      assert.equal(atLimit.code, 0, atLimit.stderr);
      await got.waitFor(1);
      const over = await mosquittoPub(d.port, { username: 'u', password: token, topic: 'mosq/b', message: 'b'.repeat(2048 - 9), qos: 1 });
      assert.notEqual(over.code, 0, 'the PUBACK never comes: the connection is closed');
      await waitForLog(d, (l) => l.msg === 'connection closed: packet too large' && l.announcedBytes === 2049);
      await publish(sub, 'mosq/marker', 'm');
      await got.waitFor(2);
      assert.deepEqual(
        got.messages.map((m) => m.topic),
        ['mosq/a', 'mosq/marker'],
      );
      await end(sub);
    } finally {
      await d.stop();
    }
  });

  it('refuses a limit outside 1024..268435455', async () => {
    for (const bad of [1023, 268_435_456, 1.5]) {
      await assert.rejects(startDaemon({ broker: { maxPacketBytes: bad } }), (err: Error) => /maxPacketBytes/.test(err.message));
    }
  });
});

describe('broker.maxPacketBytes over TLS', function () {
  this.timeout(10_000);
  it('scans the decrypted stream: a 200 MB announcement closes the client, a normal publish is delivered', async () => {
    const dir = tempDir('edgegate-pkt-tls-');
    const server = selfSignedCert(dir, 'server', keyPair('ec-p256'));
    const d = await startDaemon({
      auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } },
      listeners: { tls: { enabled: true, certFile: server.certFile, keyFile: server.keyFile } },
    });
    try {
      const token = await hsToken(SECRET, { sub: 'sensor', exp: nowSec() + 3600 });
      const ca = readFileSync(server.certFile);
      const sub = await connectOk(d.tlsPort!, { protocol: 'mqtts', ca, username: 'u', password: token, clientId: 'tls-sub' });
      await subscribe(sub, 'tls/#');
      const got = collector(sub);
      const s = tlsConnect({ host: '127.0.0.1', port: d.tlsPort!, ca, servername: 'localhost', checkServerIdentity: () => undefined });
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.once('secureConnect', () => resolve()));
      s.write(connectPacket({ clientId: 'tls-liar', username: 'u', password: token }));
      const connack = await new Promise<Buffer>((resolve) => s.once('data', resolve));
      assert.equal(connack[3], 0);
      s.write(publishPacket('tls/ok', 'before'));
      await got.waitFor(1);
      const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
      s.write(Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(200 * MiB)]));
      await closed;
      assert.equal((await waitForLog(d, (l) => l.msg === 'connection closed: packet too large')).announcedBytes, 200 * MiB);
      assert.ok(sub.connected);
      await end(sub);
    } finally {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PacketScanner (unit)', () => {
  const connect = connectPacket({ clientId: 'c', username: 'u', password: 'p' });
  /** CONNECT, then packets with 1-, 2- and 3-byte remaining lengths, bodies full of 0xff (header look-alikes). */
  const stream = Buffer.concat([
    connect,
    Buffer.from([0xc0, 0x00]), // PINGREQ, empty body
    publishPacket('t', Buffer.alloc(100, 0xff)),
    publishPacket('t', Buffer.alloc(20_000, 0xff)),
    Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x74, 0x00]), // SUBSCRIBE
    publishPacket('t', Buffer.alloc(200, 0x30)),
  ]);
  const PACKETS = 6;

  it('finds every boundary whatever the split point', () => {
    for (let cut = 0; cut <= stream.length; cut += cut < 400 ? 1 : 97) {
      const sc = new PacketScanner(MiB);
      assert.equal(sc.scan(stream.subarray(0, cut)), undefined);
      assert.equal(sc.scan(stream.subarray(cut)), undefined);
      assert.equal(sc.headersSeen, PACKETS, `cut at ${cut}`);
    }
  });

  it('finds every boundary when fed one byte at a time', () => {
    const sc = new PacketScanner(MiB);
    for (let i = 0; i < stream.length; i++) assert.equal(sc.scan(stream.subarray(i, i + 1)), undefined);
    assert.equal(sc.headersSeen, PACKETS);
  });

  it('finds every boundary with random chunking', () => {
    for (let round = 0; round < 50; round++) {
      const sc = new PacketScanner(MiB);
      for (let i = 0; i < stream.length; ) {
        const n = 1 + Math.floor(Math.random() * 300);
        assert.equal(sc.scan(stream.subarray(i, i + n)), undefined);
        i += n;
      }
      assert.equal(sc.headersSeen, PACKETS);
    }
  });

  it('accepts a remaining length equal to the limit and rejects one more, split or not', () => {
    const at = Buffer.concat([connect, Buffer.from([0x30]), encodeRemainingLength(4096)]);
    const over = Buffer.concat([connect, Buffer.from([0x30]), encodeRemainingLength(4097)]);
    assert.equal(new PacketScanner(4096).scan(at), undefined);
    assert.deepEqual(new PacketScanner(4096).scan(over), { reason: 'too_large', packetType: 3, announced: 4097, limit: 4096 });
    const sc = new PacketScanner(4096);
    assert.equal(sc.scan(over.subarray(0, over.length - 1)), undefined); // last length byte missing
    assert.equal(sc.scan(over.subarray(over.length - 1))?.reason, 'too_large');
  });

  it('tells how many bytes of the chunk precede the offending packet', () => {
    const good = publishPacket('t', 'ok');
    const sc = new PacketScanner(1024);
    assert.equal(sc.scan(Buffer.concat([connect, good, Buffer.from([0x30]), encodeRemainingLength(1025), Buffer.alloc(1025)]))?.reason, 'too_large');
    assert.equal(sc.passable, connect.length + good.length);
    const split = new PacketScanner(1024);
    assert.equal(split.scan(Buffer.concat([connect, Buffer.from([0x30, 0x82])])), undefined);
    assert.equal(split.passable, connect.length + 2);
    assert.equal(split.scan(Buffer.from([0x08]))?.reason, 'too_large'); // 1026, header begun in the previous chunk
    assert.equal(split.passable, 0);
    assert.equal(split.scan(good), split.scan(good));
    assert.equal(split.passable, 0);
  });

  it('reports the largest announcement MQTT allows (268,435,455)', () => {
    const r = new PacketScanner(MiB).scan(Buffer.concat([connect, Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])]));
    assert.deepEqual(r, { reason: 'too_large', packetType: 3, announced: 268_435_455, limit: MiB });
  });

  it('closes on a fifth remaining-length byte (malformed, section 2.2.3), on the CONNECT or later', () => {
    assert.equal(new PacketScanner(MiB).scan(Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]))?.reason, 'malformed_length');
    const sc = new PacketScanner(268_435_455);
    assert.equal(sc.scan(Buffer.concat([connect, Buffer.from([0x30, 0x80, 0x80])])), undefined);
    assert.equal(sc.scan(Buffer.from([0x80])), undefined); // three length bytes so far: still valid
    assert.deepEqual(sc.scan(Buffer.from([0x80, 0x01])), { reason: 'malformed_length', packetType: 3 });
  });

  it('requires CONNECT first, within the CONNECT bound and the configured one', () => {
    assert.deepEqual(new PacketScanner(MiB).scan(Buffer.from([0x30, 0x00])), { reason: 'not_connect', packetType: 3 });
    assert.equal(new PacketScanner(MiB).scan(Buffer.from([0x12, 0x00]))?.reason, 'not_connect'); // flags must be 0
    const big = Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(MAX_CONNECT_REMAINING_LENGTH + 1)]);
    assert.equal(new PacketScanner(MiB).scan(big)?.limit, MAX_CONNECT_REMAINING_LENGTH);
    const small = Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(1025)]);
    assert.equal(new PacketScanner(1024).scan(small)?.limit, 1024);
    // A second CONNECT is aedes's to refuse (section 3.1: protocol violation), not a size matter.
    assert.equal(new PacketScanner(MiB).scan(Buffer.concat([connect, connect])), undefined);
  });

  it('stays rejected after the first rejection', () => {
    const sc = new PacketScanner(MiB);
    const r = sc.scan(Buffer.from([0x20, 0x02]));
    assert.equal(r?.reason, 'not_connect');
    assert.equal(sc.scan(connect), r);
  });
});

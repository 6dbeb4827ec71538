// MQTT 3.1.1 MUSTs checked on raw sockets against the real daemon: a zero-byte
// client id with CleanSession = 0 gets CONNACK 2 and a close (MQTT-3.1.3-8), and
// ill-formed UTF-8 or U+0000 in a topic name, topic filter, client id, will topic
// or username closes the connection (MQTT-1.5.3-1, MQTT-1.5.3-2). Each refusal is
// counted in /metrics and logged at a limited rate. The packet scanner is also
// checked on its own: the same verdict whatever the chunk boundaries.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { connectPacket, encodeRemainingLength, subscribePacket } from '../../scripts/bench/lib/mqttWire.js';
import { isMqttUtf8, PacketScanner } from '../../src/broker/packetGuard.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connectOk, end } from '../helpers/mqtt.js';
import { type Exchange, rawConnection, rawExchange } from '../helpers/rawSocket.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { expectAccepted } from './support/expect.js';

const SECRET = 'conformance-test-secret-0123456789';

/** Ill-formed UTF-8 (and U+0000), each inside an otherwise ASCII string. */
const BAD: Record<string, Buffer> = {
  'a lone continuation byte': Buffer.from([0x61, 0x80, 0x62]),
  'a truncated 2-byte sequence': Buffer.from([0x61, 0xc3]),
  'an overlong "/" (C0 AF)': Buffer.from([0x61, 0xc0, 0xaf]),
  'an overlong 3-byte NUL (E0 80 80)': Buffer.from([0xe0, 0x80, 0x80]),
  'an overlong 4-byte form (F0 8F BF BF)': Buffer.from([0xf0, 0x8f, 0xbf, 0xbf]),
  'a surrogate U+D800 (ED A0 80)': Buffer.from([0x61, 0xed, 0xa0, 0x80]),
  'a code point above U+10FFFF (F4 90 80 80)': Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  'an invalid byte FF': Buffer.from([0x61, 0xff]),
  'U+0000': Buffer.from([0x61, 0x00, 0x62]),
};
const GOOD = ['sensors/temp', 'capteurs/température', '传感器/温度', 'emoji/🌡️', 'edge/\u{10FFFF}/\uFFFF', ''];

function field(bytes: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function publishPacket(topic: Buffer, payload = Buffer.from('x')): Buffer {
  const body = Buffer.concat([field(topic), payload]);
  return Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(body.length), body]);
}

function subscribeRaw(filters: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([0, 1]), ...filters.map((f) => Buffer.concat([field(f), Buffer.from([0])]))]);
  return Buffer.concat([Buffer.from([0x82]), encodeRemainingLength(body.length), body]);
}

function unsubscribeRaw(filters: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from([0, 2]), ...filters.map(field)]);
  return Buffer.concat([Buffer.from([0xa2]), encodeRemainingLength(body.length), body]);
}

/** A CONNECT with raw byte fields (client id, optional will, username, password). */
function rawConnect(f: { clientId: Buffer; username?: Buffer; password?: string; will?: { topic: Buffer; message: Buffer }; clean?: boolean }): Buffer {
  let flags = f.clean === false ? 0 : 0x02;
  if (f.will) flags |= 0x04;
  if (f.username) flags |= 0x80;
  if (f.password !== undefined) flags |= 0x40;
  const variable = Buffer.concat([field(Buffer.from('MQTT')), Buffer.from([4, flags, 0, 0])]);
  const body = Buffer.concat([
    variable,
    field(f.clientId),
    ...(f.will ? [field(f.will.topic), field(f.will.message)] : []),
    ...(f.username ? [field(f.username)] : []),
    ...(f.password !== undefined ? [field(Buffer.from(f.password))] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(body.length), body]);
}

const PINGREQ = Buffer.from([0xc0, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/**
 * Connects with a good token, waits for CONNACK 0, then sends `packet` in `parts` writes, each
 * read by the server before the next is sent (its socket's bytesRead: the daemon runs in this
 * process), then a PINGREQ. Resolves when the server closes, or with the connection open once
 * the PINGRESP shows it has handled the packet.
 */
function afterConnack(d: TestDaemon, token: string, packet: Buffer, parts = 1): Promise<Exchange> {
  const clientId = `c-${Math.random().toString(36).slice(2, 8)}`;
  let connacked = false;
  let after = Buffer.alloc(0);
  return rawConnection(d.port, 5000, {
    onConnect: (s) => s.write(connectPacket({ clientId, username: 'u', password: token })),
    onData: (data, s, finish) => {
      if (connacked) {
        after = Buffer.concat([after, data]);
        if (after.subarray(-2).equals(PINGRESP)) finish(false);
        return;
      }
      connacked = true;
      assert.deepEqual([...data.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00], 'CONNACK 0 first');
      const server = (d.daemon.broker!.clientOf(clientId) as unknown as { conn: Socket }).conn;
      const size = Math.ceil(packet.length / parts);
      const writes = Array.from({ length: parts }, (_, k) => packet.subarray(k * size, (k + 1) * size)).filter((b) => b.length > 0);
      void (async () => {
        for (const w of writes) {
          const read = server.bytesRead + w.length;
          s.write(w);
          await waitUntil(() => server.bytesRead >= read || server.destroyed, { what: 'the server to read the write' });
        }
        s.write(PINGREQ);
      })().catch(() => finish(false));
    },
  });
}

async function counter(d: TestDaemon, metric: 'packetsRejected' | 'connectionsRefused', reason: string): Promise<number> {
  const m = await d.daemon.metrics[metric].get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('UTF-8 checks of the packet scanner (unit)', () => {
  it('accepts well-formed UTF-8 without U+0000, refuses every ill-formed case', () => {
    for (const g of GOOD) {
      const b = Buffer.from(g, 'utf8');
      assert.ok(isMqttUtf8(b, 0, b.length), g);
    }
    for (const [what, b] of Object.entries(BAD)) assert.ok(!isMqttUtf8(b, 0, b.length), what);
    // Every encoded scalar value of each length is accepted at the boundaries.
    for (const cp of [0x01, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0x10000, 0x10ffff]) {
      const b = Buffer.from(String.fromCodePoint(cp), 'utf8');
      assert.ok(isMqttUtf8(b, 0, b.length), cp.toString(16));
    }
  });

  it('finds a bad topic, filter, client id, will topic or username whatever the chunk boundaries', () => {
    const connectOk = rawConnect({ clientId: Buffer.from('ok'), username: Buffer.from('u'), password: 'p' });
    const cases: Array<{ stream: Buffer; field?: string }> = [
      { stream: Buffer.concat([connectOk, publishPacket(Buffer.from('a/b')), subscribeRaw([Buffer.from('a/#'), Buffer.from('é/+')])]) },
      { stream: Buffer.concat([connectOk, publishPacket(Buffer.from('a/b')), publishPacket(BAD['U+0000']!)]), field: 'topic' },
      { stream: Buffer.concat([connectOk, publishPacket(Buffer.from('x'), Buffer.alloc(300, 0xff))]) }, // a binary payload is not looked at
      { stream: Buffer.concat([connectOk, subscribeRaw([Buffer.from('ok/#'), BAD['a surrogate U+D800 (ED A0 80)']!])]), field: 'topic_filter' },
      { stream: Buffer.concat([connectOk, unsubscribeRaw([BAD['an overlong "/" (C0 AF)']!])]), field: 'topic_filter' },
      { stream: rawConnect({ clientId: BAD['an invalid byte FF']!, username: Buffer.from('u'), password: 'p' }), field: 'client_id' },
      { stream: rawConnect({ clientId: Buffer.from('c'), username: BAD['a lone continuation byte']!, password: 'p' }), field: 'username' },
      { stream: rawConnect({ clientId: Buffer.from('c'), will: { topic: BAD['U+0000']!, message: Buffer.from([0xff]) } }), field: 'will_topic' },
      {
        stream: rawConnect({
          clientId: Buffer.from('c'),
          will: { topic: Buffer.from('w'), message: Buffer.from([0xff, 0]) },
          username: Buffer.from('u'),
          password: '\u0000\u00ff',
        }),
      },
    ];
    const emptyId = rawConnect({ clientId: Buffer.alloc(0), clean: false, username: Buffer.from('u'), password: 'p' });
    for (let cut = 1; cut < emptyId.length; cut++) {
      const sc = new PacketScanner(1_048_576);
      sc.scan(emptyId.subarray(0, cut));
      sc.scan(emptyId.subarray(cut));
      assert.ok(sc.emptyClientIdWithoutCleanSession, `cut at ${cut}`);
    }
    const cleanEmpty = new PacketScanner(1_048_576);
    cleanEmpty.scan(rawConnect({ clientId: Buffer.alloc(0), clean: true }));
    assert.ok(!cleanEmpty.emptyClientIdWithoutCleanSession);
    for (const c of cases) {
      for (let cut = 1; cut < c.stream.length; cut++) {
        for (const pieces of [
          [c.stream.subarray(0, cut), c.stream.subarray(cut)],
          [c.stream.subarray(0, cut), c.stream.subarray(cut, cut + 3), c.stream.subarray(cut + 3)],
        ]) {
          const sc = new PacketScanner(1_048_576);
          let why: ReturnType<PacketScanner['scan']>;
          for (const p of pieces) why ??= sc.scan(p);
          assert.equal(why?.field, c.field, `cut at ${cut}`);
          if (c.field) assert.equal(why?.reason, 'invalid_utf8');
        }
      }
    }
  });
});

describe('MQTT 3.1.1 conformance on raw sockets (real daemon)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let good: string;
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } });
    good = await hsToken(SECRET, { sub: 'ok', exp: nowSec() + 600 });
  });
  after(() => d.stop());
  afterEach(async () => expectAccepted(d, good)); // everybody else is still served

  describe('zero-byte client id (MQTT-3.1.3-8)', () => {
    it('with CleanSession = 0: CONNACK 2 (identifier rejected) and closed, counted and logged', async () => {
      const before = await counter(d, 'connectionsRefused', 'identifier_rejected');
      const { reply, closedByServer } = await rawExchange(d.port, [connectPacket({ clientId: '', cleanSession: false, username: 'u', password: good })]);
      assert.deepEqual([...reply], [0x20, 0x02, 0x00, 0x02], `reply ${reply.toString('hex')}`);
      assert.ok(closedByServer);
      assert.equal(await counter(d, 'connectionsRefused', 'identifier_rejected'), before + 1);
      assert.ok(d.logs.some((l) => l.msg === 'connection refused: empty client id with CleanSession = 0 (MQTT-3.1.3-8)' && l.address === '127.0.0.1'));
      assert.equal(d.daemon.broker!.sessions.size(), 0);
      // Refused before any token work: not an authentication attempt.
      assert.ok(!d.logs.some((l) => l.msg === 'authentication refused' && String(l.clientId).startsWith('aedes_')));
    });

    it('with CleanSession = 0 and no token at all: still CONNACK 2 (the identifier is judged first)', async () => {
      const { reply } = await rawExchange(d.port, [connectPacket({ clientId: '', cleanSession: false })]);
      assert.equal(reply[3], 2);
    });

    it('with CleanSession = 1: accepted (the server assigns an id, MQTT-3.1.3-6)', async () => {
      const connect = connectPacket({ clientId: '', cleanSession: true, username: 'u', password: good });
      const { reply } = await rawExchange(d.port, [connect], { until: (r) => r.length >= 4 }); // the CONNACK: it stays open
      assert.deepEqual([...reply.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00]);
    });

    it('repeated refusals are logged at most once per 10 s (the rest are counted)', async () => {
      const lines = (): number => d.logs.filter((l) => l.msg === 'connection refused: empty client id with CleanSession = 0 (MQTT-3.1.3-8)').length;
      const before = lines();
      const n = await counter(d, 'connectionsRefused', 'identifier_rejected');
      for (let i = 0; i < 5; i++) await rawExchange(d.port, [connectPacket({ clientId: '', cleanSession: false })]);
      assert.equal(await counter(d, 'connectionsRefused', 'identifier_rejected'), n + 5);
      assert.ok(lines() - before <= 1, `${lines() - before} lines`);
    });
  });

  describe('ill-formed UTF-8 closes the connection (MQTT-1.5.3-1, MQTT-1.5.3-2)', () => {
    const closed = async (what: string, exchange: Promise<Exchange>, fieldName: string, before: number): Promise<void> => {
      const { closedByServer } = await exchange;
      assert.ok(closedByServer, `${what}: connection must be closed`);
      assert.ok((await counter(d, 'packetsRejected', 'invalid_utf8')) > before, `${what}: counted`);
      assert.ok(
        d.logs.some((l) => l.msg === 'connection closed: ill-formed UTF-8 or U+0000 in a string (MQTT-1.5.3-1, MQTT-1.5.3-2)' && l.field === fieldName),
      );
    };

    for (const [what, bytes] of Object.entries(BAD)) {
      it(`topic name of a PUBLISH with ${what}`, async () => {
        const before = await counter(d, 'packetsRejected', 'invalid_utf8');
        const sub = await connectOk(d.port, { username: 'u', password: good, clientId: 'watcher' });
        let delivered = 0;
        sub.on('message', () => delivered++);
        await new Promise<void>((resolve, reject) => sub.subscribe('#', (err) => (err ? reject(err) : resolve())));
        await closed(what, afterConnack(d, good, publishPacket(Buffer.concat([Buffer.from('sensors/'), bytes]))), 'topic', before);
        assert.equal(delivered, 0, 'nothing was delivered, not even with U+FFFD');
        await end(sub);
      });
    }

    it('a topic split across TCP reads is judged the same', async () => {
      const before = await counter(d, 'packetsRejected', 'invalid_utf8');
      const packet = publishPacket(
        Buffer.concat([Buffer.from('sensors/long/topic/'), BAD['a surrogate U+D800 (ED A0 80)']!, Buffer.from('/tail')]),
        Buffer.alloc(2000, 0x61),
      );
      await closed('split', afterConnack(d, good, packet, 8), 'topic', before);
    });

    it('a well-formed non-ASCII topic and a binary payload with NUL and FF bytes are delivered', async () => {
      const sub = await connectOk(d.port, { username: 'u', password: good, clientId: 'good-sub' });
      const got = new Promise<{ topic: string; payload: Buffer }>((resolve) => sub.once('message', (topic, payload) => resolve({ topic, payload })));
      await new Promise<void>((resolve, reject) => sub.subscribe('capteurs/#', (err) => (err ? reject(err) : resolve())));
      const payload = Buffer.from([0x00, 0xff, 0xc0, 0xaf]);
      const { closedByServer } = await afterConnack(d, good, publishPacket(Buffer.from('capteurs/température/🌡️'), payload));
      assert.ok(!closedByServer);
      const m = await got;
      assert.equal(m.topic, 'capteurs/température/🌡️');
      assert.deepEqual(m.payload, payload);
      await end(sub);
    });

    for (const [what, bytes] of Object.entries({
      'U+0000': BAD['U+0000']!,
      'a surrogate': BAD['a surrogate U+D800 (ED A0 80)']!,
      'an overlong form': BAD['an overlong "/" (C0 AF)']!,
    })) {
      it(`topic filter of a SUBSCRIBE with ${what} (no SUBACK)`, async () => {
        const before = await counter(d, 'packetsRejected', 'invalid_utf8');
        const ex = afterConnack(d, good, subscribeRaw([Buffer.from('ok/#'), Buffer.concat([Buffer.from('cmd/'), bytes])]));
        await closed(what, ex, 'topic_filter', before);
        const { reply } = await ex;
        assert.ok(!reply.subarray(4).includes(0x90), 'no SUBACK');
      });

      it(`topic filter of an UNSUBSCRIBE with ${what}`, async () => {
        const before = await counter(d, 'packetsRejected', 'invalid_utf8');
        await closed(what, afterConnack(d, good, unsubscribeRaw([Buffer.concat([Buffer.from('cmd/'), bytes])])), 'topic_filter', before);
      });

      it(`client id of a CONNECT with ${what}: closed without CONNACK`, async () => {
        const before = await counter(d, 'packetsRejected', 'invalid_utf8');
        const ex = rawExchange(d.port, [rawConnect({ clientId: Buffer.concat([Buffer.from('dev-'), bytes]), username: Buffer.from('u'), password: good })]);
        await closed(what, ex, 'client_id', before);
        assert.equal((await ex).reply.length, 0);
      });

      it(`username of a CONNECT with ${what}: closed without CONNACK`, async () => {
        const before = await counter(d, 'packetsRejected', 'invalid_utf8');
        const ex = rawExchange(d.port, [rawConnect({ clientId: Buffer.from('dev'), username: Buffer.concat([Buffer.from('user-'), bytes]), password: good })]);
        await closed(what, ex, 'username', before);
        assert.equal((await ex).reply.length, 0);
      });

      it(`will topic of a CONNECT with ${what}: closed without CONNACK`, async () => {
        const before = await counter(d, 'packetsRejected', 'invalid_utf8');
        const ex = rawExchange(d.port, [
          rawConnect({
            clientId: Buffer.from('dev'),
            will: { topic: Buffer.concat([Buffer.from('will/'), bytes]), message: Buffer.from('bye') },
            username: Buffer.from('u'),
            password: good,
          }),
        ]);
        await closed(what, ex, 'will_topic', before);
      });
    }

    it('the password is binary: NUL and FF bytes in it are not a UTF-8 failure (a JWT refusal instead)', async () => {
      const before = await counter(d, 'packetsRejected', 'invalid_utf8');
      const p = connectPacket({ clientId: 'binpw', username: 'u', password: Buffer.from([0x00, 0xff, 0xc0, 0xaf]) });
      const { reply } = await rawExchange(d.port, [p]);
      assert.deepEqual([...reply.subarray(0, 4)], [0x20, 0x02, 0x00, 0x04], 'CONNACK 4, not a close');
      assert.equal(await counter(d, 'packetsRejected', 'invalid_utf8'), before);
    });

    it('a SUBSCRIBE with well-formed filters is still granted', async () => {
      const { reply, closedByServer } = await afterConnack(d, good, subscribePacket(7, 'ok/é/#', 0));
      assert.ok(!closedByServer);
      assert.deepEqual([...reply.subarray(4, 9)], [0x90, 0x03, 0x00, 0x07, 0x00]);
    });
  });
});

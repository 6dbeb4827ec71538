// The packet scanner (src/broker/packetGuard.ts) on MQTT 5 streams, on its own:
// it learns the protocol level from the CONNECT and reads each later packet with
// the MQTT 5 layout (properties blocks, MQTT 5.0 section 2.2.2), whatever the chunk
// boundaries; it checks the UTF-8 of strings and string properties; it bounds the
// first packet by the level's CONNECT bound; it never throws on garbage. Packets
// are built with mqtt-packet (an independent encoder); ill-formed UTF-8 is patched
// into them afterwards, since a JavaScript string always encodes well-formed.
import assert from 'node:assert/strict';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { encodeRemainingLength } from '../../scripts/bench/lib/mqttWire.js';
import { connectLimit, MAX_CONNECT_REMAINING_LENGTH, MAX_CONNECT_V5_REMAINING_LENGTH } from '../../src/broker/connectGuard.js';
import { MALFORMED, readVbi, walkProperties } from '../../src/broker/mqtt5Properties.js';
import { maximumPacketSize, PacketScanner, type PacketRejection } from '../../src/broker/packetGuard.js';

const MiB = 1_048_576;
const v5 = (p: Record<string, unknown>): Buffer => mqttPacket.generate(p as unknown as Packet, { protocolVersion: 5 });
const v4 = (p: Record<string, unknown>): Buffer => mqttPacket.generate(p as unknown as Packet, { protocolVersion: 4 });

/** Replaces the (only) occurrence of the ASCII `marker` with `bytes` of the same length. */
function patch(packet: Buffer, marker: string, bytes: number[]): Buffer {
  assert.equal(bytes.length, marker.length);
  const at = packet.indexOf(marker);
  assert.ok(at >= 0 && packet.indexOf(marker, at + 1) < 0, `one ${marker}`);
  const out = Buffer.from(packet);
  out.set(bytes, at);
  return out;
}
const SURROGATE = [0x61, 0xed, 0xa0, 0x80]; // 'a' + U+D800
const NUL = [0x61, 0x00, 0x62, 0x63];
const OVERLONG = [0x61, 0xc0, 0xaf, 0x62]; // 'a' + overlong '/' + 'b'

const connect5 = (extra: Record<string, unknown> = {}): Buffer =>
  v5({ cmd: 'connect', protocolVersion: 5, clientId: 'c5', clean: true, keepalive: 30, username: 'u', password: Buffer.from('p'), properties: { sessionExpiryInterval: 60, receiveMaximum: 20, userProperties: { site: 'nord', tags: ['a', 'b'] } }, ...extra });
const WILL = { topic: 'will/t', payload: Buffer.from([0xff, 0x00]), qos: 1, retain: false, properties: { willDelayInterval: 5, contentType: 'text/plain', responseTopic: 'r/t', correlationData: Buffer.from([0xff]), userProperties: { w: 'x' } } };

/** Feeds `stream` in the given pieces; the first rejection, if any. */
function scanPieces(pieces: Buffer[], max = MiB): { why?: PacketRejection; sc: PacketScanner } {
  const sc = new PacketScanner(max);
  let why: PacketRejection | undefined;
  for (const p of pieces) why ??= sc.scan(p);
  return { why, sc };
}

/** Every cut into two pieces and into three (the middle one 3 bytes long): the same verdict. */
function eachSplit(stream: Buffer, check: (why: PacketRejection | undefined, sc: PacketScanner, cut: number) => void): void {
  check(...(Object.values(scanPieces([stream])) as [PacketRejection | undefined, PacketScanner]), 0);
  for (let cut = 1; cut < stream.length; cut++) {
    for (const pieces of [[stream.subarray(0, cut), stream.subarray(cut)], [stream.subarray(0, cut), stream.subarray(cut, cut + 3), stream.subarray(cut + 3)]]) {
      const { why, sc } = scanPieces(pieces);
      check(why, sc, cut);
    }
  }
}

describe('PacketScanner with MQTT 5 (unit)', () => {
  const good = [
    connect5({ will: WILL }),
    v5({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 268_435_455, userProperties: { k: 'v' } }, subscriptions: [{ topic: 'a/#', qos: 1, nl: true, rap: true, rh: 2 }, { topic: 'é/+', qos: 0 }] }),
    v5({ cmd: 'publish', topic: 'a/b', payload: Buffer.from([0xff, 0, 0xfe]), qos: 0, retain: false, dup: false }),
    v5({ cmd: 'publish', topic: 'a/b', messageId: 7, payload: Buffer.alloc(300, 0xff), qos: 1, retain: false, dup: false, properties: { payloadFormatIndicator: false, messageExpiryInterval: 9, topicAlias: 3, responseTopic: 'resp/x', correlationData: Buffer.from([0xc0, 0xaf]), contentType: 'application/octet-stream', userProperties: { 'clé': 'valeur' } } }),
    v5({ cmd: 'publish', topic: '', messageId: 8, payload: Buffer.from('x'), qos: 2, retain: false, dup: false, properties: { topicAlias: 3 } }),
    v5({ cmd: 'unsubscribe', messageId: 2, properties: { userProperties: { why: 'done' } }, unsubscriptions: ['a/#', 'é/+'] }),
    v5({ cmd: 'puback', messageId: 5, reasonCode: 0x10, properties: { reasonString: 'no matching subscribers', userProperties: { a: 'b' } } }),
    v5({ cmd: 'puback', messageId: 6 }),
    v5({ cmd: 'pubrec', messageId: 6, reasonCode: 0 }),
    v5({ cmd: 'pingreq' }),
    v5({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from([0xff]), reasonString: 'again' } }),
    v5({ cmd: 'disconnect', reasonCode: 0x04, properties: { sessionExpiryInterval: 0, reasonString: 'bye', userProperties: { z: 'y' } } }),
  ];

  it('learns the protocol level from the CONNECT', () => {
    assert.equal(scanPieces([connect5()]).sc.protocolLevel, 5);
    assert.equal(scanPieces([v4({ cmd: 'connect', clientId: 'c', protocolVersion: 4 })]).sc.protocolLevel, 4);
    assert.equal(new PacketScanner(MiB).protocolLevel, 0);
  });

  it('accepts well-formed MQTT 5 packets with properties and finds every boundary, whatever the chunk boundaries', () => {
    const stream = Buffer.concat(good);
    eachSplit(stream, (why, sc, cut) => {
      assert.equal(why, undefined, `cut at ${cut}: ${JSON.stringify(why)}`);
      assert.equal(sc.headersSeen, good.length, `cut at ${cut}`);
    });
    const sc = new PacketScanner(MiB);
    for (let i = 0; i < stream.length; i++) assert.equal(sc.scan(stream.subarray(i, i + 1)), undefined);
    assert.equal(sc.headersSeen, good.length);
  });

  it('reads a SUBSCRIBE with the MQTT 5 layout, not the 3.1.1 one', () => {
    // Read with the 3.1.1 layout, the properties block (02 0B 05: Subscription Identifier 5)
    // would begin a 523-byte "topic filter" running over the real filters and their
    // subscription options bytes (00): U+0000, a false rejection of a valid SUBSCRIBE.
    const sub = v5({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 5 }, subscriptions: Array.from({ length: 40 }, (_, k) => ({ topic: `sensors/${String(k).padStart(2, '0')}/#`, qos: 0 })) });
    assert.deepEqual([...sub.subarray(3, 8)], [0x00, 0x01, 0x02, 0x0b, 0x05]);
    eachSplit(Buffer.concat([connect5(), sub]), (why, sc, cut) => {
      assert.equal(why, undefined, `cut at ${cut}`);
      assert.equal(sc.headersSeen, 2);
    });
    // A 3.1.1 connection keeps the 3.1.1 layout: the same bytes are refused there.
    const asV4 = Buffer.concat([v4({ cmd: 'connect', clientId: 'c', protocolVersion: 4 }), sub]);
    assert.equal(scanPieces([asV4]).why?.field, 'topic_filter');
  });

  const bad: Array<{ what: string; stream: Buffer; field: string; packetType: number }> = [
    { what: 'client id', stream: patch(connect5({ clientId: 'BAD!' }), 'BAD!', SURROGATE), field: 'client_id', packetType: 1 },
    { what: 'will topic', stream: patch(connect5({ will: { ...WILL, topic: 'BAD!' } }), 'BAD!', NUL), field: 'will_topic', packetType: 1 },
    { what: 'user name', stream: patch(connect5({ username: 'BAD!' }), 'BAD!', OVERLONG), field: 'username', packetType: 1 },
    { what: 'CONNECT user property name', stream: patch(connect5({ properties: { userProperties: { 'BAD!': 'v' } } }), 'BAD!', SURROGATE), field: 'user_property', packetType: 1 },
    { what: 'CONNECT authentication method', stream: patch(connect5({ properties: { authenticationMethod: 'BAD!', authenticationData: Buffer.from('t') } }), 'BAD!', NUL), field: 'authentication_method', packetType: 1 },
    { what: 'will content type', stream: patch(connect5({ will: { ...WILL, properties: { contentType: 'BAD!' } } }), 'BAD!', OVERLONG), field: 'content_type', packetType: 1 },
    { what: 'will user property value', stream: patch(connect5({ will: { ...WILL, properties: { userProperties: { k: 'BAD!' } } } }), 'BAD!', SURROGATE), field: 'user_property', packetType: 1 },
    { what: 'PUBLISH topic', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'publish', topic: 'BAD!', payload: 'x', qos: 1, messageId: 1, properties: { contentType: 'c' } }), 'BAD!', NUL)]), field: 'topic', packetType: 3 },
    { what: 'PUBLISH user property (QoS 0)', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'publish', topic: 't', payload: 'x', qos: 0, properties: { userProperties: { k: 'BAD!' } } }), 'BAD!', SURROGATE)]), field: 'user_property', packetType: 3 },
    { what: 'PUBLISH response topic (QoS 1)', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'publish', topic: 't', payload: Buffer.alloc(500), qos: 1, messageId: 9, properties: { responseTopic: 'BAD!' } }), 'BAD!', OVERLONG)]), field: 'response_topic', packetType: 3 },
    { what: 'SUBSCRIBE topic filter', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 5 }, subscriptions: [{ topic: 'ok/#', qos: 0 }, { topic: 'BAD!', qos: 1 }] }), 'BAD!', SURROGATE)]), field: 'topic_filter', packetType: 8 },
    { what: 'SUBSCRIBE user property', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'subscribe', messageId: 1, properties: { userProperties: { 'BAD!': 'v' } }, subscriptions: [{ topic: 'ok', qos: 0 }] }), 'BAD!', NUL)]), field: 'user_property', packetType: 8 },
    { what: 'UNSUBSCRIBE topic filter', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'unsubscribe', messageId: 1, properties: { userProperties: { k: 'v' } }, unsubscriptions: ['BAD!'] }), 'BAD!', OVERLONG)]), field: 'topic_filter', packetType: 10 },
    { what: 'PUBACK reason string', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'puback', messageId: 1, reasonCode: 0x80, properties: { reasonString: 'BAD!' } }), 'BAD!', NUL)]), field: 'reason_string', packetType: 4 },
    { what: 'DISCONNECT reason string', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'disconnect', reasonCode: 0, properties: { reasonString: 'BAD!' } }), 'BAD!', SURROGATE)]), field: 'reason_string', packetType: 14 },
    { what: 'AUTH authentication method', stream: Buffer.concat([connect5(), patch(v5({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'BAD!' } }), 'BAD!', OVERLONG)]), field: 'authentication_method', packetType: 15 },
  ];
  for (const c of bad) {
    it(`refuses ill-formed UTF-8 in a ${c.what}, whatever the chunk boundaries`, () => {
      eachSplit(c.stream, (why, _sc, cut) => assert.deepEqual(why, { reason: 'invalid_utf8', packetType: c.packetType, field: c.field }, `cut at ${cut}`));
    });
  }

  it('bounds the first packet by its protocol level (connectGuard.ts)', () => {
    const header = (level: number, length: number): Buffer => Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(length), Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, level, 0x02, 0, 30])]);
    assert.equal(MAX_CONNECT_V5_REMAINING_LENGTH, 458_773);
    assert.equal(scanPieces([header(5, MAX_CONNECT_REMAINING_LENGTH + 1)]).why, undefined);
    assert.equal(scanPieces([header(5, MAX_CONNECT_V5_REMAINING_LENGTH)]).why, undefined);
    assert.equal(scanPieces([header(0x85, MAX_CONNECT_V5_REMAINING_LENGTH)]).why, undefined); // bridge bit, as mqtt-packet reads it
    assert.deepEqual(scanPieces([header(5, MAX_CONNECT_V5_REMAINING_LENGTH + 1)]).why, { reason: 'too_large', packetType: 1, announced: MAX_CONNECT_V5_REMAINING_LENGTH + 1, limit: MAX_CONNECT_V5_REMAINING_LENGTH });
    for (const level of [3, 4, 6]) {
      assert.deepEqual(scanPieces([header(level, MAX_CONNECT_REMAINING_LENGTH + 1)]).why?.limit, MAX_CONNECT_REMAINING_LENGTH, `level ${level}`);
      assert.equal(scanPieces([header(level, MAX_CONNECT_REMAINING_LENGTH)]).why, undefined, `level ${level}`);
    }
    // Never above broker.maxPacketBytes.
    assert.equal(scanPieces([header(5, 400_001)], 400_000).why?.limit, 400_000);
    assert.equal(scanPieces([header(5, 2049)], 2048).why?.limit, 2048);
    assert.equal(connectLimit(5, 2048), 2048);
    assert.equal(connectLimit(0, 2 * MiB), MAX_CONNECT_REMAINING_LENGTH);
    // The level must come in the same read as the fixed header: otherwise the 3.1.1 bound applies.
    const h = header(5, MAX_CONNECT_REMAINING_LENGTH + 1);
    for (const cut of [4, 5, 9, 10]) assert.equal(scanPieces([h.subarray(0, cut), h.subarray(cut)]).why?.limit, MAX_CONNECT_REMAINING_LENGTH, `cut at ${cut}`);
    assert.equal(scanPieces([h.subarray(0, 11), h.subarray(11)]).why, undefined);
  });

  it('maximumPacketSize() is exactly the largest whole packet the guard lets through', () => {
    assert.equal(maximumPacketSize(MiB), MiB + 1 + 3);
    assert.equal(maximumPacketSize(127), 129);
    assert.equal(maximumPacketSize(128), 131);
    assert.equal(maximumPacketSize(268_435_455), 268_435_460);
    const connect = connect5();
    for (const max of [1024, 16_383, 16_384, 16_385, 65_536, MiB, 2_097_151, 2_097_152, 268_435_455]) {
      for (let r = Math.max(0, max - 130); r <= max + 130; r++) {
        const total = 1 + encodeRemainingLength(r).length + r;
        const why = new PacketScanner(max).scan(Buffer.concat([connect, Buffer.from([0x30]), encodeRemainingLength(r)]));
        assert.equal(why === undefined, total <= maximumPacketSize(max), `max ${max}, remaining length ${r}`);
      }
    }
  });

  it('walks properties blocks and reports malformed ones as such, never as UTF-8 and never by throwing', () => {
    const props = (bytes: number[]): Buffer => Buffer.from([bytes.length, ...bytes]);
    assert.equal(walkProperties(props([0x26, 0, 1, 0x6b, 0, 1, 0x76]), 0, 8), 8);
    assert.equal(walkProperties(props([0x26, 0, 1, 0x6b, 0, 1, 0x00]), 0, 8), 'user_property');
    assert.equal(walkProperties(props([0x1f, 0, 1, 0xff]), 0, 5), 'reason_string');
    assert.equal(walkProperties(props([0x12, 0, 1, 0xff]), 0, 5), 'string_property');
    assert.equal(walkProperties(props([0x09, 0, 1, 0xff]), 0, 5), 5); // Correlation Data: binary
    assert.equal(walkProperties(props([0x7f, 0]), 0, 3), MALFORMED); // unknown identifier
    assert.equal(walkProperties(props([0x00]), 0, 2), MALFORMED);
    assert.equal(walkProperties(props([0x02, 0, 0]), 0, 4), MALFORMED); // four-byte integer cut short
    assert.equal(walkProperties(props([0x0b, 0x80]), 0, 3), MALFORMED); // VBI cut short
    assert.equal(walkProperties(Buffer.from([9, 0x23, 0, 1]), 0, 4), MALFORMED); // block beyond the packet
    assert.equal(walkProperties(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), 0, 5), MALFORMED);
    assert.equal(readVbi(Buffer.from([0xff, 0xff, 0xff, 0x7f]), 0, 4), 268_435_455 * 4 + 3);
    assert.equal(readVbi(Buffer.from([0x00]), 0, 1), 0);
    // Random bytes after an MQTT 5 CONNECT, and random corruptions of good packets:
    // a verdict or nothing, never an exception.
    let seed = 42;
    const rnd = (n: number): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed % n);
    for (let round = 0; round < 3000; round++) {
      const base = Buffer.from(good[rnd(good.length)]!);
      for (let k = 0; k < 1 + rnd(4); k++) base[rnd(base.length)] = rnd(256);
      const junk = Buffer.from(Array.from({ length: rnd(40) }, () => rnd(256)));
      const stream = Buffer.concat([good[0]!, base, junk]);
      const cut = rnd(stream.length);
      const { why } = scanPieces([stream.subarray(0, cut), stream.subarray(cut)]);
      if (why) assert.ok(['invalid_utf8', 'too_large', 'malformed_length'].includes(why.reason), JSON.stringify(why));
    }
  });
});

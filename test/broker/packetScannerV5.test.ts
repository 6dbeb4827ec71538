// The packet scanner (src/broker/packetGuard.ts) on MQTT 5 streams, on its own:
// it learns the protocol level from the CONNECT and reads each later packet with
// the MQTT 5 layout (properties blocks, MQTT 5.0 section 2.2.2), whatever the chunk
// boundaries; it checks the UTF-8 of strings and string properties; it holds MQTT 5
// packets to the rules of src/broker/mqtt5Rules.ts (properties readable, allowed in
// their packet, once each, in range; a few fixed-header and body rules) and MQTT
// 3.1.1 ones to none of them; it bounds the first packet by the level's CONNECT
// bound; it never throws on garbage. Good packets are built with mqtt-packet (an
// independent encoder); ill-formed UTF-8 is patched into them afterwards, since a
// JavaScript string always encodes well-formed; packets breaking a rule are built
// byte by byte (support/v5wire.ts), as no encoder writes them.
import assert from 'node:assert/strict';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { encodeRemainingLength } from '../../scripts/bench/lib/mqttWire.js';
import { connectLimit, MAX_CONNECT_REMAINING_LENGTH, MAX_CONNECT_V5_REMAINING_LENGTH } from '../../src/broker/connectGuard.js';
import { MALFORMED, readVbi, walkProperties } from '../../src/broker/mqtt5Properties.js';
import { IN_ACK, IN_CONNECT, IN_DISCONNECT, IN_PUBLISH, IN_SUBSCRIBE } from '../../src/broker/mqtt5Rules.js';
import { maximumPacketSize, type PacketRejection, PacketScanner } from '../../src/broker/packetGuard.js';
import { props as block, P, packet, prop, publishV5, connectV5 as rawConnect, subscribeV5 } from './support/v5wire.js';

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
  v5({
    cmd: 'connect',
    protocolVersion: 5,
    clientId: 'c5',
    clean: true,
    keepalive: 30,
    username: 'u',
    password: Buffer.from('p'),
    properties: { sessionExpiryInterval: 60, receiveMaximum: 20, userProperties: { site: 'nord', tags: ['a', 'b'] } },
    ...extra,
  });
const WILL = {
  topic: 'will/t',
  payload: Buffer.from([0xff, 0x00]),
  qos: 1,
  retain: false,
  properties: { willDelayInterval: 5, contentType: 'text/plain', responseTopic: 'r/t', correlationData: Buffer.from([0xff]), userProperties: { w: 'x' } },
};

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
    for (const pieces of [
      [stream.subarray(0, cut), stream.subarray(cut)],
      [stream.subarray(0, cut), stream.subarray(cut, cut + 3), stream.subarray(cut + 3)],
    ]) {
      const { why, sc } = scanPieces(pieces);
      check(why, sc, cut);
    }
  }
}

describe('PacketScanner with MQTT 5 (unit)', () => {
  const good = [
    connect5({ will: WILL }),
    v5({
      cmd: 'subscribe',
      messageId: 1,
      properties: { subscriptionIdentifier: 268_435_455, userProperties: { k: 'v' } },
      subscriptions: [
        { topic: 'a/#', qos: 1, nl: true, rap: true, rh: 2 },
        { topic: 'é/+', qos: 0 },
      ],
    }),
    v5({ cmd: 'publish', topic: 'a/b', payload: Buffer.from([0xff, 0, 0xfe]), qos: 0, retain: false, dup: false }),
    v5({
      cmd: 'publish',
      topic: 'a/b',
      messageId: 7,
      payload: Buffer.alloc(300, 0xff),
      qos: 1,
      retain: false,
      dup: false,
      properties: {
        payloadFormatIndicator: false,
        messageExpiryInterval: 9,
        topicAlias: 3,
        responseTopic: 'resp/x',
        correlationData: Buffer.from([0xc0, 0xaf]),
        contentType: 'application/octet-stream',
        userProperties: { clé: 'valeur' },
      },
    }),
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
    const sub = v5({
      cmd: 'subscribe',
      messageId: 1,
      properties: { subscriptionIdentifier: 5 },
      subscriptions: Array.from({ length: 40 }, (_, k) => ({ topic: `sensors/${String(k).padStart(2, '0')}/#`, qos: 0 })),
    });
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
    {
      what: 'CONNECT user property name',
      stream: patch(connect5({ properties: { userProperties: { 'BAD!': 'v' } } }), 'BAD!', SURROGATE),
      field: 'user_property',
      packetType: 1,
    },
    {
      what: 'CONNECT authentication method',
      stream: patch(connect5({ properties: { authenticationMethod: 'BAD!', authenticationData: Buffer.from('t') } }), 'BAD!', NUL),
      field: 'authentication_method',
      packetType: 1,
    },
    {
      what: 'will content type',
      stream: patch(connect5({ will: { ...WILL, properties: { contentType: 'BAD!' } } }), 'BAD!', OVERLONG),
      field: 'content_type',
      packetType: 1,
    },
    {
      what: 'will user property value',
      stream: patch(connect5({ will: { ...WILL, properties: { userProperties: { k: 'BAD!' } } } }), 'BAD!', SURROGATE),
      field: 'user_property',
      packetType: 1,
    },
    {
      what: 'PUBLISH topic',
      stream: Buffer.concat([
        connect5(),
        patch(v5({ cmd: 'publish', topic: 'BAD!', payload: 'x', qos: 1, messageId: 1, properties: { contentType: 'c' } }), 'BAD!', NUL),
      ]),
      field: 'topic',
      packetType: 3,
    },
    {
      what: 'PUBLISH user property (QoS 0)',
      stream: Buffer.concat([
        connect5(),
        patch(v5({ cmd: 'publish', topic: 't', payload: 'x', qos: 0, properties: { userProperties: { k: 'BAD!' } } }), 'BAD!', SURROGATE),
      ]),
      field: 'user_property',
      packetType: 3,
    },
    {
      what: 'PUBLISH response topic (QoS 1)',
      stream: Buffer.concat([
        connect5(),
        patch(v5({ cmd: 'publish', topic: 't', payload: Buffer.alloc(500), qos: 1, messageId: 9, properties: { responseTopic: 'BAD!' } }), 'BAD!', OVERLONG),
      ]),
      field: 'response_topic',
      packetType: 3,
    },
    {
      what: 'SUBSCRIBE topic filter',
      stream: Buffer.concat([
        connect5(),
        patch(
          v5({
            cmd: 'subscribe',
            messageId: 1,
            properties: { subscriptionIdentifier: 5 },
            subscriptions: [
              { topic: 'ok/#', qos: 0 },
              { topic: 'BAD!', qos: 1 },
            ],
          }),
          'BAD!',
          SURROGATE,
        ),
      ]),
      field: 'topic_filter',
      packetType: 8,
    },
    {
      what: 'SUBSCRIBE user property',
      stream: Buffer.concat([
        connect5(),
        patch(v5({ cmd: 'subscribe', messageId: 1, properties: { userProperties: { 'BAD!': 'v' } }, subscriptions: [{ topic: 'ok', qos: 0 }] }), 'BAD!', NUL),
      ]),
      field: 'user_property',
      packetType: 8,
    },
    {
      what: 'UNSUBSCRIBE topic filter',
      stream: Buffer.concat([
        connect5(),
        patch(v5({ cmd: 'unsubscribe', messageId: 1, properties: { userProperties: { k: 'v' } }, unsubscriptions: ['BAD!'] }), 'BAD!', OVERLONG),
      ]),
      field: 'topic_filter',
      packetType: 10,
    },
    {
      what: 'PUBACK reason string',
      stream: Buffer.concat([connect5(), patch(v5({ cmd: 'puback', messageId: 1, reasonCode: 0x80, properties: { reasonString: 'BAD!' } }), 'BAD!', NUL)]),
      field: 'reason_string',
      packetType: 4,
    },
    {
      what: 'DISCONNECT reason string',
      stream: Buffer.concat([connect5(), patch(v5({ cmd: 'disconnect', reasonCode: 0, properties: { reasonString: 'BAD!' } }), 'BAD!', SURROGATE)]),
      field: 'reason_string',
      packetType: 14,
    },
    {
      what: 'AUTH authentication method',
      stream: Buffer.concat([connect5(), patch(v5({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'BAD!' } }), 'BAD!', OVERLONG)]),
      field: 'authentication_method',
      packetType: 15,
    },
  ];
  for (const c of bad) {
    it(`refuses ill-formed UTF-8 in a ${c.what}, whatever the chunk boundaries`, () => {
      eachSplit(c.stream, (why, _sc, cut) => assert.deepEqual(why, { reason: 'invalid_utf8', packetType: c.packetType, field: c.field }, `cut at ${cut}`));
    });
  }

  // Every rule of src/broker/mqtt5Rules.ts, each on one stream: the verdict, whatever the chunk boundaries.
  const afterConnect = (...packets: Buffer[]): Buffer => Buffer.concat([connect5(), ...packets]);
  const c = (properties: Buffer, extra: Partial<Parameters<typeof rawConnect>[0]> = {}): Buffer =>
    rawConnect({ clientId: 'c', password: 'p', properties, ...extra });
  const withWill = (properties: Buffer): Buffer => rawConnect({ clientId: 'c', password: 'p', will: { topic: 'w', payload: 'x', properties } });
  const twice = (p: Buffer): Buffer => block(p, p);
  const hex = (h: string): Buffer => Buffer.from(h.replace(/ /g, ''), 'hex');
  const M = 'malformed_properties';
  const PE = 'protocol_error';
  const MP = 'malformed_packet';
  const rules: Array<{ what: string; stream: Buffer; why: Omit<PacketRejection, 'address'> }> = [
    // CONNECT (section 3.1.2.11) and will properties (section 3.1.3.2).
    {
      what: 'CONNECT with two Session Expiry Intervals',
      stream: c(twice(prop.four(P.sessionExpiry, 1))),
      why: { reason: PE, packetType: 1, rule: 'duplicate_property', property: 0x11 },
    },
    {
      what: 'CONNECT whose Authentication Method runs past the packet (the crash without a token)',
      stream: hex('10 14 00 04 4d 51 54 54 05 82 00 1e 03 15 00 ff 00 01 63 00 01 75'),
      why: { reason: M, packetType: 1, rule: 'unreadable_properties', property: 0x15 },
    },
    {
      what: 'CONNECT with two Authentication Methods',
      stream: c(block(prop.str(P.authMethod, 'JWT'), prop.str(P.authMethod, 'JWT'))),
      why: { reason: PE, packetType: 1, rule: 'duplicate_property', property: 0x15 },
    },
    {
      what: 'CONNECT with a Topic Alias',
      stream: c(block(prop.two(P.topicAlias, 1))),
      why: { reason: M, packetType: 1, rule: 'property_not_allowed', property: 0x23 },
    },
    {
      what: 'CONNECT with a Subscription Identifier',
      stream: c(block(prop.vbi(P.subscriptionId, 1))),
      why: { reason: M, packetType: 1, rule: 'property_not_allowed', property: 0x0b },
    },
    {
      what: 'CONNECT with a Content Type',
      stream: c(block(prop.str(P.contentType, 'x'))),
      why: { reason: M, packetType: 1, rule: 'property_not_allowed', property: 0x03 },
    },
    {
      what: 'CONNECT with Request Problem Information 2',
      stream: c(block(prop.byte(P.requestProblemInfo, 2))),
      why: { reason: PE, packetType: 1, rule: 'value_out_of_range', property: 0x17 },
    },
    {
      what: 'CONNECT with Request Response Information 2',
      stream: c(block(prop.byte(P.requestResponseInfo, 2))),
      why: { reason: PE, packetType: 1, rule: 'value_out_of_range', property: 0x19 },
    },
    {
      what: 'CONNECT with Maximum Packet Size 0',
      stream: c(block(prop.four(P.maximumPacketSize, 0))),
      why: { reason: PE, packetType: 1, rule: 'value_out_of_range', property: 0x27 },
    },
    {
      what: 'CONNECT with a properties length in two bytes for 0',
      stream: c(Buffer.from([0x80, 0x00])),
      why: { reason: M, packetType: 1, rule: 'unreadable_properties' },
    },
    {
      what: 'CONNECT with Will QoS 3',
      stream: rawConnect({ clientId: 'c', password: 'p', flags: 0xc6 | 0x18, will: { topic: 'w', payload: 'x' } }),
      why: { reason: MP, packetType: 1, rule: 'will_qos_3' },
    },
    {
      what: 'will with two Will Delay Intervals',
      stream: withWill(twice(prop.four(0x18, 1))),
      why: { reason: PE, packetType: 1, rule: 'duplicate_property', property: 0x18 },
    },
    {
      what: 'will with a Session Expiry Interval (a CONNECT property)',
      stream: withWill(block(prop.four(P.sessionExpiry, 1))),
      why: { reason: M, packetType: 1, rule: 'property_not_allowed', property: 0x11 },
    },
    {
      what: 'will with Payload Format Indicator 2',
      stream: withWill(block(prop.byte(P.payloadFormat, 2))),
      why: { reason: PE, packetType: 1, rule: 'value_out_of_range', property: 0x01 },
    },
    // PUBLISH (section 3.3).
    {
      what: 'PUBLISH whose Response Topic runs past the packet (the crash)',
      stream: afterConnect(hex('30 07 00 01 74 03 08 00 ff')),
      why: { reason: M, packetType: 3, rule: 'unreadable_properties', property: 0x08 },
    },
    {
      what: 'retained PUBLISH whose User Property runs past the packet',
      stream: afterConnect(hex('31 08 00 01 70 03 26 00 ff 78')),
      why: { reason: M, packetType: 3, rule: 'unreadable_properties', property: 0x26 },
    },
    {
      what: 'PUBLISH with two Content Types',
      stream: afterConnect(publishV5('t', 'x', { qos: 1, properties: block(prop.str(P.contentType, 'a'), prop.str(P.contentType, 'b')) })),
      why: { reason: PE, packetType: 3, rule: 'duplicate_property', property: 0x03 },
    },
    {
      what: 'PUBLISH with a Subscription Identifier',
      stream: afterConnect(publishV5('t', 'x', { qos: 1, properties: block(prop.vbi(P.subscriptionId, 5)) })),
      why: { reason: PE, packetType: 3, rule: 'client_must_not_send', property: 0x0b },
    },
    {
      what: 'PUBLISH with a Session Expiry Interval',
      stream: afterConnect(publishV5('t', 'x', { properties: block(prop.four(P.sessionExpiry, 5)) })),
      why: { reason: M, packetType: 3, rule: 'property_not_allowed', property: 0x11 },
    },
    {
      what: 'PUBLISH with Payload Format Indicator 2',
      stream: afterConnect(publishV5('t', 'x', { properties: block(prop.byte(P.payloadFormat, 2)) })),
      why: { reason: PE, packetType: 3, rule: 'value_out_of_range', property: 0x01 },
    },
    { what: 'PUBLISH QoS 0 with DUP', stream: afterConnect(publishV5('t', 'x', { first: 0x38 })), why: { reason: MP, packetType: 3, rule: 'dup_on_qos_0' } },
    { what: 'PUBLISH QoS 3', stream: afterConnect(publishV5('t', 'x', { qos: 1, first: 0x36 })), why: { reason: MP, packetType: 3, rule: 'qos_3' } },
    {
      what: 'PUBLISH QoS 1 with packet identifier 0',
      stream: afterConnect(publishV5('t', 'x', { qos: 1, id: 0 })),
      why: { reason: PE, packetType: 3, rule: 'packet_id_0' },
    },
    {
      what: 'PUBLISH QoS 2 cut before its packet identifier',
      stream: afterConnect(hex('34 03 00 01 74')),
      why: { reason: MP, packetType: 3, rule: 'truncated' },
    },
    {
      what: 'PUBLISH without its properties length',
      stream: afterConnect(hex('30 03 00 01 74')),
      why: { reason: M, packetType: 3, rule: 'unreadable_properties' },
    },
    // SUBSCRIBE, UNSUBSCRIBE (sections 3.8, 3.10).
    {
      what: 'SUBSCRIBE with two Subscription Identifiers',
      stream: afterConnect(subscribeV5(1, [['a/#', 0]], twice(prop.vbi(P.subscriptionId, 1)))),
      why: { reason: PE, packetType: 8, rule: 'duplicate_property', property: 0x0b },
    },
    {
      what: 'SUBSCRIBE with Subscription Identifier 0',
      stream: afterConnect(subscribeV5(1, [['a/#', 0]], block(prop.vbi(P.subscriptionId, 0)))),
      why: { reason: PE, packetType: 8, rule: 'value_out_of_range', property: 0x0b },
    },
    { what: 'SUBSCRIBE with packet identifier 0', stream: afterConnect(subscribeV5(0, [['a/#', 0]])), why: { reason: PE, packetType: 8, rule: 'packet_id_0' } },
    {
      what: 'SUBSCRIBE with a Topic Alias',
      stream: afterConnect(subscribeV5(1, [['a/#', 0]], block(prop.two(P.topicAlias, 1)))),
      why: { reason: M, packetType: 8, rule: 'property_not_allowed', property: 0x23 },
    },
    {
      what: 'UNSUBSCRIBE with a Reason String',
      stream: afterConnect(packet(0xa2, Buffer.from([0, 1]), block(prop.str(0x1f, 'r')), Buffer.from([0, 1, 0x61]))),
      why: { reason: M, packetType: 10, rule: 'property_not_allowed', property: 0x1f },
    },
    // The rest of the session (sections 3.4-3.15).
    {
      what: 'PUBACK with two Reason Strings',
      stream: afterConnect(packet(0x40, Buffer.from([0, 1, 0]), twice(prop.str(0x1f, 'r')))),
      why: { reason: PE, packetType: 4, rule: 'duplicate_property', property: 0x1f },
    },
    {
      what: 'PUBREL with bytes after its properties',
      stream: afterConnect(packet(0x62, Buffer.from([0, 1, 0, 0, 0xff, 0xff]))),
      why: { reason: MP, packetType: 6, rule: 'trailing_bytes' },
    },
    { what: 'PINGREQ with a body', stream: afterConnect(packet(0xc0, Buffer.from([1]))), why: { reason: MP, packetType: 12, rule: 'pingreq_body' } },
    {
      what: 'DISCONNECT with two Session Expiry Intervals (the crash)',
      stream: afterConnect(hex('e0 0c 00 0a 11 00 00 00 01 11 00 00 00 01')),
      why: { reason: PE, packetType: 14, rule: 'duplicate_property', property: 0x11 },
    },
    {
      what: 'DISCONNECT with an Authentication Method',
      stream: afterConnect(packet(0xe0, Buffer.from([0]), block(prop.str(P.authMethod, 'JWT')))),
      why: { reason: M, packetType: 14, rule: 'property_not_allowed', property: 0x15 },
    },
    {
      what: 'DISCONNECT of remaining length 1 followed by bytes mqtt-packet reads as its properties',
      stream: afterConnect(hex('e0 01 00 0a 11 00 00 00 01 11 00 00 00 01 00 00 00 00 00 00 00 00')),
      why: { reason: PE, packetType: 0, rule: 'after_disconnect' },
    },
    { what: 'a PINGREQ after a DISCONNECT', stream: afterConnect(packet(0xe0), packet(0xc0)), why: { reason: PE, packetType: 12, rule: 'after_disconnect' } },
    {
      what: "AUTH of remaining length 0 (Success, the server's)",
      stream: afterConnect(packet(0xf0)),
      why: { reason: PE, packetType: 15, rule: 'client_must_not_send' },
    },
    {
      what: 'AUTH without its properties length',
      stream: afterConnect(hex('f0 01 19 0c 15 00 03 4a 57 54 15 00 03 4a 57 54')),
      why: { reason: MP, packetType: 15, rule: 'truncated' },
    },
    {
      what: 'AUTH with a Session Expiry Interval',
      stream: afterConnect(packet(0xf0, Buffer.from([0x19]), block(prop.str(P.authMethod, 'JWT'), prop.four(P.sessionExpiry, 1)))),
      why: { reason: M, packetType: 15, rule: 'property_not_allowed', property: 0x11 },
    },
  ];
  for (const r of rules) {
    it(`refuses ${r.what}: ${r.why.reason} (${r.why.rule}), whatever the chunk boundaries`, () => {
      eachSplit(r.stream, (why, _sc, cut) => assert.deepEqual(why, r.why, `cut at ${cut}`));
    });
  }

  it('passes what the rules allow: DUP on QoS 1, a PINGREQ, DISCONNECT and PUBACK without properties, User Properties repeated', () => {
    const ok = [
      publishV5('t', 'x', { qos: 1, id: 3, first: 0x3a }),
      packet(0xc0),
      packet(0x40, Buffer.from([0, 1])),
      packet(0x40, Buffer.from([0, 1, 0x10])),
      publishV5('t', 'x', { properties: block(prop.pair('k', 'v'), prop.pair('k', 'w'), prop.byte(P.payloadFormat, 1), prop.four(P.messageExpiry, 0)) }),
      subscribeV5(9, [['a/#', 0]], block(prop.vbi(P.subscriptionId, 268_435_455), prop.pair('k', 'v'), prop.pair('k', 'v'))),
      packet(0xe0, Buffer.from([0x04])), // the last: nothing may follow a DISCONNECT
    ];
    for (const last of [packet(0xe0), packet(0xe0, Buffer.from([0x00, 0x00]))]) assert.equal(scanPieces([afterConnect(last)]).why, undefined);
    eachSplit(afterConnect(...ok), (why, sc, cut) => {
      assert.equal(why, undefined, `cut at ${cut}: ${JSON.stringify(why)}`);
      assert.equal(sc.headersSeen, 1 + ok.length);
    });
    const connects = [
      c(
        block(
          prop.four(P.sessionExpiry, 0xffffffff),
          prop.two(P.receiveMaximum, 1),
          prop.two(P.topicAliasMaximum, 0),
          prop.four(P.maximumPacketSize, 1),
          prop.byte(P.requestProblemInfo, 0),
          prop.byte(P.requestResponseInfo, 1),
          prop.pair('a', 'b'),
          prop.pair('a', 'b'),
        ),
      ),
      withWill(
        block(
          prop.four(0x18, 0),
          prop.byte(P.payloadFormat, 0),
          prop.four(P.messageExpiry, 1),
          prop.str(P.contentType, 'c'),
          prop.str(P.responseTopic, 'r'),
          prop.str(P.correlationData, 'd'),
          prop.pair('a', 'b'),
        ),
      ),
    ];
    for (const connect of connects) eachSplit(connect, (why, _sc, cut) => assert.equal(why, undefined, `cut at ${cut}: ${JSON.stringify(why)}`));
  });

  it('holds MQTT 3.1.1 connections to none of the MQTT 5 rules (they see what they always saw)', () => {
    const v4connect = rawConnect({ clientId: 'c', password: 'p', level: 4 });
    const stream = Buffer.concat([
      v4connect,
      hex('38 04 00 01 74 78'), // QoS 0 with DUP
      hex('32 05 00 01 74 00 00'), // QoS 1, packet identifier 0
      hex('82 06 00 00 00 01 61 00'), // SUBSCRIBE, packet identifier 0
      hex('62 06 00 01 00 00 ff ff'), // PUBREL with trailing bytes
      hex('c0 01 00'), // PINGREQ with a body
      hex('e0 0c 00 0a 11 00 00 00 01 11 00 00 00 01'), // not parsed as MQTT 5 on this connection
    ]);
    eachSplit(stream, (why, sc, cut) => {
      assert.equal(why, undefined, `cut at ${cut}: ${JSON.stringify(why)}`);
      assert.equal(sc.headersSeen, 7);
    });
    assert.equal(
      scanPieces([rawConnect({ clientId: 'c', password: 'p', level: 4, flags: 0xc6 | 0x18, will: { topic: 'w', payload: 'x' } })]).why,
      undefined,
      "Will QoS 3 on 3.1.1: aedes's, as before",
    );
  });

  it('bounds the first packet by its protocol level (connectGuard.ts)', () => {
    const header = (level: number, length: number): Buffer =>
      Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(length), Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, level, 0x02, 0, 30])]);
    assert.equal(MAX_CONNECT_V5_REMAINING_LENGTH, 458_773);
    assert.equal(scanPieces([header(5, MAX_CONNECT_REMAINING_LENGTH + 1)]).why, undefined);
    assert.equal(scanPieces([header(5, MAX_CONNECT_V5_REMAINING_LENGTH)]).why, undefined);
    assert.equal(scanPieces([header(0x85, MAX_CONNECT_V5_REMAINING_LENGTH)]).why, undefined); // bridge bit, as mqtt-packet reads it
    assert.deepEqual(scanPieces([header(5, MAX_CONNECT_V5_REMAINING_LENGTH + 1)]).why, {
      reason: 'too_large',
      packetType: 1,
      announced: MAX_CONNECT_V5_REMAINING_LENGTH + 1,
      limit: MAX_CONNECT_V5_REMAINING_LENGTH,
    });
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
    const unreadable = (property?: number): object => ({
      reason: 'malformed_properties',
      rule: 'unreadable_properties',
      ...(property !== undefined ? { property } : {}),
    });
    assert.equal(walkProperties(props([0x26, 0, 1, 0x6b, 0, 1, 0x76]), 0, 8, IN_PUBLISH), 8);
    assert.equal(walkProperties(props([0x26, 0, 1, 0x6b, 0, 1, 0x00]), 0, 8, IN_PUBLISH), 'user_property');
    assert.equal(walkProperties(props([0x1f, 0, 1, 0xff]), 0, 5, IN_ACK), 'reason_string');
    assert.equal(walkProperties(props([0x1c, 0, 1, 0xff]), 0, 5, IN_DISCONNECT), 'string_property'); // Server Reference
    assert.equal(walkProperties(props([0x09, 0, 1, 0xff]), 0, 5, IN_PUBLISH), 5); // Correlation Data: binary
    assert.deepEqual(walkProperties(props([0x7f, 0]), 0, 3, IN_PUBLISH), { reason: 'malformed_properties', rule: 'unknown_property', property: 0x7f });
    assert.deepEqual(walkProperties(props([0x00]), 0, 2, IN_PUBLISH), { reason: 'malformed_properties', rule: 'unknown_property', property: 0 });
    assert.deepEqual(walkProperties(props([0x02, 0, 0]), 0, 4, IN_PUBLISH), unreadable(0x02)); // four-byte integer cut short
    assert.deepEqual(walkProperties(props([0x0b, 0x80]), 0, 3, IN_SUBSCRIBE), unreadable(0x0b)); // VBI cut short
    assert.deepEqual(walkProperties(props([0x0b, 0x81, 0x00]), 0, 4, IN_SUBSCRIBE), unreadable(0x0b)); // VBI not in the fewest bytes
    assert.deepEqual(walkProperties(Buffer.from([9, 0x23, 0, 1]), 0, 4, IN_PUBLISH), unreadable()); // block beyond the packet
    assert.deepEqual(walkProperties(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), 0, 5, IN_PUBLISH), unreadable());
    assert.deepEqual(walkProperties(Buffer.from([0x80, 0x00]), 0, 2, IN_PUBLISH), unreadable()); // a length of 0 in two bytes [MQTT-1.5.5-1]
    // A string property of the server's (Assigned Client Identifier) is out of place before its UTF-8 matters.
    assert.deepEqual(walkProperties(props([0x12, 0, 1, 0xff]), 0, 5, IN_CONNECT), {
      reason: 'malformed_properties',
      rule: 'property_not_allowed',
      property: 0x12,
    });
    // User Property any number of times; anything else once.
    assert.equal(walkProperties(props([0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0]), 0, 11, IN_SUBSCRIBE), 11);
    assert.deepEqual(walkProperties(props([0x23, 0, 1, 0x23, 0, 1]), 0, 7, IN_PUBLISH), {
      reason: 'protocol_error',
      rule: 'duplicate_property',
      property: 0x23,
    });
    assert.deepEqual(walkProperties(props([0x27, 0, 0, 0, 1, 0x22, 0, 0, 0x27, 0, 0, 0, 1]), 0, 14, IN_CONNECT), {
      reason: 'protocol_error',
      rule: 'duplicate_property',
      property: 0x27,
    });
    assert.equal(readVbi(Buffer.from([0xff, 0xff, 0xff, 0x7f]), 0, 4), 268_435_455 * 4 + 3);
    assert.equal(readVbi(Buffer.from([0x80, 0x01]), 0, 2), 128 * 4 + 1);
    assert.equal(readVbi(Buffer.from([0x80, 0x80, 0x00]), 0, 3), MALFORMED);
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
      if (why)
        assert.ok(
          ['invalid_utf8', 'too_large', 'malformed_length', 'malformed_properties', 'malformed_packet', 'protocol_error'].includes(why.reason),
          JSON.stringify(why),
        );
    }
  });
});

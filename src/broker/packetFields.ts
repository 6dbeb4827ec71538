// Where the UTF-8 strings and (MQTT 5) properties are in the packets a client
// sends, for the packet guard (packetGuard.ts). MQTT 3.1.1 (protocol levels 3 and
// 4): the topic of a PUBLISH, the filters of a SUBSCRIBE/UNSUBSCRIBE, the client
// id, will topic and user name of a CONNECT (section 1.5.3). MQTT 5 (level 5) puts
// a properties block (MQTT 5.0 section 2.2.2) into those layouts, and its string
// properties follow the same rule (section 1.5.4): after the CONNECT's keep alive
// and before its will topic (3.1.2.11, 3.1.3.2), after a PUBLISH's topic and packet
// identifier (3.3.2.3), after a SUBSCRIBE/UNSUBSCRIBE packet identifier (3.8.2.1,
// 3.10.2.1), and after the reason code of PUBACK..PUBCOMP, DISCONNECT and AUTH
// (3.4.2.2 .. 3.15.2.2). Passwords, will messages, payloads and other binary data
// are never looked at. For MQTT 3.1.1 the only verdict is "this string is
// ill-formed": a body too short for its own length prefixes is left to the parser,
// which refuses it. MQTT 5 packets are also held to the rules of mqtt5Rules.ts
// (properties, and the few fixed-header and body rules mqtt-packet lets through),
// since the parser accepts what breaks them.
import { type PropertyField, walkProperties } from './mqtt5Properties.js';
import {
  fault,
  IN_ACK,
  IN_AUTH,
  IN_CONNECT,
  IN_DISCONNECT,
  IN_PUBLISH,
  IN_SUBSCRIBE,
  IN_UNSUBSCRIBE,
  IN_WILL,
  type Mqtt5Fault,
  type PacketRejectReason,
} from './mqtt5Rules.js';
import { fieldEnd, isMqttUtf8 } from './mqttUtf8.js';

/** The string field whose bytes were not well-formed UTF-8 (invalid_utf8 only). */
export type Utf8Field = 'topic' | 'topic_filter' | 'client_id' | 'will_topic' | 'username' | PropertyField;

/** Why a body is refused: ill-formed UTF-8 in `field`, or an MQTT 5 rule (mqtt5Rules.ts). */
export type BodyFault = { reason: 'invalid_utf8'; field: Utf8Field } | Mqtt5Fault;
export type { PacketRejectReason };

export const CONNECT = 1;
export const PUBLISH = 3;
const PUBACK = 4;
const PUBCOMP = 7;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const PINGREQ = 12;
export const DISCONNECT = 14;
const AUTH = 15;

export const MQTT5 = 5;

/**
 * Which packets have bodies to check, by control packet type (the index): those
 * whose remaining length is above the entry. Infinity: never. For MQTT 3.1.1,
 * CONNECT, PUBLISH, SUBSCRIBE and UNSUBSCRIBE; MQTT 5 adds the packets whose
 * reason code may be followed by properties (a reason string, user properties):
 * PUBACK..PUBCOMP carry them only beyond 3 bytes (MQTT 5.0 section 3.4.2.2),
 * DISCONNECT beyond 1 (section 3.14.2.2), AUTH always (its properties length may
 * be left out only with the reason code, section 3.15.2.2.1, and mqtt-packet would
 * read them from the next packet's bytes); and a PINGREQ, which has no body at all
 * (section 3.12).
 */
export const CHECK_ABOVE_V311: readonly number[] = Array.from({ length: 16 }, (_, t) =>
  t === CONNECT || t === PUBLISH || t === SUBSCRIBE || t === UNSUBSCRIBE ? 0 : Infinity,
);
export const CHECK_ABOVE_V5: readonly number[] = CHECK_ABOVE_V311.map((above, t) =>
  t >= PUBACK && t <= PUBCOMP ? 3 : t === DISCONNECT ? 1 : t === AUTH ? -1 : t === PINGREQ ? 0 : above,
);

/**
 * The protocol level of a CONNECT whose body begins at buf[start] and is
 * available up to `end`: the byte after the protocol name (MQTT 3.1.1 section
 * 3.1.2.2, MQTT 5.0 section 3.1.2.2), without the bridge bit 0x80 that some
 * bridges set (mqtt-packet reads it the same way). 0 when it is not there.
 */
export function protocolLevel(buf: Uint8Array, start: number, end: number): number {
  const e = fieldEnd(buf, start, end);
  return e >= 0 && e < end ? buf[e]! & 0x7f : 0;
}

/**
 * How many bytes from the start of a body of `length` bytes are needed to judge
 * it, knowing its first `avail` bytes at buf[start]. A PUBLISH needs its topic
 * only, or for MQTT 5 its topic, packet identifier and properties, never its
 * payload; a PINGREQ nothing (any body is wrong); every other packet its whole
 * body. When the answer depends on bytes not there yet (a length prefix), it is
 * the count needed to learn more: ask again once they are there. Never more than
 * `length`.
 */
export function bytesToJudge(type: number, flags: number, level: number, buf: Uint8Array, start: number, avail: number, length: number): number {
  if (type === PINGREQ) return 0;
  if (type !== PUBLISH) return length;
  if (avail < 2) return Math.min(length, 2);
  let need = 2 + ((buf[start]! << 8) | buf[start + 1]!);
  if (level !== MQTT5) return Math.min(length, need);
  if (flags & 0x06) need += 2; // packet identifier, QoS 1 and 2 (section 3.3.2.2)
  let value = 0;
  let mul = 1;
  for (let k = 0; k < 4; k++) {
    if (need >= length) return length; // no room for the properties: malformed, judged on the whole body
    if (need >= avail) return need + 1; // the next byte of the properties length first
    const b = buf[start + need++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return Math.min(length, need + value);
    mul *= 128;
  }
  return need; // a fifth length byte: malformed, walkProperties says so
}

/** The properties block at `pos` of kind `where`: its end, or why it is refused. */
function properties(buf: Uint8Array, pos: number, end: number, where: number): number | BodyFault {
  const r = walkProperties(buf, pos, end, where);
  return typeof r === 'string' ? { reason: 'invalid_utf8', field: r } : r;
}

/**
 * Judges a body buf[start, end), where `end - start` is what bytesToJudge asked
 * for. `level` is the connection's protocol level (a CONNECT reads its own);
 * `flags` the low nibble of the fixed header. Returns the first fault, or
 * undefined. For MQTT 3.1.1 only ill-formed strings are faults.
 */
export function bodyFault(type: number, flags: number, level: number, buf: Uint8Array, start: number, end: number): BodyFault | undefined {
  if (type === PUBLISH) return publishFault(flags, level, buf, start, end);
  if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
    let pos = start + 2; // packet identifier
    if (level === MQTT5) {
      if (pos > end) return fault('truncated');
      if ((buf[start]! | buf[start + 1]!) === 0) return fault('packet_id_0'); // [MQTT-2.2.1-3]
      const r = properties(buf, pos, end, type === SUBSCRIBE ? IN_SUBSCRIBE : IN_UNSUBSCRIBE);
      if (typeof r !== 'number') return r;
      pos = r;
    }
    const optionsByte = type === SUBSCRIBE ? 1 : 0; // requested QoS / subscription options (3.8.3.1)
    for (;;) {
      const e = fieldEnd(buf, pos, end);
      if (e < 0) return undefined;
      if (!isMqttUtf8(buf, pos + 2, e)) return { reason: 'invalid_utf8', field: 'topic_filter' };
      pos = e + optionsByte;
    }
  }
  if (type === CONNECT) return connectFault(buf, start, end);
  if (level !== MQTT5) return undefined;
  if (type === PINGREQ) return fault('pingreq_body');
  // An AUTH of remaining length 0 means Success, which only the server sends; at 1 its
  // properties length is missing (section 3.15.2). mqtt-packet would read both, and
  // the properties, from whatever bytes follow.
  if (type === AUTH && end - start < 2) return fault(end === start ? 'client_must_not_send' : 'truncated');
  // PUBACK..PUBCOMP: packet identifier and reason code; DISCONNECT, AUTH: reason code.
  // The properties end the packet: none of these has a payload (3.4.3 .. 3.15.3).
  const r = properties(buf, start + (type <= PUBCOMP ? 3 : 1), end, type <= PUBCOMP ? IN_ACK : type === DISCONNECT ? IN_DISCONNECT : IN_AUTH);
  if (typeof r !== 'number') return r;
  return r < end ? fault('trailing_bytes') : undefined;
}

/** A PUBLISH's fixed header flags (MQTT 5), topic, packet identifier (MQTT 5) and properties (MQTT 5). */
function publishFault(flags: number, level: number, buf: Uint8Array, start: number, end: number): BodyFault | undefined {
  const qos = (flags >> 1) & 3;
  if (level === MQTT5) {
    if (qos === 3) return fault('qos_3'); // [MQTT-3.3.1-4]
    if (qos === 0 && flags & 0x08) return fault('dup_on_qos_0'); // [MQTT-3.3.1-2]
  }
  const e = fieldEnd(buf, start, end);
  if (e < 0) return undefined; // a topic running past the packet: the parser refuses it
  if (!isMqttUtf8(buf, start + 2, e)) return { reason: 'invalid_utf8', field: 'topic' };
  if (level !== MQTT5) return undefined;
  let pos = e;
  if (qos > 0) {
    if (pos + 2 > end) return fault('truncated');
    if ((buf[pos]! | buf[pos + 1]!) === 0) return fault('packet_id_0'); // [MQTT-2.2.1-3]
    pos += 2;
  }
  const r = properties(buf, pos, end, IN_PUBLISH);
  return typeof r === 'number' ? undefined : r;
}

/** The CONNECT's client id, will properties and topic, user name and (MQTT 5) properties and Will QoS. */
function connectFault(buf: Uint8Array, start: number, end: number): BodyFault | undefined {
  let pos = fieldEnd(buf, start, end); // protocol name
  if (pos < 0 || pos + 4 > end) return undefined;
  const level = buf[pos]! & 0x7f;
  const flags = buf[pos + 1]!;
  if (level < 3 || level > MQTT5) return undefined; // aedes answers CONNACK 1 (unacceptable protocol version)
  pos += 4; // level, flags, keep alive
  if (level === MQTT5) {
    if (flags & 0x04 && (flags & 0x18) === 0x18) return fault('will_qos_3'); // section 3.1.2.6
    const r = properties(buf, pos, end, IN_CONNECT); // section 3.1.2.11
    if (typeof r !== 'number') return r;
    pos = r;
  }
  let e = fieldEnd(buf, pos, end);
  if (e < 0) return undefined;
  if (!isMqttUtf8(buf, pos + 2, e)) return { reason: 'invalid_utf8', field: 'client_id' };
  pos = e;
  if (flags & 0x04) {
    if (level === MQTT5) {
      const r = properties(buf, pos, end, IN_WILL); // will properties, section 3.1.3.2
      if (typeof r !== 'number') return r;
      pos = r;
    }
    e = fieldEnd(buf, pos, end);
    if (e < 0) return undefined;
    if (!isMqttUtf8(buf, pos + 2, e)) return { reason: 'invalid_utf8', field: 'will_topic' };
    pos = fieldEnd(buf, e, end); // will message (will payload): binary
    if (pos < 0) return undefined;
  }
  if (flags & 0x80) {
    e = fieldEnd(buf, pos, end);
    if (e >= 0 && !isMqttUtf8(buf, pos + 2, e)) return { reason: 'invalid_utf8', field: 'username' };
  }
  return undefined;
}

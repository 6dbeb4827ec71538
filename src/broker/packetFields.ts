// Where the UTF-8 strings are in the packets a client sends, for the packet guard
// (packetGuard.ts). MQTT 3.1.1 (protocol levels 3 and 4): the topic of a PUBLISH,
// the filters of a SUBSCRIBE/UNSUBSCRIBE, the client id, will topic and user name
// of a CONNECT (section 1.5.3). MQTT 5 (level 5) puts a properties block (MQTT 5.0
// section 2.2.2) into those layouts, and its string properties follow the same
// rule (section 1.5.4): after the CONNECT's keep alive and before its will topic
// (3.1.2.11, 3.1.3.2), after a PUBLISH's topic and packet identifier (3.3.2.3),
// after a SUBSCRIBE/UNSUBSCRIBE packet identifier (3.8.2.1, 3.10.2.1), and after
// the reason code of PUBACK..PUBCOMP, DISCONNECT and AUTH (3.4.2.2 .. 3.15.2.2).
// Passwords, will messages, payloads and other binary data are never looked at. A
// body too short for its own length prefixes is left to the parser, which
// refuses it: these functions only ever say "this string is ill-formed".
import { MALFORMED, walkProperties, type PropertyField } from './mqtt5Properties.js';
import { fieldEnd, isMqttUtf8 } from './mqttUtf8.js';

/** The string field whose bytes were not well-formed UTF-8 (invalid_utf8 only). */
export type Utf8Field = 'topic' | 'topic_filter' | 'client_id' | 'will_topic' | 'username' | PropertyField;

export const CONNECT = 1;
export const PUBLISH = 3;
const PUBACK = 4;
const PUBCOMP = 7;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const DISCONNECT = 14;
const AUTH = 15;

export const MQTT5 = 5;

/**
 * Which packets have strings to check, by control packet type (the index): those
 * whose remaining length is above the entry. Infinity: never. For MQTT 3.1.1,
 * CONNECT, PUBLISH, SUBSCRIBE and UNSUBSCRIBE; MQTT 5 adds the packets whose
 * reason code may be followed by properties (a reason string, user properties):
 * PUBACK..PUBCOMP carry them only beyond 3 bytes (MQTT 5.0 section 3.4.2.2),
 * DISCONNECT and AUTH beyond 1 (sections 3.14.2.2, 3.15.2.2).
 */
export const CHECK_ABOVE_V311: readonly number[] = Array.from({ length: 16 }, (_, t) =>
  t === CONNECT || t === PUBLISH || t === SUBSCRIBE || t === UNSUBSCRIBE ? 0 : Infinity,
);
export const CHECK_ABOVE_V5: readonly number[] = CHECK_ABOVE_V311.map((above, t) =>
  t >= PUBACK && t <= PUBCOMP ? 3 : t === DISCONNECT || t === AUTH ? 1 : above,
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
 * How many bytes from the start of a body of `length` bytes are needed to check
 * its strings, knowing its first `avail` bytes at buf[start]. A PUBLISH needs its
 * topic only, or for MQTT 5 its topic, packet identifier and properties, never its
 * payload; every other packet its whole body. When the answer depends on bytes not
 * there yet (a length prefix), it is the count needed to learn more: ask again
 * once they are there. Never more than `length`.
 */
export function bytesToJudge(type: number, flags: number, level: number, buf: Uint8Array, start: number, avail: number, length: number): number {
  if (type !== PUBLISH) return length;
  if (avail < 2) return Math.min(length, 2);
  let need = 2 + ((buf[start]! << 8) | buf[start + 1]!);
  if (level !== MQTT5) return Math.min(length, need);
  if (flags & 0x06) need += 2; // packet identifier, QoS 1 and 2 (section 3.3.2.2)
  let value = 0;
  let mul = 1;
  for (let k = 0; k < 4; k++) {
    if (need >= length) return length; // no room for the properties: malformed, the parser's
    if (need >= avail) return need + 1; // the next byte of the properties length first
    const b = buf[start + need++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return Math.min(length, need + value);
    mul *= 128;
  }
  return need; // a fifth length byte: malformed, the parser's
}

/** The properties block at `pos`: a bad string's field, else undefined (malformed blocks are the parser's). */
function badProperty(buf: Uint8Array, pos: number, end: number): PropertyField | undefined {
  const r = walkProperties(buf, pos, end);
  return typeof r === 'string' ? r : undefined;
}

/**
 * Checks the strings of a body buf[start, end), where `end - start` is what
 * bytesToJudge asked for. `level` is the connection's protocol level (a CONNECT
 * reads its own); `flags` the low nibble of the fixed header. Returns the first
 * ill-formed field, or undefined.
 */
export function badUtf8Field(type: number, flags: number, level: number, buf: Uint8Array, start: number, end: number): Utf8Field | undefined {
  if (type === PUBLISH) {
    const e = fieldEnd(buf, start, end);
    if (e < 0) return undefined;
    if (!isMqttUtf8(buf, start + 2, e)) return 'topic';
    return level === MQTT5 ? badProperty(buf, e + (flags & 0x06 ? 2 : 0), end) : undefined;
  }
  if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
    let pos = start + 2; // packet identifier
    if (level === MQTT5) {
      const r = walkProperties(buf, pos, end);
      if (typeof r === 'string') return r;
      if (r === MALFORMED) return undefined;
      pos = r;
    }
    const optionsByte = type === SUBSCRIBE ? 1 : 0; // requested QoS / subscription options (3.8.3.1)
    for (;;) {
      const e = fieldEnd(buf, pos, end);
      if (e < 0) return undefined;
      if (!isMqttUtf8(buf, pos + 2, e)) return 'topic_filter';
      pos = e + optionsByte;
    }
  }
  if (type === CONNECT) return badConnectField(buf, start, end);
  if (level !== MQTT5) return undefined;
  // PUBACK..PUBCOMP: packet identifier and reason code; DISCONNECT, AUTH: reason code.
  return badProperty(buf, start + (type <= PUBCOMP ? 3 : 1), end);
}

/** The CONNECT's client id, will properties and topic, user name and (MQTT 5) properties. */
function badConnectField(buf: Uint8Array, start: number, end: number): Utf8Field | undefined {
  let pos = fieldEnd(buf, start, end); // protocol name
  if (pos < 0 || pos + 4 > end) return undefined;
  const level = buf[pos]! & 0x7f;
  const flags = buf[pos + 1]!;
  if (level < 3 || level > MQTT5) return undefined; // aedes answers CONNACK 1 (unacceptable protocol version)
  pos += 4; // level, flags, keep alive
  if (level === MQTT5) {
    const r = walkProperties(buf, pos, end); // section 3.1.2.11
    if (typeof r === 'string') return r;
    if (r === MALFORMED) return undefined;
    pos = r;
  }
  let e = fieldEnd(buf, pos, end);
  if (e < 0) return undefined;
  if (!isMqttUtf8(buf, pos + 2, e)) return 'client_id';
  pos = e;
  if (flags & 0x04) {
    if (level === MQTT5) {
      const r = walkProperties(buf, pos, end); // will properties, section 3.1.3.2
      if (typeof r === 'string') return r;
      if (r === MALFORMED) return undefined;
      pos = r;
    }
    e = fieldEnd(buf, pos, end);
    if (e < 0) return undefined;
    if (!isMqttUtf8(buf, pos + 2, e)) return 'will_topic';
    pos = fieldEnd(buf, e, end); // will message (will payload): binary
    if (pos < 0) return undefined;
  }
  if (flags & 0x80) {
    e = fieldEnd(buf, pos, end);
    if (e >= 0 && !isMqttUtf8(buf, pos + 2, e)) return 'username';
  }
  return undefined;
}

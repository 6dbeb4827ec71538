// The MQTT 5 properties block (MQTT 5.0 section 2.2.2), walked over raw bytes by
// the packet guard (packetGuard.ts) so that the UTF-8 strings a client puts in
// properties are held to the same rule as topics [MQTT-1.5.4-1, MQTT-1.5.4-2]:
// mqtt-packet would decode ill-formed UTF-8 to U+FFFD and hand it on. The walk
// only steps over numbers and binary data; it copies nothing and never throws. A
// block it cannot walk (length beyond the packet, unknown identifier, truncated
// value) is left to mqtt-packet, which refuses it ("Unknown property", "Packet
// too short"): the guard says nothing about it.
import { isMqttUtf8 } from './mqttUtf8.js';

/** The string property whose bytes were not well-formed UTF-8 (MQTT 5.0 section 2.2.2.2). */
export type PropertyField =
  | 'user_property'
  | 'content_type'
  | 'response_topic'
  | 'authentication_method'
  | 'reason_string'
  /** Assigned Client Identifier, Response Information, Server Reference: server-sent, refused by aedes anyway. */
  | 'string_property';

/** The walk could not follow the block: a matter for the parser, not a UTF-8 verdict. */
export const MALFORMED = -1;

/**
 * The Variable Byte Integer at buf[pos] (MQTT 5.0 section 1.5.5), packed into one
 * number so that the hot path allocates nothing: `value * 4 + (bytes - 1)`, i.e.
 * `v >>> 2` is the value and `(v & 3) + 1` its size. MALFORMED when it runs past
 * `end` or has a continuation bit on its fourth byte.
 */
export function readVbi(buf: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let k = 0; k < 4; k++) {
    if (pos + k >= end) return MALFORMED;
    const b = buf[pos + k]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return value * 4 + k;
    mul *= 128;
  }
  return MALFORMED;
}

// Value types by property identifier (MQTT 5.0 section 2.2.2.2, table 2-4; the
// same table as mqtt-packet's constants.js propertiesTypes). 0 = unknown.
const BYTE = 1;
const TWO = 2;
const FOUR = 3;
const VBI = 4;
const BINARY = 5;
const STRING = 6;
const PAIR = 7;
const TYPE = new Uint8Array(0x80);
for (const id of [0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2a]) TYPE[id] = BYTE;
for (const id of [0x13, 0x21, 0x22, 0x23]) TYPE[id] = TWO;
for (const id of [0x02, 0x11, 0x18, 0x27]) TYPE[id] = FOUR;
TYPE[0x0b] = VBI; // Subscription Identifier
for (const id of [0x09, 0x16]) TYPE[id] = BINARY; // Correlation Data, Authentication Data
for (const id of [0x03, 0x08, 0x12, 0x15, 0x1a, 0x1c, 0x1f]) TYPE[id] = STRING;
TYPE[0x26] = PAIR; // User Property
const FIXED_SIZE = [0, 1, 2, 4];

function stringField(id: number): PropertyField {
  switch (id) {
    case 0x03:
      return 'content_type';
    case 0x08:
      return 'response_topic';
    case 0x15:
      return 'authentication_method';
    case 0x1f:
      return 'reason_string';
    default:
      return 'string_property';
  }
}

/**
 * Walks the properties block at buf[pos] (its Variable Byte Integer length, then
 * the properties) within buf[pos, end). Returns the position just after the
 * block, the first string property that is not well-formed MQTT UTF-8 (a User
 * Property's name or value: 'user_property'), or MALFORMED when the block does
 * not fit in `end` or cannot be followed.
 */
export function walkProperties(buf: Uint8Array, pos: number, end: number): number | PropertyField {
  const v = readVbi(buf, pos, end);
  if (v < 0) return MALFORMED;
  let p = pos + (v & 3) + 1;
  const blockEnd = p + (v >>> 2);
  if (blockEnd > end) return MALFORMED;
  while (p < blockEnd) {
    // A Property Identifier is a Variable Byte Integer, but every defined one is a
    // single byte below 0x80 (section 2.2.2.2): anything else is unknown.
    const id = buf[p++]!;
    const type = id < 0x80 ? TYPE[id]! : 0;
    if (type === 0) return MALFORMED;
    if (type <= FOUR) {
      p += FIXED_SIZE[type]!;
    } else if (type === VBI) {
      const n = readVbi(buf, p, blockEnd);
      if (n < 0) return MALFORMED;
      p += (n & 3) + 1;
    } else {
      // Binary Data, a UTF-8 string, or a string pair: 2-byte length prefixes (section 1.5.4, 1.5.6, 1.5.7).
      const strings = type === PAIR ? 2 : 1;
      for (let k = 0; k < strings; k++) {
        if (p + 2 > blockEnd) return MALFORMED;
        const e = p + 2 + ((buf[p]! << 8) | buf[p + 1]!);
        if (e > blockEnd) return MALFORMED;
        if (type !== BINARY && !isMqttUtf8(buf, p + 2, e)) return type === PAIR ? 'user_property' : stringField(id);
        p = e;
      }
    }
  }
  return p === blockEnd ? p : MALFORMED; // a fixed-size value ran past the block
}

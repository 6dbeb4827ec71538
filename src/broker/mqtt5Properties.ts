// The MQTT 5 properties block (MQTT 5.0 section 2.2.2), walked over raw bytes by
// the packet guard (packetGuard.ts) before the parser sees it. The walk holds a
// client's block to the spec (mqtt5Rules.ts): every length and value inside the
// block, the block inside the packet; only identifiers table 2-4 defines, in the
// packets it lists them for; each at most once but User Property; values in the
// ranges the spec fixes; and UTF-8 strings well-formed [MQTT-1.5.4-1,
// MQTT-1.5.4-2]. mqtt-packet checks none of this: it reads a string running past
// the packet as null, a repeated property as an array, and decodes ill-formed
// UTF-8 to U+FFFD. The walk steps over numbers and binary data, copies nothing,
// never throws, and allocates only for a verdict against the block.

import { ALLOWED_IN, CLIENT_MUST_NOT_SEND, fault, type Mqtt5Fault, NOT_ZERO, VALUE_RULE, ZERO_OR_ONE } from './mqtt5Rules.js';
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

/** readVbi's answer for a Variable Byte Integer it cannot read. */
export const MALFORMED = -1;

/**
 * The Variable Byte Integer at buf[pos] (MQTT 5.0 section 1.5.5), packed into one
 * number so that the hot path allocates nothing: `value * 4 + (bytes - 1)`, i.e.
 * `v >>> 2` is the value and `(v & 3) + 1` its size. MALFORMED when it runs past
 * `end`, has a continuation bit on its fourth byte, or is not in the fewest bytes
 * (a last byte of 0 after a continuation) [MQTT-1.5.5-1].
 */
export function readVbi(buf: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let mul = 1;
  for (let k = 0; k < 4; k++) {
    if (pos + k >= end) return MALFORMED;
    const b = buf[pos + k]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return b === 0 && k > 0 ? MALFORMED : value * 4 + k;
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

/** A fixed-size value at buf[p] of `size` bytes breaks its identifier's VALUE_RULE. */
function outOfRange(rule: number, buf: Uint8Array, p: number, size: number): boolean {
  if (rule === ZERO_OR_ONE) return buf[p]! > 1;
  let any = 0;
  for (let k = 0; k < size; k++) any |= buf[p + k]!;
  return rule === NOT_ZERO && any === 0;
}

/**
 * Walks the properties block at buf[pos] (its Variable Byte Integer length, then
 * the properties) within buf[pos, end), as a block of kind `where` (an IN_* bit of
 * mqtt5Rules.ts). Returns the position just after the block when it keeps every
 * rule; else the first string property that is not well-formed MQTT UTF-8 (a User
 * Property's name or value: 'user_property'), or the first rule it breaks.
 */
export function walkProperties(buf: Uint8Array, pos: number, end: number, where: number): number | PropertyField | Mqtt5Fault {
  const v = readVbi(buf, pos, end);
  if (v < 0) return fault('unreadable_properties');
  let p = pos + (v & 3) + 1;
  const blockEnd = p + (v >>> 2);
  if (blockEnd > end) return fault('unreadable_properties');
  // Identifiers seen so far, one bit each: 0x01..0x1f in `seenLow`, 0x20..0x2a in `seenHigh`.
  let seenLow = 0;
  let seenHigh = 0;
  while (p < blockEnd) {
    // A Property Identifier is a Variable Byte Integer, but every defined one is a
    // single byte below 0x80 (section 2.2.2.2): anything else is unknown.
    const id = buf[p++]!;
    const type = id < 0x80 ? TYPE[id]! : 0;
    if (type === 0) return fault('unknown_property', id);
    if ((ALLOWED_IN[id]! & where) === 0) return fault((CLIENT_MUST_NOT_SEND[id]! & where) !== 0 ? 'client_must_not_send' : 'property_not_allowed', id);
    if (type !== PAIR) {
      const bit = 1 << (id & 31);
      if (id < 32) {
        if (seenLow & bit) return fault('duplicate_property', id);
        seenLow |= bit;
      } else {
        if (seenHigh & bit) return fault('duplicate_property', id);
        seenHigh |= bit;
      }
    }
    if (type <= FOUR) {
      const size = FIXED_SIZE[type]!;
      if (p + size > blockEnd) return fault('unreadable_properties', id);
      const rule = VALUE_RULE[id]!;
      if (rule !== 0 && outOfRange(rule, buf, p, size)) return fault('value_out_of_range', id);
      p += size;
    } else if (type === VBI) {
      const n = readVbi(buf, p, blockEnd);
      if (n < 0) return fault('unreadable_properties', id);
      if (n >>> 2 === 0 && VALUE_RULE[id] === NOT_ZERO) return fault('value_out_of_range', id); // Subscription Identifier 0 (3.8.2.1.2)
      p += (n & 3) + 1;
    } else {
      // Binary Data, a UTF-8 string, or a string pair: 2-byte length prefixes (section 1.5.4, 1.5.6, 1.5.7).
      const strings = type === PAIR ? 2 : 1;
      for (let k = 0; k < strings; k++) {
        if (p + 2 > blockEnd) return fault('unreadable_properties', id);
        const e = p + 2 + ((buf[p]! << 8) | buf[p + 1]!);
        if (e > blockEnd) return fault('unreadable_properties', id);
        if (type !== BINARY && !isMqttUtf8(buf, p + 2, e)) return type === PAIR ? 'user_property' : stringField(id);
        p = e;
      }
    }
  }
  return p;
}

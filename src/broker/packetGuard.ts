// A bound on the size of every MQTT packet a client sends, checked before aedes
// sees the bytes. aedes 1.2 has no maximum packet size: its parser (mqtt-packet)
// buffers a packet until the announced remaining length has arrived, up to 256 MB
// (MQTT 3.1.1 section 2.2.3), which a 512 MB gateway cannot afford. The scan reads
// only fixed headers (section 2.2: one type/flags byte, then a 1-4 byte remaining
// length) and steps over bodies by counting, so it never copies a payload.
//
// It also checks the UTF-8 strings a client sends (MQTT 3.1.1 section 1.5.3): the
// topic of a PUBLISH, the filters of a SUBSCRIBE/UNSUBSCRIBE, the client id, will
// topic and username of a CONNECT. Ill-formed UTF-8 (invalid or overlong sequences,
// surrogates U+D800..U+DFFF) and U+0000 must close the connection [MQTT-1.5.3-1,
// MQTT-1.5.3-2]; mqtt-packet would decode them to U+FFFD instead, so the raw bytes
// are checked here before the parser sees them. The password is binary data and the
// payload is not a string: neither is looked at. Only those string bytes are read
// (a topic is usually all ASCII: one comparison per byte); a field split across
// socket chunks is gathered by reference (subarrays), not copied, until complete.
import type { Readable } from 'node:stream';
import { MAX_CONNECT_REMAINING_LENGTH } from './connectGuard.js';

/** Stable reason codes (also the `reason` label of edgegate_packets_rejected_total). */
export type PacketRejectReason = 'not_connect' | 'malformed_length' | 'too_large' | 'invalid_utf8';

/** The string field whose bytes were not well-formed UTF-8 (invalid_utf8 only). */
export type Utf8Field = 'topic' | 'topic_filter' | 'client_id' | 'will_topic' | 'username';

export interface PacketRejection {
  reason: PacketRejectReason;
  /** Control packet type (the high nibble of the first byte, section 2.2.1). */
  packetType: number;
  /** The remaining length the client announced (too_large only). */
  announced?: number;
  /** The bound it broke (too_large only). */
  limit?: number;
  /** The field with ill-formed UTF-8 (invalid_utf8 only). */
  field?: Utf8Field;
  /** The peer's address when the stream is a socket (set by guardPackets). */
  address?: string;
}

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;

/**
 * True when buf[start, end) is well-formed UTF-8 without U+0000 (Unicode 15
 * table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
export function isMqttUtf8(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  // Fast path: ASCII without NUL.
  while (i < end) {
    const b = buf[i]!;
    if (b === 0 || b > 0x7f) break;
    i++;
  }
  while (i < end) {
    const b = buf[i++]!;
    if (b < 0x80) {
      if (b === 0) return false;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      else if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      else if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return false; // continuation byte, C0/C1 (overlong), F5..FF
    if (i + need > end) return false;
    const second = buf[i++]!;
    if (second < lo || second > hi) return false;
    for (let k = 1; k < need; k++) {
      const c = buf[i++]!;
      if (c < 0x80 || c > 0xbf) return false;
    }
  }
  return true;
}

/**
 * Set (true) on a guarded stream whose CONNECT had a zero-byte client id with
 * CleanSession = 0: MQTT 3.1.1 requires CONNACK 2 for it [MQTT-3.1.3-8], which the
 * authenticate hook (authHooks.ts) answers; aedes would invent an id and accept.
 */
export const EMPTY_CLIENT_ID_WITHOUT_CLEAN_SESSION = Symbol('edgegate.emptyClientIdWithoutCleanSession');

/** True when the CONNECT body buf[start, end) has a zero-byte client id and CleanSession = 0. */
export function emptyClientIdWithoutCleanSession(buf: Uint8Array, start: number, end: number): boolean {
  const pos = stringEnd(buf, start, end);
  if (pos < 0 || pos + 6 > end) return false;
  return (buf[pos + 1]! & 0x02) === 0 && buf[pos + 4] === 0 && buf[pos + 5] === 0;
}

/** A length-prefixed string at `pos`: its end, or -1 when it does not fit before `end`. */
function stringEnd(buf: Uint8Array, pos: number, end: number): number {
  if (pos + 2 > end) return -1;
  const e = pos + 2 + ((buf[pos]! << 8) | buf[pos + 1]!);
  return e > end ? -1 : e;
}

/**
 * Checks the UTF-8 fields of a packet body buf[start, end) (for PUBLISH, at least
 * the topic). Returns the first bad field, or undefined. Bodies too short for their
 * own length prefixes are left to the MQTT parser, which refuses them.
 */
export function badUtf8Field(type: number, buf: Uint8Array, start: number, end: number): Utf8Field | undefined {
  if (type === PUBLISH) {
    const e = stringEnd(buf, start, end);
    return e >= 0 && !isMqttUtf8(buf, start + 2, e) ? 'topic' : undefined;
  }
  if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
    let pos = start + 2; // packet identifier
    const qosByte = type === SUBSCRIBE ? 1 : 0;
    for (;;) {
      const e = stringEnd(buf, pos, end);
      if (e < 0) return undefined;
      if (!isMqttUtf8(buf, pos + 2, e)) return 'topic_filter';
      pos = e + qosByte;
    }
  }
  if (type === CONNECT) {
    let pos = stringEnd(buf, start, end); // protocol name
    if (pos < 0 || pos + 4 > end) return undefined;
    const level = buf[pos]!;
    const flags = buf[pos + 1]!;
    if (level !== 3 && level !== 4) return undefined; // MQTT 5 has properties here; aedes answers CONNACK 1
    pos += 4; // level, flags, keep alive
    let e = stringEnd(buf, pos, end);
    if (e < 0) return undefined;
    if (!isMqttUtf8(buf, pos + 2, e)) return 'client_id';
    pos = e;
    if (flags & 0x04) {
      e = stringEnd(buf, pos, end);
      if (e < 0) return undefined;
      if (!isMqttUtf8(buf, pos + 2, e)) return 'will_topic';
      pos = stringEnd(buf, e, end); // will message: binary
      if (pos < 0) return undefined;
    }
    if (flags & 0x80) {
      e = stringEnd(buf, pos, end);
      if (e >= 0 && !isMqttUtf8(buf, pos + 2, e)) return 'username';
    }
  }
  return undefined;
}

/** Place values of the 1-4 remaining-length bytes (section 2.2.3). */
const PLACE = [1, 128, 128 ** 2, 128 ** 3] as const;

const EXPECT_TYPE_BYTE = -1;

/**
 * Follows the packet boundaries of one connection's byte stream. Headers may
 * be split across chunks and a chunk may hold many packets. The first packet
 * must be a CONNECT (section 3.1) no larger than a CONNECT can be; every
 * packet's remaining length must stay within `maxRemainingLength`. After the
 * first rejection the scanner refuses everything (the connection is closed).
 */
export class PacketScanner {
  /** Body bytes of the current packet not seen yet. */
  private bodyLeft = 0;
  /** Remaining-length bytes read of the current header, or EXPECT_TYPE_BYTE. */
  private lengthBytes = EXPECT_TYPE_BYTE;
  private length = 0;
  private packetType = 0;
  private firstPacket = true;
  private rejection?: PacketRejection;
  /** Fixed headers completed so far (packet boundaries found). */
  headersSeen = 0;
  /** Bytes of the last scanned chunk before the packet that broke a rule (all of it when none did). */
  passable = 0;
  private headerStart = 0;
  /** A packet whose strings span chunks: its type, the body bytes wanted and those gathered so far. */
  private gatherType = 0;
  private gatherWant = 0;
  private gatherHave = 0;
  private gathered: Buffer[] = [];
  /** The CONNECT had a zero-byte client id with CleanSession = 0 (see EMPTY_CLIENT_ID_WITHOUT_CLEAN_SESSION). */
  emptyClientIdWithoutCleanSession = false;

  constructor(private readonly maxRemainingLength: number) {}

  /** Scans one chunk; returns the rejection once the stream broke a rule, else undefined. */
  scan(chunk: Buffer): PacketRejection | undefined {
    if (this.rejection) {
      this.passable = 0;
      return this.rejection;
    }
    const n = chunk.length;
    let i = 0;
    this.headerStart = 0; // a header begun in an earlier chunk counts from here
    while (i < n) {
      if (this.bodyLeft > 0) {
        const step = Math.min(this.bodyLeft, n - i);
        if (this.gatherType !== 0) {
          const why = this.gather(chunk, i, step);
          if (why) return why;
        }
        this.bodyLeft -= step;
        i += step;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.lengthBytes === EXPECT_TYPE_BYTE) {
        this.headerStart = i - 1;
        // CONNECT with flags 0 (section 3.1.1); later types are aedes's to judge.
        if (this.firstPacket && byte !== 0x10) return this.reject({ reason: 'not_connect', packetType: byte >> 4 });
        this.packetType = byte >> 4;
        this.lengthBytes = 0;
        this.length = 0;
        continue;
      }
      this.length += (byte & 0x7f) * PLACE[this.lengthBytes]!;
      this.lengthBytes++;
      if (byte & 0x80) {
        // A continuation bit on the fourth byte is malformed (section 2.2.3).
        if (this.lengthBytes === 4) return this.reject({ reason: 'malformed_length', packetType: this.packetType });
        continue;
      }
      const limit = this.firstPacket ? Math.min(MAX_CONNECT_REMAINING_LENGTH, this.maxRemainingLength) : this.maxRemainingLength;
      if (this.length > limit) return this.reject({ reason: 'too_large', packetType: this.packetType, announced: this.length, limit });
      this.firstPacket = false;
      this.headersSeen++;
      this.bodyLeft = this.length;
      this.lengthBytes = EXPECT_TYPE_BYTE;
      const type = this.packetType;
      if (type === PUBLISH && i + 2 <= n) {
        // The hot path, inline: a PUBLISH whose topic is in this chunk, usually all ASCII.
        const topicEnd = i + Math.min(this.length, 2 + ((chunk[i]! << 8) | chunk[i + 1]!));
        if (topicEnd <= n) {
          let j = i + 2;
          while (j < topicEnd) {
            const b = chunk[j]!;
            if (b === 0 || b > 0x7f) break;
            j++;
          }
          if (j < topicEnd && !isMqttUtf8(chunk, j, topicEnd)) return this.reject({ reason: 'invalid_utf8', packetType: type, field: 'topic' });
          continue;
        }
      }
      if (this.length > 0 && (type === PUBLISH || type === SUBSCRIBE || type === UNSUBSCRIBE || type === CONNECT)) {
        // A PUBLISH needs its topic only (2 + topic length bytes), the others their whole body.
        let end = -1;
        if (type !== PUBLISH) end = i + this.length <= n ? i + this.length : -1;
        else if (i + 2 <= n) end = i + Math.min(this.length, 2 + ((chunk[i]! << 8) | chunk[i + 1]!));
        if (end >= 0 && end <= n) {
          const field = badUtf8Field(type, chunk, i, end);
          if (field) return this.reject({ reason: 'invalid_utf8', packetType: type, field });
          if (type === CONNECT && emptyClientIdWithoutCleanSession(chunk, i, end)) this.emptyClientIdWithoutCleanSession = true;
        } else {
          this.gatherType = type;
          this.gatherWant = type === PUBLISH ? Math.min(this.length, 2) : this.length;
          this.gatherHave = 0;
          this.gathered = [];
        }
      }
    }
    this.passable = n;
    return undefined;
  }

  /** Takes what it still wants of the `available` body bytes at chunk[at]; once it has them all, checks them. */
  private gather(chunk: Buffer, at: number, available: number): PacketRejection | undefined {
    let used = 0;
    for (;;) {
      const take = Math.min(available - used, this.gatherWant - this.gatherHave);
      if (take > 0) {
        this.gathered.push(chunk.subarray(at + used, at + used + take));
        this.gatherHave += take;
        used += take;
      }
      if (this.gatherHave < this.gatherWant) return undefined;
      const type = this.gatherType;
      if (type === PUBLISH && this.gatherWant === 2 && this.length > 2) {
        // The topic length is known now: gather the topic itself.
        const head = this.gathered.length === 1 ? this.gathered[0]! : Buffer.concat(this.gathered, 2);
        this.gatherWant = Math.min(this.length, 2 + ((head[0]! << 8) | head[1]!));
        if (this.gatherHave < this.gatherWant) continue;
      }
      const body = this.gathered.length === 1 ? this.gathered[0]! : Buffer.concat(this.gathered, this.gatherHave);
      this.gatherType = 0;
      this.gathered = [];
      const field = badUtf8Field(type, body, 0, body.length);
      if (field) return this.reject({ reason: 'invalid_utf8', packetType: type, field });
      if (type === CONNECT && emptyClientIdWithoutCleanSession(body, 0, body.length)) this.emptyClientIdWithoutCleanSession = true;
      return undefined;
    }
  }

  private reject(r: PacketRejection): PacketRejection {
    this.passable = this.headerStart;
    this.rejection = r;
    return r;
  }
}

/**
 * Scans everything read from `socket` and calls `reject` once (it should
 * destroy the socket) when a packet breaks a rule. aedes reads the socket with
 * 'readable' + read(null), so the guard wraps this socket's read(): it sees
 * each chunk before aedes parses it and hands on only the bytes before the
 * offending packet, so an oversized packet that arrived whole in one chunk is
 * never parsed, let alone delivered. (A 'data' listener would see the chunk
 * too, but could not keep it from the parser.) No copy, no extra event.
 */
export function guardPackets(socket: Readable, maxRemainingLength: number, reject: (why: PacketRejection) => void): void {
  const scanner = new PacketScanner(maxRemainingLength);
  const read = socket.read;
  let reported = false;
  socket.read = function guardedRead(this: Readable, size?: number): unknown {
    const chunk: unknown = read.call(this, size);
    if (!Buffer.isBuffer(chunk)) return chunk; // null, or a string if someone set an encoding (aedes never does)
    const why = scanner.scan(chunk);
    if (scanner.emptyClientIdWithoutCleanSession) (this as unknown as Record<symbol, boolean>)[EMPTY_CLIENT_ID_WITHOUT_CLEAN_SESSION] = true;
    if (!why) return chunk;
    if (!reported) {
      reported = true;
      const address = (this as { remoteAddress?: string }).remoteAddress;
      reject(address === undefined ? why : { ...why, address });
    }
    return scanner.passable > 0 ? chunk.subarray(0, scanner.passable) : null;
  };
}

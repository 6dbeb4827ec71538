// A bound on the size of every MQTT packet a client sends, checked before aedes
// sees the bytes. aedes's parser (mqtt-packet) buffers a packet until the announced
// remaining length has arrived, up to 256 MB (MQTT 3.1.1 section 2.2.3, MQTT 5.0
// section 1.5.5), which a 512 MB gateway cannot afford; aedes 2's own Maximum
// Packet Size check (set from maximumPacketSize() below) runs only after the
// parser has taken the chunk holding the header, and aedes 1.2 had none. The scan
// reads only fixed headers (one type/flags byte, then a 1-4 byte remaining length)
// and steps over bodies by counting, so it never copies a payload.
//
// It also checks the UTF-8 strings a client sends (packetFields.ts): ill-formed
// UTF-8 and U+0000 must close the connection [MQTT-1.5.3-1, MQTT-1.5.3-2,
// MQTT-1.5.4-1, MQTT-1.5.4-2]; mqtt-packet would decode them to U+FFFD instead.
// Where the strings are depends on the protocol level, which the CONNECT tells
// (the byte after the protocol name): MQTT 5 (level 5) adds properties blocks,
// which are held to the spec's rules here too (mqtt5Rules.ts), as are a few
// fixed-header and body rules mqtt-packet lets through; MQTT 3.1.1 connections get
// the UTF-8 checks only. Only string and property bytes are read (a topic is
// usually all ASCII: one comparison per byte; an MQTT 5 PUBLISH without properties
// costs one or two more); a field split across socket chunks is gathered by
// reference (subarrays), not copied, until complete.
import { connectLimit, MAX_CONNECT_REMAINING_LENGTH } from './connectGuard.js';
import type { Mqtt5Rule, PacketRejectReason } from './mqtt5Rules.js';
import { fieldEnd, isMqttUtf8 } from './mqttUtf8.js';
import {
  bodyFault,
  bytesToJudge,
  CHECK_ABOVE_V5,
  CHECK_ABOVE_V311,
  CONNECT,
  DISCONNECT,
  MQTT5,
  PUBLISH,
  protocolLevel,
  type Utf8Field,
} from './packetFields.js';

export type { Mqtt5Rule, PacketRejectReason } from './mqtt5Rules.js';
export { isMqttUtf8 } from './mqttUtf8.js';
export type { Utf8Field } from './packetFields.js';

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
  /** The MQTT 5 rule broken (malformed_properties, malformed_packet, protocol_error). */
  rule?: Mqtt5Rule;
  /** The property identifier concerned, when there is one (MQTT 5.0 table 2-4). */
  property?: number;
  /** The peer's address when the stream is a socket (set by guardPackets). */
  address?: string;
}

/** Bytes a remaining length of `n` takes in the fixed header (section 2.2.3; MQTT 5.0 section 1.5.5). */
function remainingLengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/**
 * The MQTT 5 Maximum Packet Size (MQTT 5.0 sections 3.1.2.11.4, 3.2.2.3.6: the
 * whole packet, fixed header included) that matches what the guard enforces on a
 * connected client, whose packets may have a remaining length of up to
 * `maxRemainingLength` (broker.maxPacketBytes): the type byte, the bytes of that
 * remaining length, and the remaining length. The total grows with the remaining
 * length, so a packet fits this size exactly when the guard lets it through.
 */
export function maximumPacketSize(maxRemainingLength: number): number {
  return 1 + remainingLengthBytes(maxRemainingLength) + maxRemainingLength;
}

/** An MQTT 3.1.1 CONNECT body buf[start, end) with a zero-byte client id and CleanSession = 0 (see the scanner's flag). */
function emptyClientIdWithoutCleanSession(buf: Uint8Array, start: number, end: number): boolean {
  const pos = fieldEnd(buf, start, end);
  return pos >= 0 && pos + 6 <= end && (buf[pos + 1]! & 0x02) === 0 && buf[pos + 4] === 0 && buf[pos + 5] === 0;
}

/** Place values of the 1-4 remaining-length bytes (section 2.2.3). */
const PLACE = [1, 128, 128 ** 2, 128 ** 3] as const;

const EXPECT_TYPE_BYTE = -1;

/**
 * Follows the packet boundaries of one connection's byte stream. Headers may
 * be split across chunks and a chunk may hold many packets. The first packet
 * must be a CONNECT (section 3.1) no larger than a CONNECT can be (connectGuard.ts);
 * every packet's remaining length must stay within `maxRemainingLength`. After
 * the first rejection the scanner refuses everything (the connection is closed).
 */
export class PacketScanner {
  /** Body bytes of the current packet not seen yet. */
  private bodyLeft = 0;
  /** Remaining-length bytes read of the current header, or EXPECT_TYPE_BYTE. */
  private lengthBytes = EXPECT_TYPE_BYTE;
  private length = 0;
  private packetType = 0;
  /** The low nibble of the fixed header (a PUBLISH's QoS tells whether it has a packet identifier). */
  private packetFlags = 0;
  private firstPacket = true;
  /** An MQTT 5 DISCONNECT has been seen: any further packet is refused. */
  private disconnected = false;
  private rejection?: PacketRejection;
  /** Packets with bodies to judge, by type: those longer than the entry (packetFields.ts). */
  private checkAbove = CHECK_ABOVE_V311;
  /** The CONNECT's protocol level (see protocolLevel). */
  private level = 0;
  /** Fixed headers completed so far (packet boundaries found). */
  headersSeen = 0;
  /** Bytes of the last scanned chunk before the packet that broke a rule (all of it when none did). */
  passable = 0;
  private headerStart = 0;
  /** A packet whose strings span chunks: the body bytes wanted and those gathered so far. */
  private gathering = false;
  private gatherWant = 0;
  private gatherHave = 0;
  private gathered: Buffer[] = [];
  /**
   * The CONNECT had a zero-byte client id with CleanSession = 0 (MQTT 3.1.1 only).
   * Nothing in src/ reads it any more: aedes 2 answers such a CONNECT with CONNACK 2
   * itself [MQTT-3.1.3-8]. Kept only because test/broker/conformance.test.ts asserts
   * it; remove it together with that assertion.
   */
  emptyClientIdWithoutCleanSession = false;

  constructor(private readonly maxRemainingLength: number) {}

  /** The CONNECT's protocol level (4 for MQTT 3.1.1, 5 for MQTT 5), 0 until it has been read. */
  get protocolLevel(): number {
    return this.level;
  }

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
        if (this.gathering) {
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
        // Nothing may follow an MQTT 5 DISCONNECT [MQTT-3.14.4-1]: mqtt-packet reads the bytes
        // after one of remaining length 0 or 1 (in the same read) as its reason code and
        // properties. Refused here, those bytes never reach it.
        if (this.disconnected) return this.reject({ reason: 'protocol_error', packetType: byte >> 4, rule: 'after_disconnect' });
        this.packetType = byte >> 4;
        this.packetFlags = byte & 0x0f;
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
      const limit = this.firstPacket ? this.firstPacketLimit(chunk, i, n) : this.maxRemainingLength;
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
          if (this.level !== MQTT5) continue;
          // MQTT 5: properties after the topic and packet identifier (MQTT 5.0 section
          // 3.3.2.3). The common cases, judged here: QoS 0 without DUP, or QoS 1 or 2
          // with a packet identifier other than 0 (MQTT-3.3.1-2, MQTT-3.3.1-4,
          // MQTT-2.2.1-3), then an empty block, one 0 byte: nothing to walk. Anything
          // else (properties, bad flags, a body cut short) is judged in full below.
          const f = this.packetFlags & 0x0e;
          const end = i + this.length;
          if (f === 0) {
            if (topicEnd < end && topicEnd < n && chunk[topicEnd] === 0) continue;
          } else if (f & 0x06 && (f & 0x06) !== 0x06) {
            const props = topicEnd + 2;
            if (props < end && props < n && chunk[props] === 0 && (chunk[topicEnd]! | chunk[topicEnd + 1]!) !== 0) continue;
          }
        }
      }
      if (type === DISCONNECT && this.level === MQTT5) this.disconnected = true;
      if (this.length > this.checkAbove[type]!) {
        const avail = Math.min(n - i, this.length);
        const want = bytesToJudge(type, this.packetFlags, this.level, chunk, i, avail, this.length);
        if (want <= avail) {
          const why = this.judge(chunk, i, i + want);
          if (why) return why;
        } else {
          this.gathering = true;
          this.gatherWant = want;
          this.gatherHave = 0;
          this.gathered = [];
        }
      }
    }
    this.passable = n;
    return undefined;
  }

  /**
   * The bound on the first packet (connectGuard.ts): MQTT 5's larger one only when
   * the CONNECT shows protocol level 5. The level sits 7 bytes into the body (after
   * the protocol name "MQTT"), so a CONNECT above the 3.1.1 bound must show it in the
   * same read as its fixed header; otherwise the 3.1.1 bound applies. Deciding at the
   * header keeps the rule of the whole guard (no byte of an oversized packet reaches
   * the parser) without holding bytes back, and a 3.1.1 client, or a header alone,
   * sees exactly the 3.1.1 bound as before. The cost: an MQTT 5 CONNECT above 327,695
   * bytes whose first body bytes come in a later read than its header is refused.
   * Clients write a CONNECT in one go (mqtt-packet corks the socket), so its first
   * TCP segment, TLS record or WebSocket message carries both.
   */
  private firstPacketLimit(chunk: Buffer, bodyStart: number, n: number): number {
    const v311 = Math.min(MAX_CONNECT_REMAINING_LENGTH, this.maxRemainingLength);
    if (this.length <= v311) return v311; // the common case: no need to look further
    return connectLimit(protocolLevel(chunk, bodyStart, Math.min(n, bodyStart + this.length)), this.maxRemainingLength);
  }

  /** Judges the current packet's body in buf[start, end) (all that bytesToJudge asked for): strings, and MQTT 5 rules. */
  private judge(buf: Uint8Array, start: number, end: number): PacketRejection | undefined {
    const type = this.packetType;
    if (type === CONNECT && this.headersSeen === 1) {
      // The connection's protocol level: the layout of every later packet.
      this.level = protocolLevel(buf, start, end);
      if (this.level === MQTT5) this.checkAbove = CHECK_ABOVE_V5;
      else this.emptyClientIdWithoutCleanSession = emptyClientIdWithoutCleanSession(buf, start, end);
    }
    const why = bodyFault(type, this.packetFlags, this.level, buf, start, end);
    return why ? this.reject({ ...why, packetType: type }) : undefined;
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
      const head = this.gathered.length === 1 ? this.gathered[0]! : Buffer.concat(this.gathered, this.gatherHave);
      // A length prefix has arrived (a PUBLISH's topic length, then for MQTT 5 its
      // properties length): it may ask for more.
      const want = bytesToJudge(this.packetType, this.packetFlags, this.level, head, 0, this.gatherHave, this.length);
      if (want > this.gatherHave) {
        this.gathered = [head];
        this.gatherWant = want;
        continue;
      }
      this.gathering = false;
      this.gathered = [];
      return this.judge(head, 0, want);
    }
  }

  private reject(r: PacketRejection): PacketRejection {
    this.passable = this.headerStart;
    this.rejection = r;
    return r;
  }
}

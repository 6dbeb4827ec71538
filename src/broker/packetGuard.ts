// A bound on the size of every MQTT packet a client sends, checked before aedes
// sees the bytes. aedes 1.2 has no maximum packet size: its parser (mqtt-packet)
// buffers a packet until the announced remaining length has arrived, up to 256 MB
// (MQTT 3.1.1 section 2.2.3), which a 512 MB gateway cannot afford. The scan reads
// only fixed headers (section 2.2: one type/flags byte, then a 1-4 byte remaining
// length) and steps over bodies by counting, so it never copies a payload.
import type { Readable } from 'node:stream';
import { MAX_CONNECT_REMAINING_LENGTH } from './connectGuard.js';

/** Stable reason codes (also the `reason` label of edgegate_packets_rejected_total). */
export type PacketRejectReason = 'not_connect' | 'malformed_length' | 'too_large';

export interface PacketRejection {
  reason: PacketRejectReason;
  /** Control packet type (the high nibble of the first byte, section 2.2.1). */
  packetType: number;
  /** The remaining length the client announced (too_large only). */
  announced?: number;
  /** The bound it broke (too_large only). */
  limit?: number;
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
    }
    this.passable = n;
    return undefined;
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
    if (!why) return chunk;
    if (!reported) {
      reported = true;
      reject(why);
    }
    return scanner.passable > 0 ? chunk.subarray(0, scanner.passable) : null;
  };
}

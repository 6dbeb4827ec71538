// Puts the packet scanner (packetGuard.ts) between a client's socket and aedes's
// parser, so a packet that breaks a rule is never parsed.
import type { Readable } from 'node:stream';
import { type PacketRejection, PacketScanner } from './packetGuard.js';

/**
 * Scans everything read from `socket` and calls `reject` once (it should
 * close the socket) when a packet breaks a rule. aedes reads the socket with
 * 'readable' + read(null), so the guard wraps this socket's read(): it sees
 * each chunk before aedes parses it and hands on only the bytes before the
 * offending packet, so an oversized packet that arrived whole in one chunk is
 * never parsed, let alone delivered. (A 'data' listener would see the chunk
 * too, but could not keep it from the parser.) No copy, no extra event.
 * `reject` runs synchronously inside aedes's read, between two packets.
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
      const address = (this as { remoteAddress?: string }).remoteAddress;
      reject(address === undefined ? why : { ...why, address });
    }
    return scanner.passable > 0 ? chunk.subarray(0, scanner.passable) : null;
  };
}

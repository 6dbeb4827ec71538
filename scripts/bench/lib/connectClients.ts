// Opens many MQTT connections at once against a server and measures how fast
// they are accepted. Uses raw sockets with a prebuilt CONNECT (see mqttWire.ts),
// MQTT 3.1.1 or 5.0 (ConnectFields.protocolVersion).
import { type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectFields, connackCode, connectPacket, firstPacket } from './mqttWire.js';

export interface ConnectManyOptions {
  port: number;
  host?: string;
  count: number;
  /** Connections in flight at once (default: all of them, i.e. fully concurrent). */
  concurrency?: number;
  /** CONNECT fields for client i. */
  fields: (i: number) => ConnectFields;
  /** Per-connection deadline for the CONNACK (default 30 s). */
  timeoutMs?: number;
}

export interface ConnectManyResult {
  /** Sockets whose CONNACK was 0, still open (close them with closeAll). */
  sockets: Socket[];
  accepted: number;
  /** CONNACK return code -> how many. */
  refused: Record<number, number>;
  /** Connections that failed without a CONNACK (reset, timeout). */
  errors: number;
  /** The first error's text, if any. */
  firstError?: string;
  /** The first CONNACK received, whole (to check its MQTT 5 properties). */
  firstConnack?: Buffer;
  elapsedMs: number;
  /** Accepted connections per second of wall time. */
  connectsPerSec: number;
}

type ConnectOutcome = { code: number; socket: Socket; connack: Buffer } | { error: string };

/**
 * One connection: resolves with the CONNACK code (socket kept open when 0) and the
 * CONNACK itself, or an error string. Any other first packet (an MQTT 5 AUTH 0xF0
 * challenge, a DISCONNECT) is an error.
 */
export function connectOne(port: number, host: string, fields: ConnectFields, timeoutMs = 30_000): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ port, host });
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (out: ConnectOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if ('error' in out || out.code !== 0) socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(() => finish({ error: 'timeout' }), timeoutMs);
    socket.once('connect', () => socket.write(connectPacket(fields)));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const code = connackCode(buf);
      if (code !== undefined) finish({ code, socket, connack: Buffer.from(firstPacket(buf)!) });
      else if (buf[0] !== 0x20 && buf.length >= 2) finish({ error: `unexpected packet 0x${buf[0]!.toString(16)}` });
    });
    socket.on('error', (err) => finish({ error: err.message }));
    socket.on('close', () => finish({ error: 'closed before CONNACK' }));
  });
}

export async function connectMany(opts: ConnectManyOptions): Promise<ConnectManyResult> {
  const host = opts.host ?? '127.0.0.1';
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? opts.count, opts.count));
  const result: ConnectManyResult = { sockets: [], accepted: 0, refused: {}, errors: 0, elapsedMs: 0, connectsPerSec: 0 };
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < opts.count) {
      const i = next++;
      const out = await connectOne(opts.port, host, opts.fields(i), opts.timeoutMs);
      if ('error' in out) {
        result.errors++;
        result.firstError ??= out.error;
        continue;
      }
      result.firstConnack ??= out.connack;
      if (out.code === 0) {
        result.accepted++;
        result.sockets.push(out.socket);
        out.socket.on('error', () => undefined);
      } else result.refused[out.code] = (result.refused[out.code] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.elapsedMs = performance.now() - t0;
  result.connectsPerSec = result.accepted / (result.elapsedMs / 1000);
  return result;
}

/** Closes sockets politely (DISCONNECT, section 3.14) and waits until they are closed. */
export async function closeAll(sockets: Socket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', () => resolve());
          s.end(Buffer.from([0xe0, 0x00]));
          setTimeout(() => s.destroy(), 2000).unref();
        }),
    ),
  );
}

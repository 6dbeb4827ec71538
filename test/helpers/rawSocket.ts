// Raw TCP exchanges for conformance and fault tests: bytes in, whatever the
// server answered before it closed the connection (or a deadline) out.
import { connect as tcpConnect, type Socket } from 'node:net';

export interface Exchange {
  reply: Buffer;
  closedByServer: boolean;
}

export interface RawHandlers {
  /** Called once connected: write the first bytes. */
  onConnect(socket: Socket): void;
  /** Called with each chunk received (after it is recorded); `finish(false)` ends early. */
  onData?(chunk: Buffer, socket: Socket, finish: (closedByServer: boolean) => void): void;
}

/** One raw connection; resolves with everything received once the server closes it, or after `ms`. */
export function rawConnection(port: number, ms: number, handlers: RawHandlers): Promise<Exchange> {
  return new Promise((resolve) => {
    const s: Socket = tcpConnect({ port, host: '127.0.0.1' });
    const got: Buffer[] = [];
    let settled = false;
    const finish = (closedByServer: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      resolve({ reply: Buffer.concat(got), closedByServer });
    };
    const t = setTimeout(() => finish(false), ms);
    s.on('data', (d: Buffer) => {
      got.push(d);
      handlers.onData?.(d, s, finish);
    });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('connect', () => handlers.onConnect(s));
  });
}

/** Sends the chunks (in order, one write each); resolves with the reply once the server closes (or after ms). */
export function rawExchange(port: number, chunks: Buffer[], ms = 3000): Promise<Exchange> {
  return rawConnection(port, ms, {
    onConnect: (s) => {
      for (const c of chunks) s.write(c);
    },
  });
}

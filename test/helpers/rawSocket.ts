// Raw TCP exchanges for conformance and fault tests: bytes in, whatever the
// server answered before it closed the connection (or the caller's barrier) out.
import { type Socket, connect as tcpConnect } from 'node:net';

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

/**
 * One raw connection; resolves with everything received once the server closes it,
 * or the handlers call finish(), or after `ms` (a safety net: a connection the server
 * keeps open is ended by the caller's barrier, not by waiting).
 */
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

export interface ExchangeOptions {
  /** Safety net only (default 3000 ms). */
  timeoutMs?: number;
  /** Done, with the connection still open, once the reply so far satisfies it. */
  until?: (reply: Buffer) => boolean;
  /** Half-close after the chunks: the server reads them, sees the end of the stream and closes, which ends the exchange. */
  end?: boolean;
}

/** Sends the chunks (in order, one write each); resolves with the reply once the server closes (or `until` holds). */
export function rawExchange(port: number, chunks: Buffer[], { timeoutMs = 3000, until, end = false }: ExchangeOptions = {}): Promise<Exchange> {
  const got: Buffer[] = [];
  return rawConnection(port, timeoutMs, {
    onConnect: (s) => {
      for (const c of chunks) s.write(c);
      if (end) s.end();
    },
    onData: (d, _s, finish) => {
      got.push(d);
      if (until?.(Buffer.concat(got))) finish(false);
    },
  });
}

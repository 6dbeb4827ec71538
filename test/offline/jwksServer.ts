// A real JWKS endpoint on 127.0.0.1 for tests: serves the public halves of keys
// generated here, can go down (connection refused) and come back, and can send
// a chosen Date header (a trusted time reading for the gateway clock).
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type JWTPayload, SignJWT } from 'jose';

export interface TestKey {
  kid: string;
  alg: 'ES256' | 'ES512' | 'RS256' | 'EdDSA';
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

export function makeKey(kid: string, alg: TestKey['alg'] = 'ES256'): TestKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES512'
        ? generateKeyPairSync('ec', { namedCurve: 'P-521' })
        : alg === 'RS256'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ed25519');
  const jwk = { ...(pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: pair.privateKey, jwk };
}

export async function signWith(key: TestKey, payload: JWTPayload, opts: { kid?: string | null } = {}): Promise<string> {
  const kid = opts.kid === null ? undefined : (opts.kid ?? key.kid);
  return new SignJWT({ jti: randomUUID(), ...payload }).setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(kid ? { kid } : {}) }).sign(key.privateKey);
}

export class JwksServer {
  keys: TestKey[] = [];
  /** Body override (garbage tests); undefined serves the keys. */
  body?: string;
  status = 200;
  /** Date header to send (ms, or a function giving it, e.g. a fake clock); undefined sends the real time. */
  dateMs?: number | (() => number);
  requests = 0;
  private server?: Server;
  port = 0;

  /** With `tls` ({key, cert} PEM), serves https. */
  constructor(private readonly tls?: { key: string; cert: string }) {}

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  async start(port = 0): Promise<void> {
    const handler: RequestListener = (_req, res) => {
      this.requests++;
      const body = this.body ?? JSON.stringify({ keys: this.keys.map((k) => k.jwk) });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.dateMs !== undefined) headers.date = new Date(typeof this.dateMs === 'function' ? this.dateMs() : this.dateMs).toUTCString();
      res.sendDate = this.dateMs === undefined;
      res.writeHead(this.status, headers);
      res.end(body);
    };
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening: the endpoint is down (connection refused). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

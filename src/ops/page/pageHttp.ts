// Request and response plumbing of the status page: security headers on every
// answer, JSON replies, bounded JSON bodies, and the same-origin checks that
// (with the CSRF header and the SameSite=Strict cookie) keep other sites out.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type JsonObject, parseJsonObject } from '../../json.js';
import { isLoopbackHost } from '../pageAuthPolicy.js';

const MAX_BODY_BYTES = 16 * 1024;

/** No inline script or style, nothing from elsewhere, never framed. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export function reply(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: Buffer | string,
  extra: Record<string, string | string[]> = {},
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...SECURITY_HEADERS, ...extra, 'Content-Type': contentType, 'Content-Length': bytes.length });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

export function json(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, extra: Record<string, string | string[]> = {}): void {
  reply(req, res, status, 'application/json; charset=utf-8', JSON.stringify(value) + '\n', extra);
}

/** Reached over TLS (directly, or through a proxy that says so: a lie there only makes the liar's cookie unusable). */
export function overTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

/**
 * A state-changing request must come from the page itself: a browser sends
 * Origin (and Sec-Fetch-Site) with every POST, and they must name this very
 * host. Clients that send neither (curl, tests) still need the session's CSRF token.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Without a login, only a loopback Host is answered: a DNS-rebinding site cannot read the page. */
export function loopbackHostHeader(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return isLoopbackHost(name);
}

/** The request's JSON object body (at most 16 KiB, Content-Type application/json), or an HTTP status to answer. */
export function readJson(req: IncomingMessage): Promise<JsonObject | number> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    req.resume();
    return Promise.resolve(415);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(413);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(parseJsonObject(Buffer.concat(chunks).toString('utf8')) ?? 400));
    req.on('error', () => resolve(400));
  });
}

// One GET of a JWKS document over http(s), with node's own http/https so that
// an extra CA (auth.jwt.jwks.caFile) and a hard timeout apply. Up to 3 redirects
// are followed, never from https to http (a configured https URL stays on https;
// a configured http URL, e.g. on loopback, may stay on http or move to https);
// the body is bounded.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { EdgegateError } from '../errors.js';

export interface JwksResponse {
  body: string;
  /** The response's Date header as ms since the epoch (a trusted time reading), if present and valid. */
  dateMs?: number;
}

export interface FetchOptions {
  timeoutMs: number;
  /** Extra CA certificates (PEM), trusted in addition to the system roots. */
  caPem?: string;
  maxBytes?: number;
  /** Redirects followed at most (default 3). */
  maxRedirects?: number;
}

export class JwksFetchError extends EdgegateError {
  constructor(message: string) {
    super('EDGEGATE_JWKS_FETCH_FAILED', message);
    this.name = 'JwksFetchError';
  }
}

const MAX_BYTES = 1024 * 1024;
export const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A redirect to follow: the next URL. */
class Redirect {
  constructor(
    readonly location: string | undefined,
    readonly status: number,
  ) {}
}

/** GETs `url`, following redirects; the timeout covers the whole chain. */
export async function fetchJwksDocument(url: string, options: FetchOptions): Promise<JwksResponse> {
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw new JwksFetchError(`not a URL: ${url}`);
  }
  if (current.protocol !== 'http:' && current.protocol !== 'https:') throw new JwksFetchError(`unsupported protocol ${current.protocol}`);
  const deadline = Date.now() + options.timeoutMs;
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  for (let hops = 0; ; hops++) {
    const out = await getOnce(current, { ...options, timeoutMs: Math.max(1, deadline - Date.now()) });
    if (!(out instanceof Redirect)) return out;
    if (hops >= maxRedirects) throw new JwksFetchError(`more than ${maxRedirects} redirects`);
    if (!out.location) throw new JwksFetchError(`HTTP ${out.status} without a Location header`);
    let next: URL;
    try {
      next = new URL(out.location, current);
    } catch {
      throw new JwksFetchError(`HTTP ${out.status} to an invalid Location`);
    }
    // Never https -> http: the keys that admit every sensor must not travel in clear text.
    const allowed = next.protocol === 'https:' || (next.protocol === 'http:' && current.protocol === 'http:');
    if (!allowed) throw new JwksFetchError(`refusing a redirect from ${current.protocol} to ${next.protocol} (${next.origin})`);
    current = next;
  }
}

function getOnce(parsed: URL, options: FetchOptions): Promise<JwksResponse | Redirect> {
  const maxBytes = options.maxBytes ?? MAX_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: JwksResponse | Redirect): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const onResponse = (res: IncomingMessage): void => {
      if (res.statusCode !== undefined && REDIRECT_STATUSES.has(res.statusCode)) {
        res.resume();
        return finish(null, new Redirect(res.headers.location, res.statusCode));
      }
      if (res.statusCode !== 200) {
        res.resume();
        return finish(new JwksFetchError(`HTTP ${res.statusCode}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return finish(new JwksFetchError(`response larger than ${maxBytes} bytes`));
        chunks.push(chunk);
      });
      res.on('error', (err) => finish(new JwksFetchError(err.message)));
      res.on('end', () => {
        const date = res.headers.date ? Date.parse(res.headers.date) : NaN;
        finish(null, { body: Buffer.concat(chunks).toString('utf8'), dateMs: Number.isFinite(date) ? date : undefined });
      });
    };
    const common = { method: 'GET', headers: { accept: 'application/json, application/jwk-set+json' } };
    const req =
      parsed.protocol === 'https:'
        ? httpsRequest(parsed, { ...common, ...(options.caPem ? { ca: [...rootCertificates, options.caPem] } : {}) }, onResponse)
        : httpRequest(parsed, common, onResponse);
    req.on('error', (err) => finish(new JwksFetchError(err.message)));
    const timer = setTimeout(() => finish(new JwksFetchError(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    timer.unref?.();
    req.end();
  });
}

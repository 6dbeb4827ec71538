// One GET of a JWKS document over http(s), with node's own http/https so that
// an extra CA (auth.jwt.jwks.caFile) and a hard per-request timeout apply.
// Redirects are not followed; the body is bounded.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

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
}

export class JwksFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksFetchError';
  }
}

const MAX_BYTES = 1024 * 1024;

export function fetchJwksDocument(url: string, options: FetchOptions): Promise<JwksResponse> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new JwksFetchError(`not a URL: ${url}`));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return Promise.reject(new JwksFetchError(`unsupported protocol ${parsed.protocol}`));
  const maxBytes = options.maxBytes ?? MAX_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: JwksResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value!);
    };
    const onResponse = (res: IncomingMessage): void => {
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

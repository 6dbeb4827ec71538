// A small HTTP client for the status page's API (node:http, so that tests can
// set any header a browser or an attacker would: Host, Origin, Cookie).
import { request } from 'node:http';
import type { ConfigOverrides } from '../../../src/config/types.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { hsToken, nowSec } from '../../helpers/tokens.js';

export const PAGE_SECRET = 'status-page-test-secret';

export interface PageResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export function httpRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<PageResponse> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? (body ? 'POST' : 'GET'),
        headers: { ...(body ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T }));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error(`${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A page session like a browser's: the cookie and the CSRF token from GET /api/session. */
export class PageSessionClient {
  cookie = '';
  csrf = '';
  constructor(readonly port: number) {}

  async open(): Promise<Record<string, unknown>> {
    const r = await httpRequest(this.port, '/api/session', { headers: this.headers() });
    this.takeCookie(r);
    const body = r.json();
    this.csrf = String(body.csrf);
    return body;
  }

  async login(token: string): Promise<PageResponse> {
    const r = await this.post('/api/login', { token });
    this.takeCookie(r);
    if (r.status === 200) this.csrf = String(r.json().csrf);
    return r;
  }

  get(path: string): Promise<PageResponse> {
    return httpRequest(this.port, path, { headers: this.headers() });
  }

  post(path: string, body: unknown, extra: Record<string, string> = {}): Promise<PageResponse> {
    return httpRequest(this.port, path, { body, headers: { ...this.headers(), 'X-CSRF-Token': this.csrf, ...extra } });
  }

  private headers(): Record<string, string> {
    return this.cookie ? { Cookie: this.cookie } : {};
  }

  private takeCookie(r: PageResponse): void {
    const set = r.headers['set-cookie'];
    const first = Array.isArray(set) ? set[0] : set;
    if (first) this.cookie = first.split(';')[0]!;
  }
}

export function pageDaemon(http: Record<string, unknown> = {}, rest: ConfigOverrides = {}): Promise<TestDaemon> {
  return startDaemon({ ...rest, auth: { jwt: { secret: PAGE_SECRET } }, http: { enabled: true, ...http } } as ConfigOverrides);
}

export function adminToken(sub = 'ops', extra: Record<string, unknown> = {}): Promise<string> {
  return hsToken(PAGE_SECRET, { sub, jti: `admin-${sub}`, iat: nowSec(), exp: nowSec() + 3600, edgegate: { admin: true }, ...extra });
}

export function sensorToken(sub = 'sensor-a', jti = `jti-${sub}`): Promise<string> {
  return hsToken(PAGE_SECRET, { sub, jti, iat: nowSec(), exp: nowSec() + 3600 });
}

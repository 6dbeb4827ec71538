// When the status page demands an admin login, and whether the daemon may start
// that way. Loaded with the daemon (tiny, no dependencies): the check runs at
// start-up, before anything listens, like every other configuration error.
import { isIP } from 'node:net';
import type { TrustedKey } from '../auth/keys.js';
import type { HttpConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) !== 6) return false;
  // The URL parser writes an IPv6 address in its one canonical form (::ffff:127.0.0.1 → ::ffff:7f00:1).
  const canonical = new URL(`http://[${h}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** True when the page and every action require an admin login. */
export function pageAuthRequired(http: Pick<HttpConfig, 'host' | 'pageAuth'>): boolean {
  return http.pageAuth === 'always' || !isLoopbackHost(http.host);
}

/**
 * Admin tokens are verified with the local keys only (auth.jwt.secret,
 * auth.jwt.pubkey, the generated secret), never with JWKS keys: a cloud issuer
 * that signs sensor tokens for a whole fleet must not open every gateway's page.
 */
export function adminKeys(keys: readonly TrustedKey[]): TrustedKey[] {
  return keys.filter((k) => k.source === 'config' || k.source === 'generated');
}

/** Throws a ConfigError (exit 2) when a login is required and no local key could ever verify an admin token. */
export function checkPageAuth(http: HttpConfig, keys: readonly TrustedKey[]): void {
  if (!http.enabled || (!http.statusPage && !http.metricsAuth)) return;
  const login = pageAuthRequired(http);
  if (!login && !http.metricsAuth) return;
  if (adminKeys(keys).length > 0) return;
  const [path, why] = !login
    ? ['http.metricsAuth', 'http.metricsAuth is true']
    : ['http.host', http.pageAuth === 'always' ? 'http.pageAuth is "always"' : `${http.host} is not a loopback address`];
  throw ConfigError.at(
    path,
    `${why}, so the status page requires an admin token, ` +
      'but no local key can sign one: set auth.jwt.secret or auth.jwt.pubkey (JWKS keys are not trusted for admin logins), ' +
      'bind http.host to 127.0.0.1, or set http.statusPage to false',
  );
}

// Checks on a token's claims that run on every connection, cached or not:
// time (exp, nbf, iat) against the gateway clock, and verifyClaims against this
// connection's username and client id.
import type { JWTPayload } from 'jose';
import { type Identity, PLACEHOLDER, placeholderValue } from './acl.js';
import { AuthRefusal } from './reasons.js';

export interface TimeRules {
  clockToleranceSec: number;
  maxAgeSec: number;
}

/**
 * The last instant a JavaScript Date can hold, ms (ECMA-262 section 21.4.1.1:
 * 8.64e15 ms, year 275760). Every deadline here (disconnect timer, token cache,
 * status page, CLI) is such an instant; an exp past it cannot be one.
 */
export const MAX_INSTANT_MS = 8.64e15;

/**
 * A NumericDate (RFC 7519 section 2): "a JSON numeric value representing the
 * number of seconds from 1970-01-01T00:00:00Z UTC", non-integer values allowed.
 * Nothing in the RFC bounds it above, and EMQX compares exp as a plain number,
 * so any finite, non-negative number is a date: the seed's own example token
 * has exp 15822553606420000. A string, null, a negative number or one JSON
 * parsing turned into Infinity (1e400) is no date: JWT_TIME_INVALID.
 */
function numericClaim(payload: JWTPayload, name: 'exp' | 'nbf' | 'iat'): number | undefined {
  const v = payload[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new AuthRefusal('JWT_TIME_INVALID', `${name} is not a finite number`);
  if (v < 0) throw new AuthRefusal('JWT_TIME_INVALID', `${name} is negative`);
  return v;
}

/** Throws AuthRefusal unless the token is valid at `nowMs` (RFC 7519 4.1.4, 4.1.5, 4.1.6). */
export function checkTimes(payload: JWTPayload, nowMs: number, rules: TimeRules): void {
  const now = nowMs / 1000;
  const tol = rules.clockToleranceSec;
  const exp = numericClaim(payload, 'exp');
  const nbf = numericClaim(payload, 'nbf');
  const iat = numericClaim(payload, 'iat');
  if (exp !== undefined && exp <= now - tol) throw new AuthRefusal('JWT_EXPIRED');
  if (nbf !== undefined && nbf > now + tol) throw new AuthRefusal('JWT_NOT_YET_VALID');
  if (rules.maxAgeSec > 0) {
    if (iat === undefined) throw new AuthRefusal('JWT_TOO_OLD', 'iat is required when auth.jwt.maxAgeSec is set');
    if (now - iat > rules.maxAgeSec + tol) throw new AuthRefusal('JWT_TOO_OLD');
    // A token "issued" later than now cannot have its age judged (and would outlive maxAgeSec).
    if (iat > now + tol) throw new AuthRefusal('JWT_ISSUED_IN_FUTURE');
  }
}

/**
 * An instant in seconds (exp, plus a tolerance) as ms, or null when there is
 * none or it lies beyond what a Date can hold: such a token never expires, like
 * one without exp. Nothing downstream then sees Infinity, an invalid Date or a
 * timer that would overflow (setTimeout fires at once past 2^31-1 ms).
 */
export function instantMs(sec: unknown, plusSec = 0): number | null {
  if (typeof sec !== 'number' || !Number.isFinite(sec)) return null;
  const ms = (sec + plusSec) * 1000;
  return ms <= MAX_INSTANT_MS ? ms : null;
}

/** When the connection must end: exp plus the tolerance that let it in; null if it never does. */
export function expiryMs(payload: JWTPayload, clockToleranceSec: number): number | null {
  return instantMs(payload.exp, clockToleranceSec);
}

/** Expands %u / ${username} and %c / ${clientid} in an expected value; null if a placeholder has no value. */
function expand(template: string, id: Identity): string | null {
  let missing = false;
  const out = template.replace(PLACEHOLDER, (m) => {
    const v = placeholderValue(m, id);
    if (v === undefined || v === '') missing = true;
    return v ?? '';
  });
  return missing ? null : out;
}

/**
 * The verifyClaims entries that hold without an MQTT connection: those whose
 * expected value has no %u / %c placeholder (a status page login has no user name
 * or client id to bind the token to; a literal claim such as an issuer still applies).
 */
export function connectionFreeClaims(verifyClaims: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(verifyClaims).filter(([, template]) => !new RegExp(PLACEHOLDER.source).test(template)));
}

/**
 * Every configured claim must be present and match: a string claim must equal
 * the expected value, an array claim must contain it; numbers and booleans
 * compare by their text. A missing claim fails.
 */
export function checkClaims(payload: JWTPayload, verifyClaims: Record<string, string>, id: Identity): void {
  for (const [name, template] of Object.entries(verifyClaims)) {
    const expected = expand(template, id);
    const actual = payload[name];
    const ok = expected !== null && (Array.isArray(actual) ? actual.some((v) => scalarText(v) === expected) : scalarText(actual) === expected);
    if (!ok) throw new AuthRefusal('JWT_CLAIM_MISMATCH', `claim ${JSON.stringify(name)}`);
  }
}

function scalarText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

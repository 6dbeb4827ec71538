// `edgegate token mint|verify`: tokens made and checked exactly as the broker checks them.
import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeJwt, type JWTPayload, SignJWT } from 'jose';
import { ADMIN_CLAIM, withAdmin } from '../auth/adminClaim.js';
import { configuredSecret, generatedSecret, loadConfiguredKeys } from '../auth/keySetup.js';
import { algorithmsForPublicKey, KeyRing } from '../auth/keys.js';
import { loadOfflineState } from '../auth/offlineState.js';
import { AuthRefusal } from '../auth/reasons.js';
import { verifyToken } from '../auth/verifier.js';
import { GatewayClock } from '../clock/gatewayClock.js';
import { systemTimeSource } from '../clock/timeSource.js';
import { buildTimeMs } from '../config/buildInfo.js';
import type { GatewayConfig } from '../config/types.js';
import { EdgegateError, UsageError } from '../errors.js';
import { configOrExit, failAndExit } from './common.js';

export interface MintOptions {
  sub: string;
  ttl?: string;
  claim?: string[];
  aclPub?: string[];
  aclSub?: string[];
  aclAll?: string[];
  alg?: string;
  key?: string;
  kid?: string;
  jti?: string;
  /** Adds the claim "edgegate": {"admin": true}: a token for the status page's login. */
  admin?: boolean;
}

/** The lifetime of a minted token when neither --ttl nor --claim exp=... says otherwise. */
export const DEFAULT_TTL = '1h';

/** "90", "90s", "15m", "1h", "7d" -> seconds; "0" means no exp claim. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--ttl must look like 3600, 90s, 15m, 1h or 7d; got ${JSON.stringify(text)}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** `k=v`: v is JSON when it parses (numbers, booleans, arrays), else a string. */
export function parseClaim(text: string): [string, unknown] {
  const i = text.indexOf('=');
  if (i <= 0) throw new UsageError(`--claim must be key=value; got ${JSON.stringify(text)}`);
  const raw = text.slice(i + 1);
  try {
    return [text.slice(0, i), JSON.parse(raw)];
  } catch {
    return [text.slice(0, i), raw];
  }
}

function signingKey(config: GatewayConfig, opts: MintOptions): { key: KeyObject | Uint8Array; alg: string } {
  if (opts.key) {
    const key = createPrivateKey(readFileSync(opts.key));
    const fits = algorithmsForPublicKey(key).algs as string[];
    const alg = opts.alg ?? fits[0];
    if (!fits.includes(alg)) throw new UsageError(`--alg ${alg} does not fit a ${key.asymmetricKeyType} key (use ${fits.join(', ')})`);
    return { key, alg };
  }
  const alg = opts.alg ?? 'HS256';
  if (!/^HS(256|384|512)$/.test(alg)) throw new UsageError(`--alg ${alg} needs --key with a private key`);
  const configured = configuredSecret(config.auth.jwt);
  if (configured) return { key: configured, alg };
  // The daemon creates the generated secret on its first start; the CLI never does (one
  // made here, in the wrong place or before the daemon's, would sign tokens it refuses).
  const generated = generatedSecret(config.dataDir, false);
  if (!generated.secret) {
    throw new EdgegateError(
      'EDGEGATE_NO_SIGNING_KEY',
      `no JWT secret to sign with: auth.jwt.secret is not set and ${generated.file} does not exist (dataDir = ${config.dataDir}).\n` +
        'The daemon creates it on its first start: run it once (`npm start` in the checkout, or `sudo systemctl start edgegate`), ' +
        'or set auth.jwt.secret, or sign with a private key (--key).',
    );
  }
  return { key: generated.secret, alg };
}

export async function mintToken(config: GatewayConfig, opts: MintOptions, nowSec = Math.floor(Date.now() / 1000)): Promise<string> {
  const { key, alg } = signingKey(config, opts);
  const payload: JWTPayload = {};
  for (const c of opts.claim ?? []) {
    const [k, v] = parseClaim(c);
    payload[k] = v;
  }
  // A registered claim has one source: its option, or --claim, never both silently.
  for (const [claim, option, given] of [
    ['exp', '--ttl', opts.ttl],
    ['sub', '--sub', opts.sub],
    ['jti', '--jti', opts.jti],
  ] as const) {
    if (claim in payload && given !== undefined && (claim !== 'sub' || payload.sub !== opts.sub)) {
      throw new UsageError(`--claim ${claim}=... and ${option} both set "${claim}": pass only one`);
    }
  }
  const acl: Record<string, string[]> = {};
  if (opts.aclPub?.length) acl.pub = opts.aclPub;
  if (opts.aclSub?.length) acl.sub = opts.aclSub;
  if (opts.aclAll?.length) acl.all = opts.aclAll;
  if (Object.keys(acl).length > 0) payload[config.auth.jwt.aclClaim] = acl;
  if (opts.admin) payload[ADMIN_CLAIM] = withAdmin(payload[ADMIN_CLAIM]);
  const jwt = new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...(opts.kid ? { kid: opts.kid } : {}) });
  if (!('sub' in payload)) jwt.setSubject(opts.sub);
  if (!('iat' in payload)) jwt.setIssuedAt(nowSec);
  if (!('jti' in payload)) jwt.setJti(opts.jti ?? randomUUID());
  // --claim exp=... wins over the default lifetime (an explicit --ttl with it was refused above).
  if (!('exp' in payload)) {
    const ttl = parseDuration(opts.ttl ?? DEFAULT_TTL);
    if (ttl > 0) jwt.setExpirationTime(nowSec + ttl);
  }
  return jwt.sign(key);
}

export async function tokenMint(opts: MintOptions): Promise<void> {
  const config = await configOrExit();
  try {
    process.stdout.write((await mintToken(config, opts)) + '\n');
  } catch (err) {
    failAndExit(err);
  }
}

export async function tokenVerify(token: string, opts: { username?: string; clientId?: string }): Promise<void> {
  const config = await configOrExit();
  const keys = new KeyRing(config.auth.jwt.algorithms);
  // An unreadable key file is a configuration error (exit 2), not a crash.
  const configured = await loadConfiguredKeys(config.auth.jwt, config.dataDir, { createSecret: false }).catch((err: unknown) => failAndExit(err));
  keys.replaceConfigured(configured.keys);
  // The daemon's persisted JWKS, revocations and time floor, as the broker would use them.
  const offline = await loadOfflineState(config, keys);
  const clock = new GatewayClock(systemTimeSource, { floorMs: Math.max(buildTimeMs(), offline.floorMs) });
  try {
    const verdict = await verifyToken(token, { username: opts.username, clientId: opts.clientId ?? '' }, keys, clock.now(), config.auth.jwt);
    if (offline.isRevoked(verdict.payload)) throw new AuthRefusal('JWT_REVOKED');
    // An exp past the last instant a Date holds is "never", as for a token without exp.
    const expires = verdict.expiresAtMs === null ? 'never' : `${new Date(verdict.expiresAtMs).toISOString()} (exp + auth.jwt.clockToleranceSec)`;
    process.stdout.write(`valid\nexpires: ${expires}\n${JSON.stringify(verdict.payload, null, 2)}\n`);
    process.exit(0);
  } catch (err) {
    if (!(err instanceof AuthRefusal)) failAndExit(err);
    process.stdout.write(`invalid ${err.reason}: ${err.message}\n`);
    const claims = unverifiedClaims(token, config.auth.jwt.maxTokenBytes);
    if (claims) process.stdout.write(`claims (NOT verified):\n${JSON.stringify(claims, null, 2)}\n`);
    process.exit(1);
  }
}

/** The claims set of a refused token, decoded without trusting it (for the operator's eyes only). */
function unverifiedClaims(token: string, maxTokenBytes: number): JWTPayload | undefined {
  if (Buffer.byteLength(token) > maxTokenBytes) return undefined;
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

// The authentication pipeline for one CONNECT: rate limit -> token cache ->
// signature verification -> time and claim checks -> revocation. It knows
// nothing of aedes or sockets: it takes connection facts and answers.
import { createHash, hash as oneShotHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { JwtConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Acl } from './acl.js';
import type { KeyRing } from './keys.js';
import { AuthRefusal, type ReasonCode } from './reasons.js';
import { checkShape, checkVerifiedClaims, type SignedClaims, UnknownKid, verifySignature } from './verifier.js';

export interface ConnectFacts {
  clientId: string;
  username?: string;
  password?: Buffer;
  /** MQTT 5 enhanced authentication (method JWT): the token, whatever auth.jwt.from says. */
  authenticationData?: Buffer;
  /** An MQTT 5 re-authentication (AUTH 0x19) of a connected client, not a CONNECT: said in the log. */
  reauthentication?: boolean;
  remoteAddress: string;
}

export interface Session {
  clientId: string;
  username?: string;
  subject?: string;
  jti?: string;
  /** SHA-256 of the token (base64url): the only form in which a token is ever kept. */
  tokenHash: string;
  keyId: string;
  acl: Acl;
  expiresAtMs: number | null;
  payload: JWTPayload;
}

export type AuthResult = { ok: true; session: Session; cached: boolean } | { ok: false; reason: ReasonCode; detail: string };

/** Verified-token cache (offline verification). A hit skips only the signature check. */
export interface TokenCachePort {
  lookup(tokenHash: string, nowMs: number): { kind: 'valid'; signed: SignedClaims } | { kind: 'invalid'; reason: ReasonCode } | undefined;
  rememberValid(tokenHash: string, signed: SignedClaims): void;
  rememberInvalid(tokenHash: string, reason: ReasonCode, nowMs: number): void;
}

export interface RevocationPort {
  isRevoked(payload: JWTPayload): boolean;
  /** Adds a revocation to the in-memory view at once (the stored list stays the record). */
  add?(r: { kind: 'jti' | 'sub'; value: string; reason: string; revokedAtMs: number; latestExpSec: number | null }): void;
}

export interface RateLimitPort {
  /** False when no address is banned: the CONNECT then needs no address lookup (a getpeername syscall). */
  anyBanned?(): boolean;
  isBanned(address: string): boolean;
  recordFailure(address: string, reason: ReasonCode): void;
}

/** Asked once per unknown kid (JWKS out-of-cycle refresh); true if keys changed. */
export interface KeyRefreshPort {
  refreshForUnknownKid(kid: string): Promise<boolean>;
}

export interface AuthenticatorDeps {
  keys: KeyRing;
  clock: GatewayClock;
  rules: JwtConfig;
  logger: Logger;
  cache?: TokenCachePort;
  revocations?: RevocationPort;
  rateLimit?: RateLimitPort;
  keyRefresh?: KeyRefreshPort;
  onResult?: (facts: ConnectFacts, result: AuthResult) => void;
}

export function tokenHash(token: string): string {
  // crypto.hash (Node >= 20.12) is a one-shot about 2x cheaper than createHash: this runs on every CONNECT.
  return typeof oneShotHash === 'function' ? oneShotHash('sha256', token, 'base64url') : createHash('sha256').update(token).digest('base64url');
}

export class Authenticator {
  constructor(private readonly deps: AuthenticatorDeps) {}

  /**
   * Refuses a token (jti) or subject from now on, before the revocation watcher's
   * next poll picks it up from the store (used by the status page's revoke action).
   */
  refuseFromNow(kind: 'jti' | 'sub', value: string, reason: string): void {
    this.deps.revocations?.add?.({ kind, value, reason, revokedAtMs: this.deps.clock.now(), latestExpSec: null });
  }

  /** Where the token is: the MQTT 5 Authentication Data, else the MQTT password or username, per auth.jwt.from. */
  extractToken(facts: Pick<ConnectFacts, 'username' | 'password' | 'authenticationData'>): string | undefined {
    if (facts.authenticationData === undefined && this.deps.rules.from === 'username') return facts.username || undefined;
    const bytes = facts.authenticationData ?? facts.password;
    if (!bytes || bytes.length === 0) return undefined;
    // Refuse oversized passwords before decoding them (64 KiB of garbage costs nothing).
    if (bytes.length > this.deps.rules.maxTokenBytes) throw new AuthRefusal('JWT_TOO_LARGE');
    return bytes.toString('utf8');
  }

  async authenticate(facts: ConnectFacts): Promise<AuthResult> {
    const result = await this.decide(facts);
    const log = (): { clientId: string; address: string; reauthentication?: true } =>
      facts.reauthentication
        ? { clientId: facts.clientId, address: facts.remoteAddress, reauthentication: true }
        : { clientId: facts.clientId, address: facts.remoteAddress };
    if (result.ok) {
      if (this.deps.logger.isLevelEnabled('debug'))
        this.deps.logger.debug({ ...log(), sub: result.session.subject, cached: result.cached }, 'client authenticated');
    } else {
      if (result.reason !== 'RATE_LIMITED') this.deps.rateLimit?.recordFailure(facts.remoteAddress, result.reason);
      this.deps.logger.warn({ ...log(), reason: result.reason, detail: result.detail }, 'authentication refused');
    }
    this.deps.onResult?.(facts, result);
    return result;
  }

  private async decide(facts: ConnectFacts): Promise<AuthResult> {
    try {
      const rl = this.deps.rateLimit;
      if (rl && rl.anyBanned?.() !== false && rl.isBanned(facts.remoteAddress)) throw new AuthRefusal('RATE_LIMITED');
      const token = checkShape(this.extractToken(facts), this.deps.rules.maxTokenBytes);
      const hash = tokenHash(token);
      const now = this.deps.clock.now();
      const hit = this.deps.cache?.lookup(hash, now);
      if (hit?.kind === 'invalid') throw new AuthRefusal(hit.reason, 'remembered');
      let signed = hit?.kind === 'valid' && this.deps.keys.has(hit.signed.keyId) ? hit.signed : undefined;
      const cached = signed !== undefined;
      if (!signed) signed = await this.verifyAndRemember(token, hash, now);
      // A hit ran synchronously since `now` was read; a verification awaited, so read the clock again.
      const verdict = checkVerifiedClaims(signed, facts, cached ? now : this.deps.clock.now(), this.deps.rules);
      if (this.deps.revocations?.isRevoked(signed.payload)) throw new AuthRefusal('JWT_REVOKED');
      const p = signed.payload;
      return {
        ok: true,
        cached,
        session: {
          clientId: facts.clientId,
          username: facts.username,
          subject: typeof p.sub === 'string' ? p.sub : undefined,
          jti: typeof p.jti === 'string' ? p.jti : undefined,
          tokenHash: hash,
          keyId: signed.keyId,
          acl: verdict.acl,
          expiresAtMs: verdict.expiresAtMs,
          payload: p,
        },
      };
    } catch (err) {
      if (err instanceof AuthRefusal) return { ok: false, reason: err.reason, detail: err.message };
      this.deps.logger.error({ err, clientId: facts.clientId }, 'authentication failed internally');
      return { ok: false, reason: 'AUTH_UNAVAILABLE', detail: 'internal error' };
    }
  }

  private async verifyAndRemember(token: string, hash: string, now: number): Promise<SignedClaims> {
    try {
      const signed = await this.verifyWithRefresh(token);
      this.deps.cache?.rememberValid(hash, signed);
      return signed;
    } catch (err) {
      if (err instanceof AuthRefusal && err.reason === 'JWT_SIGNATURE') this.deps.cache?.rememberInvalid(hash, err.reason, now);
      throw err;
    }
  }

  private async verifyWithRefresh(token: string): Promise<SignedClaims> {
    try {
      return await verifySignature(token, this.deps.keys, this.deps.rules.signatureFormat);
    } catch (err) {
      if (err instanceof UnknownKid && this.deps.keyRefresh && (await this.deps.keyRefresh.refreshForUnknownKid(err.kid))) {
        return verifySignature(token, this.deps.keys, this.deps.rules.signatureFormat);
      }
      throw err;
    }
  }
}

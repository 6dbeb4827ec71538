// Revoked tokens, by jti (one token) or by sub (every token of a subject).
// Stored in SQLite so the CLI (another process) and the daemon share them; a
// generation counter, bumped by every change, lets the daemon notice a change
// with one cheap query.
//
// Expiry: a sub revocation stays until it is unrevoked. A jti revocation is
// dropped once the token carrying that jti has expired (exp + clock tolerance
// passed on the gateway clock): jti is unique per token (RFC 7519 4.1.7), so
// an expired token can never be accepted again anyway. Until the gateway has
// seen a token with that jti (connected, cached or refused), its exp is unknown
// and the revocation is kept.
import type { JWTPayload } from 'jose';
import { EdgegateError, UsageError } from '../errors.js';
import type { Sqlite } from '../storage/database.js';
import type { RevocationPort } from './authenticator.js';

export type RevocationKind = 'jti' | 'sub';

export interface Revocation {
  kind: RevocationKind;
  value: string;
  reason: string;
  revokedAtMs: number;
  /** Latest exp (s) of the tokens seen with this jti; null while unknown. */
  latestExpSec: number | null;
}

/** exp used for a token without one: it never expires, so neither does its revocation. */
const NEVER_SEC = 1e15;
export const MAX_REVOCATION_VALUE = 1024;

/** A new revocation refused because the list holds auth.revocation.maxEntries already (nothing is ever evicted). */
export class RevocationListFull extends EdgegateError {
  constructor(
    readonly kind: RevocationKind,
    readonly value: string,
    readonly maxEntries: number,
  ) {
    super(
      'EDGEGATE_REVOCATIONS_FULL',
      `revocation list is full (auth.revocation.maxEntries = ${maxEntries}): ${kind} ${value} was NOT revoked; ` +
        'unrevoke entries that are no longer needed (jti revocations are dropped by themselves once their tokens expire) or raise auth.revocation.maxEntries',
    );
    this.name = 'RevocationListFull';
  }
}

export class RevocationStore {
  constructor(private readonly db: Sqlite) {}

  generation(): number {
    return (this.db.prepare('SELECT generation FROM auth_revocation_generation WHERE id = 1').get() as { generation: number } | undefined)?.generation ?? 0;
  }

  list(): Revocation[] {
    const rows = this.db
      .prepare('SELECT kind, value, reason, revoked_at_ms, latest_exp_sec FROM auth_revocations ORDER BY revoked_at_ms, kind, value')
      .all() as Array<{
      kind: RevocationKind;
      value: string;
      reason: string;
      revoked_at_ms: number;
      latest_exp_sec: number | null;
    }>;
    return rows.map((r) => ({ kind: r.kind, value: r.value, reason: r.reason, revokedAtMs: r.revoked_at_ms, latestExpSec: r.latest_exp_sec }));
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM auth_revocations').get() as { n: number }).n;
  }

  /**
   * Adds (or updates the reason of) a revocation; true if it is new. A new one
   * when `maxEntries` are stored already throws RevocationListFull: a revocation
   * is refused loudly, never dropped (nor an older one evicted) silently.
   */
  revoke(kind: RevocationKind, value: string, reason: string, nowMs: number, maxEntries = Infinity): boolean {
    checkValue(kind, value);
    return this.db
      .transaction(() => {
        const existing = this.db.prepare('SELECT 1 FROM auth_revocations WHERE kind = ? AND value = ?').get(kind, value);
        if (!existing && this.count() >= maxEntries) throw new RevocationListFull(kind, value, maxEntries);
        if (existing) this.db.prepare('UPDATE auth_revocations SET reason = ? WHERE kind = ? AND value = ?').run(reason, kind, value);
        else
          this.db.prepare('INSERT INTO auth_revocations (kind, value, reason, revoked_at_ms) VALUES (?, ?, ?, ?)').run(kind, value, reason, Math.round(nowMs));
        this.bump();
        return !existing;
        // IMMEDIATE: the CLI reads, then writes, beside a daemon that commits every few ms; a
        // deferred transaction would fail at once with SQLITE_BUSY_SNAPSHOT instead of waiting.
      })
      .immediate();
  }

  /** Removes a revocation; true if there was one. */
  unrevoke(kind: RevocationKind, value: string): boolean {
    return this.db
      .transaction(() => {
        const removed = this.db.prepare('DELETE FROM auth_revocations WHERE kind = ? AND value = ?').run(kind, value).changes > 0;
        if (removed) this.bump();
        return removed;
      })
      .immediate();
  }

  /** Records the exp of a token seen with a revoked jti (no generation bump: nothing to re-apply). */
  noteExpiry(jti: string, expSec: number): void {
    this.db
      .prepare("UPDATE auth_revocations SET latest_exp_sec = ? WHERE kind = 'jti' AND value = ? AND (latest_exp_sec IS NULL OR latest_exp_sec < ?)")
      .run(expSec, jti, expSec);
  }

  /** Drops jti revocations whose tokens have all expired; returns how many. */
  pruneExpired(nowMs: number, clockToleranceSec: number): number {
    const cutoff = nowMs / 1000 - clockToleranceSec;
    const n = this.db.prepare("DELETE FROM auth_revocations WHERE kind = 'jti' AND latest_exp_sec IS NOT NULL AND latest_exp_sec < ?").run(cutoff).changes;
    if (n > 0) this.bump();
    return n;
  }

  private bump(): void {
    this.db.prepare('UPDATE auth_revocation_generation SET generation = generation + 1 WHERE id = 1').run();
  }
}

export function checkValue(kind: string, value: unknown): asserts value is string {
  if (kind !== 'jti' && kind !== 'sub') throw new UsageError(`unknown revocation kind ${kind}`);
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_REVOCATION_VALUE) {
    throw new UsageError(`a ${kind} to revoke must be a non-empty string of at most ${MAX_REVOCATION_VALUE} characters`);
  }
}

/** The in-memory view the authenticator consults on every CONNECT (two Set lookups). */
export class RevocationList implements RevocationPort {
  private jtis = new Map<string, Revocation>();
  private subs = new Map<string, Revocation>();
  /** Called when a token with a revoked jti is seen, so its expiry can be recorded. */
  onSeen?: (jti: string, expSec: number) => void;

  replace(revocations: Revocation[]): void {
    this.jtis = new Map(revocations.filter((r) => r.kind === 'jti').map((r) => [r.value, r]));
    this.subs = new Map(revocations.filter((r) => r.kind === 'sub').map((r) => [r.value, r]));
  }

  add(r: Revocation): void {
    (r.kind === 'jti' ? this.jtis : this.subs).set(r.value, r);
  }

  has(kind: RevocationKind, value: string): boolean {
    return (kind === 'jti' ? this.jtis : this.subs).has(value);
  }

  count(): number {
    return this.jtis.size + this.subs.size;
  }

  remove(kind: RevocationKind, value: string): void {
    (kind === 'jti' ? this.jtis : this.subs).delete(value);
  }

  size(): { jti: number; sub: number } {
    return { jti: this.jtis.size, sub: this.subs.size };
  }

  isRevoked(payload: JWTPayload): boolean {
    if (typeof payload.sub === 'string' && this.subs.has(payload.sub)) return true;
    if (typeof payload.jti !== 'string') return false;
    const r = this.jtis.get(payload.jti);
    if (!r) return false;
    const exp = typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp : NEVER_SEC;
    if (r.latestExpSec === null || r.latestExpSec < exp) {
      r.latestExpSec = exp;
      this.onSeen?.(payload.jti, exp);
    }
    return true;
  }
}

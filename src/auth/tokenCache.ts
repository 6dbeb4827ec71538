// The verified-token cache: a token whose signature verified once is not
// verified again (a reconnect storm after a reboot costs a hash and a map
// lookup per sensor instead of an ECDSA verify). Only the signature check is
// skipped: the authenticator still checks exp/nbf, verifyClaims, revocation and
// that the key which verified it is still trusted.
//
// Memory: an LRU of at most maxEntries valid entries (a Map in use order), plus
// a separate, smaller map of negative entries (signature failures, kept
// negativeTtlSec) so a flood of forged tokens cannot evict the good ones.
// Disk: valid entries are written to SQLite in batches (one transaction per
// flush, at most once a second), keyed by SHA-256 of the token; the raw token
// is never stored. Negative entries stay in memory only.
import type { JWTPayload } from 'jose';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import type { Logger } from '../log.js';
import type { Sqlite } from '../storage/database.js';
import type { TokenCachePort } from './authenticator.js';
import { instantMs } from './claims.js';
import type { ReasonCode } from './reasons.js';
import type { SignedClaims } from './verifier.js';

export interface TokenCacheOptions {
  maxEntries: number;
  negativeTtlSec: number;
  /** exp leeway: an entry is dropped once exp + tolerance has passed. */
  clockToleranceSec: number;
  /** Delay between the first unsaved change and the batch write. */
  flushDelayMs?: number;
}

type ValidHit = { kind: 'valid'; signed: SignedClaims };
type InvalidHit = { kind: 'invalid'; reason: ReasonCode };

interface ValidEntry {
  hit: ValidHit;
  /** exp in ms (no tolerance), or null when the token has no exp. */
  expMs: number | null;
  /** Last use as persisted (wall ms); refreshed on disk only when it is old. */
  usedAtMs: number;
}

interface InvalidEntry {
  hit: InvalidHit;
  untilMs: number;
}

const FLUSH_DELAY_MS = 1000;
/** A hit rewrites used_at on disk only when the stored one is older than this (few SD writes). */
const TOUCH_AFTER_MS = 10 * 60_000;
/** Expired entries are swept from memory and disk this often. */
const SWEEP_MS = 10 * 60_000;
const MAX_NEGATIVE = 1000;

export class TokenCache implements TokenCachePort, Component {
  readonly name = 'token-cache';
  private readonly valid = new Map<string, ValidEntry>();
  private readonly invalid = new Map<string, InvalidEntry>();
  /** Unsaved changes: hash -> entry to upsert, or null to delete. */
  private readonly dirty = new Map<string, ValidEntry | null>();
  private flushTimer?: TimerHandle;
  private sweepTimer?: TimerHandle;
  private storageFailed = false;
  private readonly maxNegative: number;
  private readonly stmts?: {
    upsert: { run(...args: unknown[]): unknown };
    remove: { run(...args: unknown[]): unknown };
  };

  constructor(
    private readonly db: Sqlite | undefined,
    private readonly clock: GatewayClock,
    private readonly options: TokenCacheOptions,
    private readonly logger: Logger,
  ) {
    this.maxNegative = Math.min(MAX_NEGATIVE, options.maxEntries);
    if (db) {
      this.stmts = {
        upsert: db.prepare(
          `INSERT INTO auth_token_cache (hash, key_id, payload_json, exp_sec, used_at_ms) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(hash) DO UPDATE SET key_id = excluded.key_id, payload_json = excluded.payload_json,
             exp_sec = excluded.exp_sec, used_at_ms = excluded.used_at_ms`,
        ),
        remove: db.prepare('DELETE FROM auth_token_cache WHERE hash = ?'),
      };
    }
  }

  /** Loads the most recently used persisted entries (skipping expired ones and keys no longer trusted). */
  load(isTrustedKey: (keyId: string) => boolean): number {
    if (!this.db) return 0;
    const now = this.clock.now();
    const cutoffSec = now / 1000 - this.options.clockToleranceSec;
    try {
      this.db.prepare('DELETE FROM auth_token_cache WHERE exp_sec IS NOT NULL AND exp_sec <= ?').run(cutoffSec);
      const rows = this.db
        .prepare('SELECT hash, key_id, payload_json, exp_sec, used_at_ms FROM auth_token_cache ORDER BY used_at_ms DESC LIMIT ?')
        .all(this.options.maxEntries) as Array<{ hash: string; key_id: string; payload_json: string; exp_sec: number | null; used_at_ms: number }>;
      // Oldest first, so the Map's order is least recently used first.
      for (const row of rows.reverse()) {
        if (!isTrustedKey(row.key_id)) {
          this.dirty.set(row.hash, null);
          continue;
        }
        let payload: JWTPayload;
        try {
          payload = JSON.parse(row.payload_json) as JWTPayload;
        } catch {
          this.dirty.set(row.hash, null);
          continue;
        }
        this.valid.set(row.hash, {
          hit: { kind: 'valid', signed: { payload, keyId: row.key_id } },
          expMs: instantMs(row.exp_sec),
          usedAtMs: row.used_at_ms,
        });
      }
      // Anything beyond maxEntries on disk is dropped (bounded file).
      this.db
        .prepare('DELETE FROM auth_token_cache WHERE hash NOT IN (SELECT hash FROM auth_token_cache ORDER BY used_at_ms DESC LIMIT ?)')
        .run(this.options.maxEntries);
      this.flushNow();
    } catch (err) {
      this.storageError(err);
    }
    return this.valid.size;
  }

  async start(): Promise<void> {
    this.sweepTimer = this.clock.setInterval(SWEEP_MS, () => this.sweepExpired());
  }

  async stop(): Promise<void> {
    this.sweepTimer?.cancel();
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    this.flushNow();
  }

  lookup(tokenHash: string, nowMs: number): ValidHit | InvalidHit | undefined {
    const entry = this.valid.get(tokenHash);
    if (entry) {
      // Move to the most recently used end.
      this.valid.delete(tokenHash);
      this.valid.set(tokenHash, entry);
      if (nowMs - entry.usedAtMs > TOUCH_AFTER_MS) {
        entry.usedAtMs = nowMs;
        this.markDirty(tokenHash, entry);
      }
      return entry.hit;
    }
    const negative = this.invalid.get(tokenHash);
    if (negative) {
      if (nowMs < negative.untilMs) return negative.hit;
      this.invalid.delete(tokenHash);
    }
    return undefined;
  }

  rememberValid(tokenHash: string, signed: SignedClaims): void {
    this.invalid.delete(tokenHash);
    const exp = signed.payload.exp;
    const entry: ValidEntry = {
      hit: { kind: 'valid', signed },
      expMs: instantMs(exp),
      usedAtMs: this.clock.now(),
    };
    this.valid.delete(tokenHash);
    this.valid.set(tokenHash, entry);
    this.markDirty(tokenHash, entry);
    while (this.valid.size > this.options.maxEntries) {
      const oldest = this.valid.keys().next().value as string;
      this.valid.delete(oldest);
      this.markDirty(oldest, null);
    }
  }

  rememberInvalid(tokenHash: string, reason: ReasonCode, nowMs: number): void {
    if (this.options.negativeTtlSec <= 0) return;
    this.invalid.delete(tokenHash);
    this.invalid.set(tokenHash, { hit: { kind: 'invalid', reason }, untilMs: nowMs + this.options.negativeTtlSec * 1000 });
    while (this.invalid.size > this.maxNegative) this.invalid.delete(this.invalid.keys().next().value as string);
  }

  /** Drops every entry verified by a key that is no longer trusted (key removed from config or JWKS). */
  dropUntrusted(isTrustedKey: (keyId: string) => boolean): number {
    let n = 0;
    for (const [hash, entry] of this.valid) {
      if (isTrustedKey(entry.hit.signed.keyId)) continue;
      this.valid.delete(hash);
      this.markDirty(hash, null);
      n++;
    }
    if (n > 0) this.logger.info({ entries: n }, 'dropped cached verifications of keys no longer trusted');
    return n;
  }

  /** Payloads of cached tokens (revocations use them to learn when a revoked jti expires). */
  *payloads(): IterableIterator<JWTPayload> {
    for (const e of this.valid.values()) yield e.hit.signed.payload;
  }

  size(): { valid: number; negative: number; unsaved: number } {
    return { valid: this.valid.size, negative: this.invalid.size, unsaved: this.dirty.size };
  }

  /** Writes every unsaved change in one transaction. */
  flushNow(): void {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    if (!this.db || !this.stmts || this.dirty.size === 0) return;
    const batch = [...this.dirty];
    this.dirty.clear();
    try {
      this.db.transaction(() => {
        for (const [hash, entry] of batch) {
          if (entry === null) this.stmts!.remove.run(hash);
          else
            this.stmts!.upsert.run(
              hash,
              entry.hit.signed.keyId,
              JSON.stringify(entry.hit.signed.payload),
              entry.expMs === null ? null : entry.expMs / 1000,
              Math.round(entry.usedAtMs),
            );
        }
      })();
      this.storageFailed = false;
    } catch (err) {
      this.storageError(err);
    }
  }

  private markDirty(hash: string, entry: ValidEntry | null): void {
    if (!this.db) return;
    this.dirty.set(hash, entry);
    // Bounded even if the disk keeps failing: the newest changes win.
    if (this.dirty.size > this.options.maxEntries * 2) this.dirty.delete(this.dirty.keys().next().value as string);
    this.flushTimer ??= this.clock.setTimer(this.options.flushDelayMs ?? FLUSH_DELAY_MS, () => this.flushNow());
  }

  private sweepExpired(): void {
    const cutoffMs = this.clock.now() - this.options.clockToleranceSec * 1000;
    for (const [hash, entry] of this.valid) {
      if (entry.expMs !== null && entry.expMs <= cutoffMs) {
        this.valid.delete(hash);
        this.markDirty(hash, null);
      }
    }
    const now = this.clock.now();
    for (const [hash, entry] of this.invalid) if (entry.untilMs <= now) this.invalid.delete(hash);
  }

  private storageError(err: unknown): void {
    // Logged once per failure streak; the cache keeps working from memory.
    if (!this.storageFailed) this.logger.error({ err: (err as Error).message }, 'token cache: database write failed; continuing from memory');
    this.storageFailed = true;
  }
}

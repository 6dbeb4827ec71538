// Failed-authentication rate limiting per remote address: after maxFailures
// failures within windowSec, the address is banned for banSec, and its CONNECTs
// are refused (RATE_LIMITED) before any token work. One log line per ban.
// Monotonic time: a wall-clock jump neither lifts nor extends a ban.
// Memory is bounded: at most MAX_TRACKED addresses are remembered; beyond that
// the oldest non-banned ones are forgotten first.
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { Logger } from '../log.js';
import type { RateLimitPort } from './authenticator.js';
import type { ReasonCode } from './reasons.js';

export interface RateLimitOptions {
  /** 0 disables rate limiting. */
  maxFailures: number;
  windowSec: number;
  banSec: number;
  /** Cap on remembered addresses (default 10,000). */
  maxTracked?: number;
}

/** Told of every ban and lift (banWatcher.ts mirrors them for `edgegate auth bans`). */
export interface BanEvents {
  banned(address: string, forMs: number, lastReason: string): void;
  lifted(address: string): void;
}

interface Tracked {
  /** Monotonic ms of recent failures, oldest first (at most maxFailures). */
  failures: number[];
  bannedUntil?: number;
}

const MAX_TRACKED = 10_000;

export interface RateLimitStatus {
  trackedAddresses: number;
  /** Addresses banned now. */
  banned: number;
  bansTotal: number;
}

export class FailureRateLimiter implements RateLimitPort {
  private readonly tracked = new Map<string, Tracked>();
  private readonly maxTracked: number;
  private bansTotal = 0;
  /** Monotonic ms until which some ban may be active (an O(1) answer for the common case: none). */
  private bansUntil = -Infinity;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly clock: GatewayClock,
    private readonly logger: Logger,
    private readonly events?: BanEvents,
  ) {
    this.maxTracked = options.maxTracked ?? MAX_TRACKED;
  }

  get enabled(): boolean {
    return this.options.maxFailures > 0 && this.options.banSec > 0;
  }

  anyBanned(): boolean {
    if (this.bansUntil === -Infinity) return false;
    const now = this.clock.monotonic();
    if (now < this.bansUntil) return true;
    // Every ban has run out: forget them (once), then answer in O(1) again.
    for (const [address, t] of this.tracked) if (t.bannedUntil !== undefined) this.lift(address);
    this.bansUntil = -Infinity;
    return false;
  }

  isBanned(address: string): boolean {
    const t = this.tracked.get(address);
    if (t?.bannedUntil === undefined) return false;
    if (this.clock.monotonic() < t.bannedUntil) return true;
    this.lift(address);
    return false;
  }

  private lift(address: string, why = 'expired'): void {
    this.tracked.delete(address);
    this.logger.info({ address, why }, 'rate-limit ban lifted');
    this.events?.lifted(address);
  }

  /** An operator's `edgegate auth unban ADDRESS|*`: lifts the ban(s) now; returns the addresses lifted. */
  unban(address: string): string[] {
    const lifted: string[] = [];
    for (const [a, t] of [...this.tracked]) {
      if (t.bannedUntil === undefined || (address !== '*' && a !== address)) continue;
      this.lift(a, 'unbanned');
      lifted.push(a);
    }
    return lifted;
  }

  recordFailure(address: string, reason: ReasonCode): void {
    if (!this.enabled) return;
    const now = this.clock.monotonic();
    if (this.isBanned(address)) return;
    let t = this.tracked.get(address);
    if (!t) {
      t = { failures: [] };
      this.makeRoom();
    } else this.tracked.delete(address); // re-insert: most recently active last
    this.tracked.set(address, t);
    const windowStart = now - this.options.windowSec * 1000;
    while (t.failures.length > 0 && t.failures[0]! <= windowStart) t.failures.shift();
    t.failures.push(now);
    if (t.failures.length >= this.options.maxFailures) {
      t.bannedUntil = now + this.options.banSec * 1000;
      this.bansUntil = Math.max(this.bansUntil, t.bannedUntil);
      t.failures = [];
      this.bansTotal++;
      this.events?.banned(address, this.options.banSec * 1000, reason);
      this.logger.warn(
        {
          address,
          failures: this.options.maxFailures,
          windowSec: this.options.windowSec,
          banSec: this.options.banSec,
          lastReason: reason,
          lift: `edgegate auth unban ${address}`,
        },
        'too many failed authentications: address banned',
      );
    }
  }

  status(): RateLimitStatus {
    const now = this.clock.monotonic();
    let banned = 0;
    for (const t of this.tracked.values()) if (t.bannedUntil !== undefined && t.bannedUntil > now) banned++;
    return { trackedAddresses: this.tracked.size, banned, bansTotal: this.bansTotal };
  }

  private makeRoom(): void {
    if (this.tracked.size < this.maxTracked) return;
    const now = this.clock.monotonic();
    // Oldest first: drop lifted bans and plain failure records before active bans.
    for (const [address, t] of this.tracked) {
      if (t.bannedUntil === undefined || t.bannedUntil <= now) {
        this.tracked.delete(address);
        return;
      }
    }
    // Every tracked address is banned: forget the oldest ban.
    this.tracked.delete(this.tracked.keys().next().value as string);
  }
}

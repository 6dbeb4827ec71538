// The rate limiter's bans as the CLI sees them (`edgegate auth bans`), and the
// way `edgegate auth unban` reaches the daemon: the daemon mirrors each ban into
// auth_bans as it happens; the CLI removes rows and leaves a request in
// auth_unbans, which the daemon (banWatcher.ts) picks up within a second. Bans
// themselves are the daemon's memory: a restart starts with none.
import type { Sqlite } from '../storage/database.js';

export interface BanRow {
  address: string;
  bannedAtMs: number;
  untilMs: number;
  lastReason: string;
}

/** The address an unban request names to lift every ban. */
export const ALL_ADDRESSES = '*';

export class BanStore {
  constructor(private readonly db: Sqlite) {}

  /** At daemon start: no ban from a previous run is in force. */
  clear(): void {
    this.db.exec('DELETE FROM auth_bans; DELETE FROM auth_unbans');
  }

  put(ban: BanRow): void {
    this.db
      .prepare('INSERT OR REPLACE INTO auth_bans (address, banned_at_ms, until_ms, last_reason) VALUES (?, ?, ?, ?)')
      .run(ban.address, Math.round(ban.bannedAtMs), Math.round(ban.untilMs), ban.lastReason);
  }

  remove(address: string): void {
    this.db.prepare('DELETE FROM auth_bans WHERE address = ?').run(address);
  }

  list(nowMs: number): BanRow[] {
    const rows = this.db
      .prepare('SELECT address, banned_at_ms, until_ms, last_reason FROM auth_bans WHERE until_ms > ? ORDER BY banned_at_ms')
      .all(nowMs) as Array<{
      address: string;
      banned_at_ms: number;
      until_ms: number;
      last_reason: string;
    }>;
    return rows.map((r) => ({ address: r.address, bannedAtMs: r.banned_at_ms, untilMs: r.until_ms, lastReason: r.last_reason }));
  }

  /** The CLI's unban: the rows go at once, the request waits for the daemon. Returns the addresses that were banned. */
  requestUnban(address: string, nowMs: number): string[] {
    return this.db
      .transaction(() => {
        const banned = this.list(nowMs)
          .map((b) => b.address)
          .filter((a) => address === ALL_ADDRESSES || a === address);
        if (address === ALL_ADDRESSES) this.db.exec('DELETE FROM auth_bans');
        else this.remove(address);
        this.db.prepare('INSERT OR REPLACE INTO auth_unbans (address, requested_at_ms) VALUES (?, ?)').run(address, nowMs);
        return banned;
      })
      .immediate(); // the CLI beside a busy daemon: wait for the write lock, never fail on a stale snapshot
  }

  /** The daemon's side: the pending unban requests, taken once. */
  takeUnbanRequests(): string[] {
    return this.db.transaction(() => {
      const addresses = this.db.prepare('SELECT address FROM auth_unbans').pluck().all() as string[];
      if (addresses.length > 0) this.db.exec('DELETE FROM auth_unbans');
      return addresses;
    })();
  }
}

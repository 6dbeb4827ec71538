// Carries bans between the daemon and the CLI (banStore.ts): every ban and lift
// is mirrored into the table as it happens, and once a second the watcher asks
// SQLite whether another connection wrote to the database (PRAGMA data_version:
// a counter in memory, no I/O) and, if so, applies pending `edgegate auth unban`
// requests. So an unban takes effect within a second, and an idle gateway does no
// work for it.
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import type { Logger } from '../log.js';
import type { Sqlite } from '../storage/database.js';
import type { BanStore } from './banStore.js';
import type { BanEvents, FailureRateLimiter } from './rateLimit.js';

const POLL_MS = 1000;

export class BanWatcher implements Component, BanEvents {
  readonly name = 'bans';
  private timer?: TimerHandle;
  private lastVersion = -1;
  private limiter?: FailureRateLimiter;

  constructor(private readonly deps: { db: Sqlite; store: BanStore; clock: GatewayClock; logger: Logger }) {}

  /** The limiter whose bans this mirrors (it is built with this as its events). */
  attach(limiter: FailureRateLimiter): void {
    this.limiter = limiter;
  }

  banned(address: string, forMs: number, lastReason: string): void {
    const now = this.deps.clock.now();
    this.safely(() => this.deps.store.put({ address, bannedAtMs: now, untilMs: now + forMs, lastReason }));
  }

  lifted(address: string): void {
    this.safely(() => this.deps.store.remove(address));
  }

  async start(): Promise<void> {
    this.safely(() => this.deps.store.clear());
    this.timer = this.deps.clock.setInterval(POLL_MS, () => this.poll());
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
  }

  private poll(): void {
    this.safely(() => {
      const version = this.deps.db.pragma('data_version', { simple: true }) as number;
      if (version === this.lastVersion) return;
      this.lastVersion = version;
      for (const address of this.deps.store.takeUnbanRequests()) {
        const lifted = this.limiter?.unban(address) ?? [];
        this.deps.logger.info({ address, lifted: lifted.length }, 'unban requested with edgegate auth unban');
      }
    });
  }

  /** The mirror must never break authentication: a failed write is logged, the ban itself stands. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'ban table not updated');
    }
  }
}

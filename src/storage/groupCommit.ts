// Group commit for the one database: everything written in an event-loop turn
// (the bridge queue's new rows, a message's retained copy and its copies queued
// for offline sessions, a subscription, ...) goes into one transaction, committed
// once — one fsync with storage.sync = full — and whoever must not acknowledge
// before it is on the card waits for committed(). Writes run at once, inside the
// open transaction, so reads on this connection see them; other connections (the
// CLI) see them after the commit.
//
// A write that throws is undone alone (a savepoint around it). A COMMIT that fails
// (disk full, I/O error) rolls the whole group back: every waiter is rejected and
// each owner is told (onRollback) so that what it keeps in memory follows the disk.
// Code that calls db.transaction() while a group is open nests as a savepoint and
// commits with the group (better-sqlite3 nests transactions that way).
import type { Sqlite } from './database.js';
import { type Deferred as Pending, deferred as pending } from './deferred.js';
import type { WalSync } from './walSync.js';

export interface GroupCommitOptions {
  /** Gather writes this long before the COMMIT (0: at the end of the current turn). */
  delayMs: number;
  /** Monotonic ms (for how long storage is reported failing after a failed commit). */
  monotonicMs?: () => number;
  /** Commit at once when a group holds this many writes (bounds memory and latency). */
  maxWrites?: number;
  /**
   * storage.sync = full: each group is committed with synchronous = NORMAL and made
   * durable by this fdatasync of the WAL off the event loop (walSync.ts); its waiters
   * are answered after it. The connection stays FULL for writes outside a group.
   */
  walSync?: Pick<WalSync, 'sync' | 'idle' | 'close'>;
}

const COMMITTED = Promise.resolve();

/** How long after a failed commit storage still counts as failing (health, status page). */
export const FAILING_FOR_MS = 10_000;

/** Whether a commit failed for want of space (SQLite's SQLITE_FULL; ENOSPC from the file system). */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === 'SQLITE_FULL' || /database or disk is full|ENOSPC/i.test(String(e?.message ?? ''));
}

export class GroupCommit {
  private group?: Pending;
  private writes = 0;
  private timer?: { cancel(): void };
  private readonly rollbackListeners: Array<(err: unknown) => void> = [];
  private readonly beforeCommitHooks: Array<() => void> = [];
  private committing = false;
  private readonly maxWrites: number;
  /** Commits and failed commits so far (status, metrics, tests). */
  commits = 0;
  failures = 0;
  /** The error of the last failed COMMIT (health: "disk full"; see failing()). */
  lastError?: Error;
  private lastFailureAt = -Infinity;
  /** The fsync of the last committed group, until it settles (committed() with no group open waits for it). */
  private syncing?: Promise<void>;

  constructor(
    private readonly db: Sqlite,
    private readonly options: GroupCommitOptions,
  ) {
    this.maxWrites = options.maxWrites ?? 4096;
  }

  /** Runs `fn` inside the open group (opening one); its effects are durable once committed() resolves. */
  write<T>(fn: () => T): T {
    if (!this.group) this.open();
    this.db.exec('SAVEPOINT group_write');
    let value: T;
    try {
      value = fn();
    } catch (err) {
      this.db.exec('ROLLBACK TO group_write');
      this.db.exec('RELEASE group_write');
      throw err;
    }
    this.db.exec('RELEASE group_write');
    if (++this.writes >= this.maxWrites && !this.committing) this.commit();
    return value;
  }

  /** Resolves once everything written so far is committed; at once when nothing is pending. */
  committed(): Promise<void> {
    return this.group?.promise ?? this.syncing ?? COMMITTED;
  }

  /** Commits what is open and waits for its fsync: before the database is closed. */
  async close(): Promise<void> {
    this.flush();
    await this.committed().catch(() => undefined);
    await this.options.walSync?.idle();
    this.options.walSync?.close();
  }

  /**
   * Whether storage counts as failing: a commit failed within the last
   * FAILING_FOR_MS. Not cleared by the next commit that happens to succeed: on a
   * full card a small commit (a deletion, a session row) still fits while every
   * message is refused, and health would flap between the two.
   */
  failing(): boolean {
    return this.lastError !== undefined && this.now() - this.lastFailureAt < FAILING_FOR_MS;
  }

  private now(): number {
    return this.options.monotonicMs?.() ?? performance.now();
  }

  /** True while a group is open (written, not yet committed). */
  get pending(): boolean {
    return this.group !== undefined;
  }

  /**
   * Opens a group (if none is open) without writing yet: an owner that gathers its
   * rows in memory (the bridge queue) writes them from its beforeCommit hook, so
   * they join whatever else this turn wrote.
   */
  request(): void {
    if (!this.group) this.open();
  }

  /** Runs inside the transaction right before each COMMIT: write what was gathered for this group. */
  beforeCommit(fn: () => void): void {
    this.beforeCommitHooks.push(fn);
  }

  /** Called after a failed COMMIT (the group was rolled back), to reload what an owner keeps in memory. */
  onRollback(fn: (err: unknown) => void): void {
    this.rollbackListeners.push(fn);
  }

  /** Commits the open group now (synchronously): before closing the database, and when a group is full. */
  flush(): void {
    if (this.group) this.commit();
  }

  private open(): void {
    // SQLite refuses to change the safety level inside a transaction: set it before BEGIN.
    if (this.options.walSync) this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      if (this.options.walSync) this.restoreFull();
      throw err;
    }
    this.group = pending();
    this.writes = 0;
    if (this.options.delayMs > 0) {
      const t = setTimeout(() => this.commit(), this.options.delayMs);
      this.timer = { cancel: () => clearTimeout(t) };
    } else {
      const i = setImmediate(() => this.commit());
      this.timer = { cancel: () => clearImmediate(i) };
    }
  }

  private commit(): void {
    const group = this.group;
    if (!group || this.committing) return;
    this.committing = true;
    this.timer?.cancel();
    this.timer = undefined;
    try {
      // Still inside the group: what owners gathered in memory joins it.
      for (const fn of this.beforeCommitHooks) fn();
      this.group = undefined;
      this.db.exec('COMMIT');
    } catch (err) {
      this.group = undefined;
      this.noteFailure(err);
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        /* the rollback is automatic on some errors */
      }
      for (const fn of this.rollbackListeners) {
        // A card failing with I/O errors may fail the owners' reload too: refuse and carry on, never crash.
        try {
          fn(err);
        } catch {
          /* the next commit's failure will tell again */
        }
      }
      group.reject(err);
      return;
    } finally {
      this.committing = false;
      if (this.options.walSync) this.restoreFull();
    }
    this.commits++;
    if (!this.options.walSync) return this.succeeded(group);
    const syncing = this.options.walSync.sync();
    this.syncing = syncing;
    syncing
      .then(
        () => this.succeeded(group),
        (err: unknown) => this.failed(err, group),
      )
      .finally(() => {
        if (this.syncing === syncing) this.syncing = undefined;
      })
      // succeeded() and failed() only settle the group's waiters: nothing is left to report.
      .catch(() => undefined);
  }

  /** Writes outside a group (autocommit) stay FULL. A failing card may refuse even this: the next group tries again. */
  private restoreFull(): void {
    try {
      this.db.exec('PRAGMA synchronous = FULL');
    } catch {
      /* the connection keeps NORMAL until the next group's restore */
    }
  }

  private succeeded(group: Pending): void {
    if (this.now() - this.lastFailureAt >= FAILING_FOR_MS) this.lastError = undefined;
    group.resolve();
  }

  /** The fsync failed (an I/O error): committed but maybe not on the card, so nobody is told it is. */
  private failed(err: unknown, group: Pending): void {
    this.noteFailure(err);
    group.reject(err);
  }

  private noteFailure(err: unknown): void {
    this.failures++;
    this.lastError = err instanceof Error ? err : new Error(String(err));
    this.lastFailureAt = this.now();
  }
}

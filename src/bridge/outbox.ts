// The durable outgoing queue: one SQLite table (outboxTable.ts), written with
// group commit. A message enters in enqueue(), whose promise resolves only once
// its row is committed (the sensor's PUBACK waits for it); it leaves when the
// cloud has acknowledged it (ack), or when a bound or the TTL drops it (counted).
// Writes are batched: every enqueue arriving in the same event-loop turn shares
// one transaction, and deletions of acknowledged rows are gathered for
// REMOVAL_DELAY_MS into transactions of their own, so the SD card sees few
// commits (and few fsyncs with synchronous=FULL), and a commit of new rows
// touches only the pages at the tail of the table.
import type { Sqlite } from '../storage/database.js';
import { type Deferred, deferred } from '../storage/deferred.js';
import type { GroupCommit } from '../storage/groupCommit.js';
import { CommitTimer, type Scheduled } from './commitTimer.js';
import { applyBatch, type OutboxBounds, type PendingRemoval } from './outboxBatch.js';
import { type OutboxMessage, type OutboxRow, OutboxTable, rowBytes } from './outboxTable.js';

export { type OutboxMessage, type OutboxRow, rowBytes } from './outboxTable.js';

/** `expired`: an MQTT 5 Message Expiry Interval ran out while queued (MQTT 5.0 section 3.3.2.3.3). */
export type DropReason = 'overflow' | 'rejected' | 'ttl' | 'expired' | 'refused' | 'error';

/** What became of one enqueued message: committed, or refused by a bound (reject-new, or larger than maxBytes). */
export type EnqueueOutcome = 'stored' | 'rejected';

export interface OutboxLimits extends OutboxBounds {
  /** 0 = keep forever. */
  ttlSec: number;
}

export interface OutboxOptions extends OutboxLimits {
  nowMs: () => number;
  /** Wait this long to gather a group commit; 0 = until the current I/O turn is over. */
  commitDelayMs: number;
  onDrop: (reason: DropReason, messages: number, bytes: number) => void;
  /** Rows just committed (in id order), and the highest id dropped from the head in that commit (0 if none). */
  onCommitted: (rows: OutboxRow[], droppedThroughId: number) => void;
  onError: (err: unknown) => void;
  /**
   * The database's group commit (storage/groupCommit.ts). With it, gathered rows
   * are written into the group that commits next, together with whatever else
   * that turn wrote (a message's retained copy, its queued copies), and a promise
   * resolves only after that COMMIT. Without it (unit tests), the outbox commits
   * on its own as before.
   */
  group?: GroupCommit;
}

/** Rows a single transaction may take before committing anyway (bounds latency and memory). */
const MAX_BATCH = 4096;
/**
 * Deletions are not urgent (a crash before they commit only means duplicates
 * after the restart): gathered this long, they cost at most ~50 small commits per
 * second, whatever the message rate. (100 ms looked slower draining a 100,000-row
 * backlog: docs/bridge.md, Performance.)
 */
export const REMOVAL_DELAY_MS = 20;

export class Outbox {
  private inserts: OutboxRow[] = [];
  private insertBytes = 0;
  /** One promise for every insert of a group commit: they all commit (or fail) together. */
  private batch?: Deferred;
  private removals: PendingRemoval[] = [];
  private insertTimer?: Scheduled;
  private removalTimer?: Scheduled;
  private closed = false;
  private readonly timer = new CommitTimer();
  private readonly table: OutboxTable;
  messages = 0;
  bytes = 0;

  constructor(
    db: Sqlite,
    private readonly options: OutboxOptions,
  ) {
    this.table = new OutboxTable(db);
    const totals = this.table.totals();
    this.messages = totals.messages;
    this.bytes = totals.bytes;
    options.group?.beforeCommit(() => {
      if (this.inserts.length > 0 || this.removals.length > 0) this.commit(true);
    });
  }

  /**
   * Resolves once the message's row is committed (or it was dropped by a bound,
   * counted); rejects when the commit failed. All messages of a group commit
   * share the one promise.
   */
  enqueue(message: OutboxMessage): Promise<void> {
    const batch = (this.batch ??= deferred());
    this.add(message);
    return batch.promise;
  }

  /**
   * As enqueue(), and tells whether this message was stored or refused by a bound
   * (for an MQTT 5 publisher, who can be told: bridge.ts). The outcome is read from
   * the row after the shared commit: it is given an id only when inserted. One
   * promise more per call, so only where the outcome is needed.
   */
  enqueueWithOutcome(message: OutboxMessage): Promise<EnqueueOutcome> {
    const batch = (this.batch ??= deferred());
    const row = this.add(message);
    return batch.promise.then(() => (row.id !== 0 ? 'stored' : 'rejected'));
  }

  /** The cloud acknowledged the row: it goes in a later commit. */
  ack(row: Pick<OutboxRow, 'id' | 'payload' | 'properties'>): void {
    this.removals.push({ id: row.id, bytes: rowBytes(row) });
    this.afterRemoval();
  }

  /** The row outlived the TTL (`ttl`) or its MQTT 5 Message Expiry Interval (`expired`) before it could be sent. */
  expired(row: Pick<OutboxRow, 'id' | 'payload' | 'properties'>, reason: 'ttl' | 'expired' = 'ttl'): void {
    this.removals.push({ id: row.id, bytes: rowBytes(row), reason });
    this.afterRemoval();
  }

  /** The cloud refused the row for good (an MQTT 5 PUBACK reason code of 0x80 or above): dropped, counted. */
  refused(row: Pick<OutboxRow, 'id' | 'payload' | 'properties'>): void {
    this.removals.push({ id: row.id, bytes: rowBytes(row), reason: 'refused' });
    this.afterRemoval();
  }

  /** Why the row may no longer be sent at `nowMs`: the queue's TTL, its own MQTT 5 expiry, or undefined (it may). */
  expiry(row: Pick<OutboxRow, 'enqueuedAt' | 'expiresAt'>, nowMs = this.options.nowMs()): 'ttl' | 'expired' | undefined {
    if (this.options.ttlSec > 0 && row.enqueuedAt + this.options.ttlSec * 1000 <= nowMs) return 'ttl';
    // Nothing of the interval left: MQTT 5.0 section 3.3.2.3.3 (remaining = interval - time queued).
    if (row.expiresAt !== undefined && row.expiresAt <= nowMs) return 'expired';
    return undefined;
  }

  /** Up to `limit` committed rows with id > afterId, oldest first. */
  read(afterId: number, limit: number): OutboxRow[] {
    return this.table.after(afterId, limit);
  }

  /** Drops rows older than the TTL from the head of the queue; returns how many. */
  expireOld(): number {
    if (this.options.ttlSec <= 0 || this.messages === 0) return 0;
    this.flush();
    const cutoff = this.options.nowMs() - this.options.ttlSec * 1000;
    let [through, n, bytes] = [0, 0, 0];
    const old = (r: { bytes: number; enqueued_at: number }): boolean => r.enqueued_at <= cutoff && (n++, (bytes += r.bytes), true);
    try {
      this.write(() => (through = this.table.dropHead(old)));
    } catch (err) {
      this.options.onError(err);
      return 0;
    }
    if (n > 0) {
      this.messages -= n;
      this.bytes -= bytes;
      this.options.onDrop('ttl', n, bytes);
      this.options.onCommitted([], through);
    }
    return n;
  }

  /** Enqueue time of the oldest message still queued (read-only, for the status page); undefined when empty. */
  oldestEnqueuedAt(): number | undefined {
    if (this.messages === 0 && this.inserts.length === 0) return undefined;
    return this.table.headEnqueuedAt() ?? this.inserts[0]?.enqueuedAt;
  }

  /** Commits everything pending now (synchronously): new rows and deletions. */
  flush(): void {
    this.commit(true);
    this.options.group?.flush();
  }

  /** From now on every enqueue and ack commits at once (used while stopping); pending work is committed. */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private add(message: OutboxMessage): OutboxRow {
    const { topic, payload, qos, retain, properties, expiryIntervalSec } = message;
    const enqueuedAt = this.options.nowMs();
    const expiresAt = expiryIntervalSec === undefined ? undefined : enqueuedAt + expiryIntervalSec * 1000;
    const row: OutboxRow = { id: 0, topic, payload, qos, retain, enqueuedAt, properties, expiresAt };
    this.inserts.push(row);
    this.insertBytes += rowBytes(row);
    if (this.closed || this.inserts.length >= MAX_BATCH) this.flush();
    else this.insertTimer ??= this.scheduleInserts();
    return row;
  }

  private afterRemoval(): void {
    if (this.closed || this.removals.length >= MAX_BATCH) this.flush();
    // A pending commit of deletions alone must not keep a process alive (unref).
    else this.removalTimer ??= this.timer.after(Math.max(this.options.commitDelayMs, REMOVAL_DELAY_MS), () => this.commit(true), true);
  }

  private commit(withRemovals: boolean): void {
    const inserts = this.inserts;
    const { maxMessages, maxBytes } = this.options;
    // Deletions also go now when the new rows would not fit otherwise: acknowledged
    // rows must not count against the bounds (drop-oldest would count them as lost).
    withRemovals ||= this.removals.length > 0 && (this.messages + inserts.length > maxMessages || this.bytes + this.insertBytes > maxBytes);
    this.insertTimer?.cancel();
    this.insertTimer = undefined;
    const removals = withRemovals ? this.removals : [];
    if (withRemovals) {
      this.removalTimer?.cancel();
      this.removalTimer = undefined;
      this.removals = [];
    }
    if (inserts.length === 0 && removals.length === 0) return;
    const batch = this.batch;
    this.batch = undefined;
    this.inserts = [];
    this.insertBytes = 0;
    let result: ReturnType<typeof applyBatch>;
    try {
      this.write(() => (result = applyBatch(this.table, removals, inserts, this.options, { messages: this.messages, bytes: this.bytes })));
    } catch (err) {
      // The transaction rolled back: nothing of this batch is stored (disk full, I/O error).
      this.failed(err, inserts, batch);
      return;
    }
    const { committed, dropped, droppedThrough } = result!;
    this.messages = result!.messages;
    this.bytes = result!.bytes;
    const settle = (): void => {
      for (const [reason, [messages, bytes]] of Object.entries(dropped) as Array<[keyof typeof dropped, [number, number]]>) {
        if (messages > 0) this.options.onDrop(reason, messages, bytes);
      }
      batch?.resolve();
      if (committed.length > 0 || droppedThrough > 0) {
        this.options.onCommitted(droppedThrough > 0 ? committed.filter((r) => r.id > droppedThrough) : committed, droppedThrough);
      }
    };
    const group = this.options.group;
    if (!group?.pending) return settle();
    // Written into the open group: durable (and visible to the sender) only once it commits.
    group.committed().then(settle, (err: unknown) => {
      // The group rolled back: these rows are not stored, and the counters follow the table again
      // (unless the card fails even that read: then they stay, and the next commit corrects them).
      try {
        const totals = this.table.totals();
        this.messages = totals.messages;
        this.bytes = totals.bytes;
      } catch {
        /* I/O error */
      }
      this.failed(err, inserts, batch);
    });
  }

  /** Nothing of the batch is stored (disk full, I/O error): its new rows count as dropped, and its waiters hear why. */
  private failed(err: unknown, inserts: OutboxRow[], batch: Deferred | undefined): void {
    this.options.onError(err);
    if (inserts.length > 0)
      this.options.onDrop(
        'error',
        inserts.length,
        inserts.reduce((s, r) => s + rowBytes(r), 0),
      );
    batch?.reject(err);
  }

  /** Runs `fn` in the open group commit, or in a transaction of its own when there is none. */
  private write(fn: () => void): void {
    if (this.options.group) this.options.group.write(fn);
    else this.table.transaction(fn);
  }

  /** When new rows commit: in the group that commits next, or on their own (CommitTimer). */
  private scheduleInserts(): Scheduled {
    // With the group commit, the rows are written by its beforeCommit hook, in the group that commits next.
    if (this.options.group) {
      try {
        this.options.group.request();
      } catch {
        // No transaction can be opened (read-only or failing storage): fail this batch now, as a commit would.
        queueMicrotask(() => this.commit(false));
      }
      return { cancel: () => undefined };
    }
    return this.timer.forInserts(this.options.commitDelayMs, () => this.commit(false));
  }
}

// The durable outgoing queue: one SQLite table, written with group commit.
// A message enters in enqueue(), whose promise resolves only once its row is
// committed (the sensor's PUBACK waits for it); it leaves when the cloud has
// acknowledged it (ack), or when a bound or the TTL drops it (counted).
// Writes are batched: every enqueue and ack arriving in the same event-loop turn
// share one transaction, so the SD card sees few commits (and few fsyncs with
// synchronous=FULL).
import { migrate, type Sqlite } from '../storage/database.js';
import type { Statement } from 'better-sqlite3';

export interface OutboxMessage {
  /** The remote (cloud) topic. */
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
}

export interface OutboxRow extends OutboxMessage {
  id: number;
  /** Wall time (ms) it was queued, for the TTL. */
  enqueuedAt: number;
}

export type DropReason = 'overflow' | 'rejected' | 'ttl' | 'error';

export interface OutboxLimits {
  maxMessages: number;
  maxBytes: number;
  /** 0 = keep forever. */
  ttlSec: number;
  overflow: 'drop-oldest' | 'reject-new';
}

export interface OutboxOptions extends OutboxLimits {
  nowMs: () => number;
  /** Wait this long to gather a group commit; 0 = until the current I/O turn is over. */
  commitDelayMs: number;
  onDrop: (reason: DropReason, messages: number, bytes: number) => void;
  /** Rows just committed (in id order), and the highest id dropped from the head in that commit (0 if none). */
  onCommitted: (rows: OutboxRow[], droppedThroughId: number) => void;
  onError: (err: unknown) => void;
}

interface PendingInsert {
  message: OutboxMessage;
  enqueuedAt: number;
}

/** One promise for every insert of a group commit: they all commit (or fail) together. */
interface PendingBatch {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newBatch(): PendingBatch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface PendingRemoval {
  id: number;
  bytes: number;
  reason?: 'ttl';
}

/** Rows a single transaction may take before committing anyway (bounds latency and memory). */
const MAX_BATCH = 4096;

const MIGRATIONS = [
  {
    version: 1,
    // AUTOINCREMENT: ids never go back, even when the table empties, so the
    // sender's "sent up to id" cursor stays valid.
    up: `CREATE TABLE bridge_outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      topic TEXT NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      enqueued_at INTEGER NOT NULL
    )`,
  },
];

interface DbRow {
  id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  enqueued_at: number;
}

const toRow = (r: DbRow): OutboxRow => ({
  id: r.id,
  topic: r.topic,
  payload: r.payload ?? Buffer.alloc(0),
  qos: r.qos === 1 ? 1 : 0,
  retain: r.retain === 1,
  enqueuedAt: r.enqueued_at,
});

export class Outbox {
  private inserts: PendingInsert[] = [];
  private batch?: PendingBatch;
  private removals: PendingRemoval[] = [];
  private scheduled?: { cancel(): void; delayMs: number };
  private closed = false;
  messages = 0;
  bytes = 0;
  private readonly sql: {
    insert: Statement;
    removeRange: Statement;
    removeThrough: Statement;
    oldest: Statement;
    after: Statement;
  };

  constructor(private readonly db: Sqlite, private readonly options: OutboxOptions) {
    migrate(db, 'bridge', MIGRATIONS);
    this.sql = {
      insert: db.prepare('INSERT INTO bridge_outbox (topic, payload, qos, retain, enqueued_at) VALUES (?, ?, ?, ?, ?)'),
      removeRange: db.prepare('DELETE FROM bridge_outbox WHERE id BETWEEN ? AND ?'),
      removeThrough: db.prepare('DELETE FROM bridge_outbox WHERE id <= ?'),
      oldest: db.prepare('SELECT id, length(payload) AS bytes, enqueued_at FROM bridge_outbox WHERE id > ? ORDER BY id LIMIT 256'),
      after: db.prepare('SELECT id, topic, payload, qos, retain, enqueued_at FROM bridge_outbox WHERE id > ? ORDER BY id LIMIT ?'),
    };
    const totals = db.prepare('SELECT count(*) AS n, coalesce(sum(length(payload)), 0) AS b FROM bridge_outbox').get() as { n: number; b: number };
    this.messages = totals.n;
    this.bytes = totals.b;
  }

  /** Resolves once the message's row is committed (or it was dropped by a bound, counted). */
  enqueue(message: OutboxMessage): Promise<void> {
    const batch = (this.batch ??= newBatch());
    this.inserts.push({ message, enqueuedAt: this.options.nowMs() });
    if (this.closed || this.inserts.length >= MAX_BATCH) this.flush();
    else this.schedule(this.options.commitDelayMs);
    return batch.promise;
  }

  /** The cloud acknowledged the row: it goes in the next commit. */
  ack(row: Pick<OutboxRow, 'id' | 'payload'>): void {
    this.removals.push({ id: row.id, bytes: row.payload.length });
    if (this.closed) this.flush();
    // Deletions alone are not urgent: a crash before they commit only means a duplicate.
    else this.schedule(Math.max(this.options.commitDelayMs, 20));
  }

  /** The row outlived the TTL before it could be sent. */
  expired(row: Pick<OutboxRow, 'id' | 'payload'>): void {
    this.removals.push({ id: row.id, bytes: row.payload.length, reason: 'ttl' });
    if (this.closed) this.flush();
    else this.schedule(Math.max(this.options.commitDelayMs, 20));
  }

  isExpired(row: Pick<OutboxRow, 'enqueuedAt'>, nowMs = this.options.nowMs()): boolean {
    return this.options.ttlSec > 0 && row.enqueuedAt + this.options.ttlSec * 1000 <= nowMs;
  }

  /** Up to `limit` committed rows with id > afterId, oldest first. */
  read(afterId: number, limit: number): OutboxRow[] {
    return (this.sql.after.all(afterId, limit) as DbRow[]).map(toRow);
  }

  /** Drops rows older than the TTL from the head of the queue; returns how many. */
  expireOld(): number {
    if (this.options.ttlSec <= 0 || this.messages === 0) return 0;
    this.flush();
    const cutoff = this.options.nowMs() - this.options.ttlSec * 1000;
    let through = 0;
    let n = 0;
    let bytes = 0;
    try {
      this.db.transaction(() => {
        for (;;) {
          const rows = this.sql.oldest.all(through) as Array<{ id: number; bytes: number; enqueued_at: number }>;
          let young = rows.length === 0;
          for (const r of rows) {
            if (r.enqueued_at > cutoff) {
              young = true;
              break;
            }
            through = r.id;
            n++;
            bytes += r.bytes;
          }
          if (young) break;
        }
        if (through > 0) this.sql.removeThrough.run(through);
      })();
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

  /** Commits everything pending now (synchronously). */
  flush(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    if (this.inserts.length === 0 && this.removals.length === 0) return;
    const inserts = this.inserts;
    const removals = this.removals;
    const batch = this.batch;
    this.batch = undefined;
    this.inserts = [];
    this.removals = [];
    const committed: OutboxRow[] = [];
    const dropped = { rejected: [0, 0], overflow: [0, 0], ttl: [0, 0] };
    let droppedThrough = 0;
    const { maxMessages, maxBytes, overflow } = this.options;
    let messages = this.messages;
    let bytes = this.bytes;
    try {
      this.db.transaction(() => {
        // Acknowledged ids are mostly consecutive (PUBACKs come in order, MQTT 3.1.1
        // section 4.6): one range DELETE per run of consecutive ids instead of one per row.
        if (removals.length > 1) removals.sort((a, b) => a.id - b.id);
        for (let i = 0; i < removals.length; ) {
          let j = i + 1;
          while (j < removals.length && removals[j].id === removals[j - 1].id + 1) j++;
          // Rows of the run already gone were dropped from the head of the queue
          // (drop-oldest or TTL, counted then): they are the lowest ids of the run.
          const missing = j - i - this.sql.removeRange.run(removals[i].id, removals[j - 1].id).changes;
          for (let k = i + missing; k < j; k++) {
            const r = removals[k];
            messages--;
            bytes -= r.bytes;
            if (r.reason) {
              dropped.ttl[0]++;
              dropped.ttl[1] += r.bytes;
            }
          }
          i = j;
        }
        for (const p of inserts) {
          const size = p.message.payload.length;
          const full = messages + 1 > maxMessages || bytes + size > maxBytes;
          if (size > maxBytes || (full && overflow === 'reject-new')) {
            dropped.rejected[0]++;
            dropped.rejected[1] += size;
            continue;
          }
          const { topic, payload, qos, retain } = p.message;
          const id = Number(this.sql.insert.run(topic, payload, qos, retain ? 1 : 0, p.enqueuedAt).lastInsertRowid);
          committed.push({ ...p.message, id, enqueuedAt: p.enqueuedAt });
          messages++;
          bytes += size;
        }
        if (messages > maxMessages || bytes > maxBytes) {
          // drop-oldest: free the head of the queue until the bounds hold again.
          let through = 0;
          while (messages > maxMessages || bytes > maxBytes) {
            const rows = this.sql.oldest.all(through) as Array<{ id: number; bytes: number }>;
            if (rows.length === 0) break;
            for (const r of rows) {
              if (messages <= maxMessages && bytes <= maxBytes) break;
              through = r.id;
              messages--;
              bytes -= r.bytes;
              dropped.overflow[0]++;
              dropped.overflow[1] += r.bytes;
            }
          }
          if (through > 0) this.sql.removeThrough.run(through);
          droppedThrough = through;
        }
      })();
    } catch (err) {
      // The transaction rolled back: nothing of this batch is stored (disk full, I/O error).
      this.options.onError(err);
      if (inserts.length > 0) this.options.onDrop('error', inserts.length, inserts.reduce((s, p) => s + p.message.payload.length, 0));
      batch?.reject(err);
      return;
    }
    this.messages = messages;
    this.bytes = bytes;
    for (const reason of ['rejected', 'overflow', 'ttl'] as const) {
      if (dropped[reason][0] > 0) this.options.onDrop(reason, dropped[reason][0], dropped[reason][1]);
    }
    batch?.resolve();
    if (committed.length > 0 || droppedThrough > 0) {
      this.options.onCommitted(droppedThrough > 0 ? committed.filter((r) => r.id > droppedThrough) : committed, droppedThrough);
    }
  }

  /** From now on every enqueue commits at once (used while stopping); pending work is committed. */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) {
      // An insert must not wait behind the slower timer of a deletion.
      if (this.scheduled.delayMs <= delayMs) return;
      this.scheduled.cancel();
    }
    if (delayMs <= 0) {
      const handle = setImmediate(() => {
        this.scheduled = undefined;
        this.flush();
      });
      this.scheduled = { cancel: () => clearImmediate(handle), delayMs };
    } else {
      const handle = setTimeout(() => {
        this.scheduled = undefined;
        this.flush();
      }, delayMs);
      this.scheduled = { cancel: () => clearTimeout(handle), delayMs };
    }
  }
}

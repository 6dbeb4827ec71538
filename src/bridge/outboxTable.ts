// The bridge_outbox table: its schema (migrations) and the statements the outbox
// runs on it. Row ids are allocated here, in memory, rather than by SQLite's
// AUTOINCREMENT: that one rewrites the sqlite_sequence page (4 KiB to the WAL, so
// to the SD card) in every commit and looks it up at every insert. Rows are
// inserted with multi-row INSERT statements: one statement step per 32 rows
// instead of one per row. MQTT 5 properties (messageProperties.ts) are two
// nullable columns, written only by rows that have them.
import type { Statement } from 'better-sqlite3';
import { migrate, type Sqlite } from '../storage/database.js';

export interface OutboxMessage {
  /** The remote (cloud) topic. */
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 properties in their wire form, without the expiry (messageProperties.ts). */
  properties?: Buffer;
  /** MQTT 5 Message Expiry Interval (s), counted from the enqueue. */
  expiryIntervalSec?: number;
}

export interface OutboxRow {
  id: number;
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  /** Wall time (ms) it was queued, for the TTL. */
  enqueuedAt: number;
  properties: Buffer | undefined;
  /** Wall time (ms) its Message Expiry Interval runs out (enqueuedAt + interval). */
  expiresAt: number | undefined;
}

/** What a row counts against queue.maxBytes: its payload and the properties stored with it. */
export const rowBytes = (row: Pick<OutboxRow, 'payload' | 'properties'>): number => row.payload.length + (row.properties?.length ?? 0);

const COLUMNS = '(id, topic, payload, qos, retain, enqueued_at)';
const COLUMNS_V5 = '(id, topic, payload, qos, retain, enqueued_at, properties, expires_at)';

const MIGRATIONS = [
  {
    version: 1,
    up: `CREATE TABLE bridge_outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      topic TEXT NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      enqueued_at INTEGER NOT NULL
    )`,
  },
  {
    // Without AUTOINCREMENT (ids come from OutboxTable.nextId); rows and ids are kept.
    version: 2,
    up: `CREATE TABLE bridge_outbox_v2 (
      id INTEGER PRIMARY KEY,
      topic TEXT NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      enqueued_at INTEGER NOT NULL
    );
    INSERT INTO bridge_outbox_v2 ${COLUMNS} SELECT id, topic, payload, qos, retain, enqueued_at FROM bridge_outbox;
    DROP TABLE bridge_outbox;
    ALTER TABLE bridge_outbox_v2 RENAME TO bridge_outbox`,
  },
  {
    // MQTT 5 properties. Nullable columns added in place: SQLite only rewrites the
    // schema, not the rows, so a large backlog upgrades at once and is kept.
    version: 3,
    up: `ALTER TABLE bridge_outbox ADD COLUMN properties BLOB;
    ALTER TABLE bridge_outbox ADD COLUMN expires_at INTEGER`,
  },
];

/** Rows per INSERT statement (6 or 8 parameters each: far below SQLite's parameter limit). */
const INSERT_CHUNK = 32;

interface DbRow {
  id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  enqueued_at: number;
  properties: Buffer | null;
  expires_at: number | null;
}

const toRow = (r: DbRow): OutboxRow => ({
  id: r.id,
  topic: r.topic,
  payload: r.payload ?? Buffer.alloc(0),
  qos: r.qos === 1 ? 1 : 0,
  retain: r.retain === 1,
  enqueuedAt: r.enqueued_at,
  properties: r.properties ?? undefined,
  expiresAt: r.expires_at ?? undefined,
});

const SIZE = 'length(payload) + coalesce(length(properties), 0)';

export class OutboxTable {
  /**
   * The next row id. It never goes back while the process runs, even when the
   * table empties (the sender's "sent up to id" cursor relies on it); after a
   * restart it continues above the highest stored id, so order is kept.
   */
  private nextId: number;
  /** INSERT statements by row count (1..INSERT_CHUNK), prepared on first use; with the MQTT 5 columns or without. */
  private readonly inserts: Array<Statement | undefined> = [];
  private readonly insertsV5: Array<Statement | undefined> = [];
  private readonly params: unknown[] = [];
  private readonly sql: {
    removeRange: Statement;
    removeThrough: Statement;
    oldest: Statement;
    after: Statement;
    headEnqueuedAt: Statement;
  };

  constructor(private readonly db: Sqlite) {
    migrate(db, 'bridge', MIGRATIONS);
    this.sql = {
      removeRange: db.prepare('DELETE FROM bridge_outbox WHERE id BETWEEN ? AND ?'),
      removeThrough: db.prepare('DELETE FROM bridge_outbox WHERE id <= ?'),
      oldest: db.prepare(`SELECT id, ${SIZE} AS bytes, enqueued_at FROM bridge_outbox WHERE id > ? ORDER BY id LIMIT 256`),
      after: db.prepare('SELECT id, topic, payload, qos, retain, enqueued_at, properties, expires_at FROM bridge_outbox WHERE id > ? ORDER BY id LIMIT ?'),
      headEnqueuedAt: db.prepare('SELECT enqueued_at FROM bridge_outbox ORDER BY id LIMIT 1').pluck(),
    };
    this.nextId = (db.prepare('SELECT coalesce(max(id), 0) AS id FROM bridge_outbox').get() as { id: number }).id + 1;
  }

  totals(): { messages: number; bytes: number } {
    const t = this.db.prepare(`SELECT count(*) AS n, coalesce(sum(${SIZE}), 0) AS b FROM bridge_outbox`).get() as { n: number; b: number };
    return { messages: t.n, bytes: t.b };
  }

  /** Runs `fn` in one transaction (a rollback rethrows). */
  transaction(fn: () => void): void {
    this.db.transaction(fn)();
  }

  /** Inserts the rows in order, setting their ids; call inside transaction(). */
  insert(rows: OutboxRow[]): void {
    const p = this.params;
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const n = Math.min(INSERT_CHUNK, rows.length - i);
      // Rows without MQTT 5 properties (all of them with a 3.1.1 uplink) bind no NULLs.
      let v5 = false;
      for (let k = 0; k < n && !v5; k++) v5 = rows[i + k].properties !== undefined || rows[i + k].expiresAt !== undefined;
      p.length = n * (v5 ? 8 : 6);
      for (let k = 0, j = 0; k < n; k++) {
        const r = rows[i + k];
        r.id = this.nextId++;
        p[j++] = r.id;
        p[j++] = r.topic;
        p[j++] = r.payload;
        p[j++] = r.qos;
        p[j++] = r.retain ? 1 : 0;
        p[j++] = r.enqueuedAt;
        if (v5) {
          p[j++] = r.properties ?? null;
          p[j++] = r.expiresAt ?? null;
        }
      }
      this.insertStatement(n, v5).run(p);
    }
  }

  /** Deletes ids lo..hi; returns how many rows were there. */
  removeRange(lo: number, hi: number): number {
    return this.sql.removeRange.run(lo, hi).changes;
  }

  removeThrough(id: number): void {
    this.sql.removeThrough.run(id);
  }

  /** Id, size (rowBytes) and enqueue time of up to 256 rows with id > afterId, oldest first. */
  oldest(afterId: number): Array<{ id: number; bytes: number; enqueued_at: number }> {
    return this.sql.oldest.all(afterId) as Array<{ id: number; bytes: number; enqueued_at: number }>;
  }

  /**
   * Deletes rows from the head of the queue, oldest first, for as long as `drop`
   * says so (read 256 at a time); returns the highest id deleted, 0 if none.
   * Call inside transaction().
   */
  dropHead(drop: (row: { id: number; bytes: number; enqueued_at: number }) => boolean): number {
    let through = 0;
    for (;;) {
      const rows = this.oldest(through);
      let i = 0;
      while (i < rows.length && drop(rows[i])) through = rows[i++].id;
      if (rows.length === 0 || i < rows.length) break;
    }
    if (through > 0) this.removeThrough(through);
    return through;
  }

  /** Enqueue time of the oldest stored row (no payload read), undefined when the table is empty. */
  headEnqueuedAt(): number | undefined {
    return (this.sql.headEnqueuedAt.get() as number | undefined) ?? undefined;
  }

  /** Up to `limit` rows with id > afterId, oldest first. */
  after(afterId: number, limit: number): OutboxRow[] {
    return (this.sql.after.all(afterId, limit) as DbRow[]).map(toRow);
  }

  private insertStatement(n: number, v5: boolean): Statement {
    if (v5)
      return (this.insertsV5[n] ??= this.db.prepare(`INSERT INTO bridge_outbox ${COLUMNS_V5} VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`));
    return (this.inserts[n] ??= this.db.prepare(`INSERT INTO bridge_outbox ${COLUMNS} VALUES ${Array(n).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`));
  }
}

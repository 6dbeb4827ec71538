// The outbox on a real SQLite file: range deletes of acknowledged rows keep the
// message/byte totals exact, also when some acknowledged rows were already dropped
// from the head of the queue; a group commit resolves or rejects all its inserts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, type OutboxLimits, type OutboxRow } from '../../src/bridge/outbox.js';
import { openDatabase, type Sqlite } from '../../src/storage/database.js';

describe('bridge outbox accounting', () => {
  let dir: string;
  let db: Sqlite;
  let committed: OutboxRow[];
  let drops: Array<[string, number, number]>;
  let errors: unknown[];

  const open = (limits: Partial<OutboxLimits> = {}): Outbox =>
    new Outbox(db, {
      maxMessages: 1000,
      maxBytes: 1_000_000,
      ttlSec: 0,
      overflow: 'drop-oldest',
      ...limits,
      nowMs: () => Date.now(),
      commitDelayMs: 0,
      onDrop: (reason, n, bytes) => drops.push([reason, n, bytes]),
      onCommitted: (rows) => committed.push(...rows),
      onError: (err) => errors.push(err),
    });
  const message = (size: number) => ({ topic: 'up/t', payload: Buffer.alloc(size, 1), qos: 1 as const, retain: false });
  const ids = (): number[] => (db.prepare('SELECT id FROM bridge_outbox ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgegate-outbox-'));
    db = openDatabase(join(dir, 'q.db'));
    committed = [];
    drops = [];
    errors = [];
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('acks out of order and with gaps delete exactly the acknowledged rows', async () => {
    const outbox = open();
    const all = Array.from({ length: 10 }, (_, i) => outbox.enqueue(message(i + 1)));
    outbox.flush();
    await Promise.all(all);
    const byId = new Map(committed.map((r) => [r.id, r]));
    const acked = [committed[6], committed[2], committed[3], committed[0], committed[9], committed[4]];
    for (const r of acked) outbox.ack(r);
    outbox.ack(committed[3]); // a duplicate acknowledgement changes nothing
    outbox.flush();
    const left = committed.filter((r) => !acked.includes(r));
    assert.deepEqual(
      ids(),
      left.map((r) => r.id),
    );
    assert.equal(outbox.messages, left.length);
    assert.equal(
      outbox.bytes,
      left.reduce((s, r) => s + byId.get(r.id)!.payload.length, 0),
    );
  });

  it('acks of rows already dropped by drop-oldest are not counted twice', async () => {
    const outbox = open({ maxMessages: 3 });
    const first = [outbox.enqueue(message(10)), outbox.enqueue(message(20)), outbox.enqueue(message(30))];
    outbox.flush();
    await Promise.all(first);
    const second = [outbox.enqueue(message(40)), outbox.enqueue(message(50))];
    outbox.flush();
    await Promise.all(second);
    assert.deepEqual(drops, [['overflow', 2, 30]]);
    // The first three were in flight before the overflow; their acks arrive now.
    for (const r of committed.slice(0, 3)) outbox.ack(r);
    outbox.flush();
    assert.deepEqual(
      ids(),
      committed.slice(3).map((r) => r.id),
    );
    assert.equal(outbox.messages, 2);
    assert.equal(outbox.bytes, 90);
  });

  it('a failed group commit rejects every insert of the group (no PUBACK) and stores none', async () => {
    const outbox = open();
    const pending = [outbox.enqueue(message(1)), outbox.enqueue(message(2)), outbox.enqueue(message(3))];
    db.close();
    outbox.flush();
    const results = await Promise.allSettled(pending);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(errors.length, 1);
    assert.deepEqual(drops, [['error', 3, 6]]);
    assert.equal(committed.length, 0);
  });

  it('a group commit of new rows leaves deletions for later, unless the rows would not fit', async () => {
    const outbox = open({ maxMessages: 4 });
    const first = [outbox.enqueue(message(1)), outbox.enqueue(message(2)), outbox.enqueue(message(3))];
    await Promise.all(first); // committed by the scheduled group commit
    outbox.ack(committed[0]);
    await Promise.all([outbox.enqueue(message(4))]);
    assert.deepEqual(
      ids(),
      committed.map((r) => r.id),
      'the acknowledged row is still there: deletions commit on their own timer',
    );
    // Two more rows exceed maxMessages (4) unless the acknowledged row goes first:
    // it must not make drop-oldest drop a row that was never delivered.
    for (const r of committed.slice(1, 3)) outbox.ack(r);
    await Promise.all([outbox.enqueue(message(5)), outbox.enqueue(message(6))]);
    assert.deepEqual(drops, []);
    assert.deepEqual(
      ids(),
      committed.slice(3).map((r) => r.id),
    );
    assert.equal(outbox.messages, 3);
  });

  it('migrates a version 1 (AUTOINCREMENT) table keeping rows and ids; ids never go back', async () => {
    db.exec(`CREATE TABLE bridge_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,
      qos INTEGER NOT NULL, retain INTEGER NOT NULL, enqueued_at INTEGER NOT NULL);
      INSERT INTO schema_versions (owner, version) VALUES ('bridge', 1);
      INSERT INTO bridge_outbox (id, topic, payload, qos, retain, enqueued_at) VALUES (41, 'up/a', x'01', 1, 0, 5), (42, 'up/b', x'0202', 1, 1, 6)`);
    const outbox = open();
    assert.equal(outbox.messages, 2);
    assert.equal(outbox.bytes, 3);
    assert.deepEqual(
      outbox.read(0, 10).map((r) => [r.id, r.topic, r.payload.length, r.retain]),
      [
        [41, 'up/a', 1, false],
        [42, 'up/b', 2, true],
      ],
    );
    assert.match(
      String((db.prepare("SELECT sql FROM sqlite_master WHERE name = 'bridge_outbox'").get() as { sql: string }).sql),
      /^CREATE TABLE "?bridge_outbox"? \(\s*id INTEGER PRIMARY KEY,/,
    );
    await Promise.all([outbox.enqueue(message(1))]);
    assert.deepEqual(
      committed.map((r) => r.id),
      [43],
    );
    // The table empties; the next id still goes up (the sender's cursor relies on it).
    for (const r of [...outbox.read(0, 10)]) outbox.ack(r);
    outbox.flush();
    assert.equal(outbox.messages, 0);
    await Promise.all([outbox.enqueue(message(1)), outbox.enqueue(message(2))]);
    assert.deepEqual(
      committed.map((r) => r.id),
      [43, 44, 45],
    );
  });

  it('many rows in one group commit (multi-row inserts) keep their order and contents', async () => {
    const outbox = open({ maxMessages: 10_000, maxBytes: 10_000_000 });
    const n = 32 * 3 + 7; // full statements and a shorter last one
    await Promise.all(
      Array.from({ length: n }, (_, i) => outbox.enqueue({ topic: `up/${i}`, payload: Buffer.from(`p${i}`), qos: (i % 2) as 0 | 1, retain: i % 3 === 0 })),
    );
    const rows = outbox.read(0, n + 1);
    assert.equal(rows.length, n);
    rows.forEach((r, i) => {
      assert.equal(r.id, committed[i].id);
      assert.deepEqual([r.topic, r.payload.toString(), r.qos, r.retain], [`up/${i}`, `p${i}`, i % 2, i % 3 === 0]);
    });
  });
});

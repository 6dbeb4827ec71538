// The group commit's contract (src/storage/groupCommit.ts), on a real SQLite file
// with a second connection as the outside observer: what is written in a turn is
// invisible outside until the one COMMIT, committed() resolves only after it, a
// failing write is undone alone, a failing COMMIT rejects every waiter and tells
// the owners, and the next group works again.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, type Sqlite } from '../../src/storage/database.js';
import { FAILING_FOR_MS, GroupCommit } from '../../src/storage/groupCommit.js';
import { tempDir } from '../helpers/daemon.js';

describe('GroupCommit', () => {
  let dir: string;
  let db: Sqlite;
  let observer: Database.Database;
  const seen = (): number => (observer.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;

  beforeEach(() => {
    dir = tempDir('edgegate-group-');
    db = openDatabase(join(dir, 'edgegate.db'), { synchronous: 'full' });
    db.exec('CREATE TABLE t (x INTEGER UNIQUE)');
    observer = new Database(join(dir, 'edgegate.db'), { readonly: true });
  });
  afterEach(() => {
    observer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('everything written in a turn commits once, and committed() resolves only after that commit', async () => {
    const group = new GroupCommit(db, { delayMs: 0 });
    const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
    for (let i = 0; i < 10; i++) group.write(() => insert.run(i));
    assert.equal(group.pending, true);
    assert.equal(seen(), 0, 'nothing visible outside before the commit');
    let resolved = false;
    const done = group.committed().then(() => (resolved = true));
    await Promise.resolve();
    assert.equal(resolved, false);
    await done;
    assert.equal(seen(), 10);
    assert.equal(group.commits, 1);
    assert.equal(group.pending, false);
    await group.committed(); // nothing pending: resolves at once
  });

  it('a write that throws is undone alone; the rest of the group commits', async () => {
    const group = new GroupCommit(db, { delayMs: 0 });
    group.write(() => db.prepare('INSERT INTO t (x) VALUES (1)').run());
    assert.throws(() =>
      group.write(() => {
        db.prepare('INSERT INTO t (x) VALUES (2)').run();
        db.prepare('INSERT INTO t (x) VALUES (1)').run(); // UNIQUE: the whole write goes, 2 with it
      }),
    );
    group.write(() => db.prepare('INSERT INTO t (x) VALUES (3)').run());
    await group.committed();
    assert.deepEqual(observer.prepare('SELECT x FROM t ORDER BY x').pluck().all(), [1, 3]);
  });

  it('what an owner gathered in memory joins the group from its beforeCommit hook; flush() commits at once', () => {
    const group = new GroupCommit(db, { delayMs: 60_000 });
    const gathered = [7, 8];
    group.beforeCommit(() => {
      for (const x of gathered.splice(0)) group.write(() => db.prepare('INSERT INTO t (x) VALUES (?)').run(x));
    });
    group.request();
    group.write(() => db.prepare('INSERT INTO t (x) VALUES (6)').run());
    group.flush();
    assert.equal(group.pending, false);
    assert.deepEqual(observer.prepare('SELECT x FROM t ORDER BY x').pluck().all(), [6, 7, 8]);
    assert.equal(group.commits, 1);
  });

  it('a COMMIT that fails rolls the group back, rejects its waiters and tells the owners; the next group works', async () => {
    let mono = 0;
    const group = new GroupCommit(db, { delayMs: 0, monotonicMs: () => mono });
    // A deferred constraint: every write succeeds, the COMMIT does not.
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
    const rolledBack: unknown[] = [];
    group.onRollback((err) => rolledBack.push(err));
    group.write(() => db.prepare('INSERT INTO t (x) VALUES (1)').run());
    group.write(() => db.prepare('INSERT INTO child (p) VALUES (42)').run());
    await assert.rejects(group.committed(), /FOREIGN KEY/);
    assert.equal(rolledBack.length, 1);
    assert.equal(group.failures, 1);
    assert.ok(group.lastError);
    assert.equal(seen(), 0, 'nothing of the failed group is stored');
    assert.equal(db.inTransaction, false);
    assert.equal(group.failing(), true);
    group.write(() => db.prepare('INSERT INTO t (x) VALUES (2)').run());
    await group.committed();
    assert.equal(seen(), 1);
    // Storage counts as failing for FAILING_FOR_MS after a failure, whatever small commit succeeds meanwhile.
    assert.equal(group.failing(), true, 'not healthy again on the next small commit');
    mono += FAILING_FOR_MS;
    assert.equal(group.failing(), false);
    group.write(() => db.prepare('INSERT INTO t (x) VALUES (3)').run());
    await group.committed();
    assert.equal(group.lastError, undefined, 'recovered');
  });

  describe('with the WAL fsync off the event loop (storage.sync full)', () => {
    /** A WalSync whose fsync the test completes by hand. */
    function manualSync(): { sync(): Promise<void>; idle(): Promise<void>; close(): void; calls: number; finish(err?: Error): void } {
      const queue: Array<{ resolve(): void; reject(e: Error): void }> = [];
      return {
        calls: 0,
        sync() {
          this.calls++;
          return new Promise<void>((resolve, reject) => queue.push({ resolve, reject }));
        },
        idle: async () => undefined,
        close: () => undefined,
        finish(err?: Error) {
          for (const w of queue.splice(0)) err ? w.reject(err) : w.resolve();
        },
      };
    }

    it('commits with synchronous NORMAL, is FULL again between groups, and answers the waiters only after the fsync', async () => {
      const sync = manualSync();
      const group = new GroupCommit(db, { delayMs: 0, walSync: sync });
      const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
      group.write(() => insert.run(1));
      assert.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL inside the group');
      let answered = false;
      const waiter = group.committed().then(() => (answered = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(seen(), 1, 'committed');
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL outside a group (writes that do not go through it)');
      assert.equal(sync.calls, 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(answered, false, 'not answered before the fsync returned');
      let idleAnswered = false;
      const idle = group.committed().then(() => (idleAnswered = true));
      await Promise.resolve();
      assert.equal(idleAnswered, false, 'committed() with no group open waits for the running fsync');
      sync.finish();
      await Promise.all([waiter, idle]);
      assert.equal(answered, true);
      assert.equal(group.failing(), false);
    });

    it('a group that cannot begin (the database is locked) throws and leaves the connection FULL', () => {
      const group = new GroupCommit(db, { delayMs: 0, walSync: manualSync() });
      const other = new Database(join(dir, 'edgegate.db'));
      db.pragma('busy_timeout = 0');
      other.exec('BEGIN IMMEDIATE');
      try {
        assert.throws(() => group.write(() => db.prepare('INSERT INTO t (x) VALUES (1)').run()), /locked|busy/i);
        assert.equal(db.pragma('synchronous', { simple: true }), 2);
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
    });

    it('a failing fsync rejects the waiters and counts as failing storage; the committed rows stay (at least once)', async () => {
      const sync = manualSync();
      const group = new GroupCommit(db, { delayMs: 0, walSync: sync });
      const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
      group.write(() => insert.run(1));
      const waiter = group.committed();
      await new Promise((r) => setImmediate(r));
      sync.finish(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await assert.rejects(waiter, /EIO/);
      assert.equal(group.failing(), true);
      assert.equal(group.failures, 1);
      assert.equal(seen(), 1);
      group.write(() => insert.run(2));
      const next = group.committed();
      await new Promise((r) => setImmediate(r));
      sync.finish();
      await next;
      assert.equal(seen(), 2);
    });
  });
});

// The power-cut harness's own tests: lazyfs (test/powercut/lazyfs.py) keeps a file's data only
// once the file is fsynced and a name only once its directory is fsynced; a cut drops the rest.
// They also show the failures the project fixes: SQLite WAL with synchronous=NORMAL loses
// committed transactions on a power cut, and writeFileSync without fsync leaves nothing.
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/storage/groupCommit.js';
import { WalSync } from '../../src/storage/walSync.js';
import { fsyncDir, isMounted, type LazyFs, mountTempLazyFs, skipUnlessFuse, writeFileDurable } from '../helpers/powerCut.js';
import { mulberry32 } from '../helpers/prng.js';
import { waitUntil } from '../helpers/wait.js';

/** write + fsync (not the directory). */
function writeAndFsync(file: string, data: string, flags = 'w'): void {
  const fd = openSync(file, flags);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readOrMissing(file: string): string | 'missing' {
  return existsSync(file) ? readFileSync(file, 'utf8') : 'missing';
}

type Sync = 'FULL' | 'NORMAL';
function openDb(file: string, sync: Sync): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  return db;
}

/** After a cut every file operation fails (ENOTCONN): closing may throw; the handle is dead. */
function closeDead(db: Database.Database): void {
  try {
    db.close();
  } catch {
    /* expected after a cut */
  }
}

function closeDeadWal(walSync: WalSync): void {
  try {
    walSync.close();
  } catch {
    /* expected after a cut */
  }
}

function reopenCount(file: string): { rows: number; check: string } {
  const db = new Database(file, { fileMustExist: true });
  try {
    const check = db.pragma('quick_check', { simple: true }) as string;
    const exists = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'").get() as { n: number };
    const rows = exists.n ? (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n : 0;
    return { rows, check };
  } finally {
    db.close();
  }
}

/** A database with table t and one durable row (created under FULL, checkpointed, directory synced). */
function createBaseline(fs: LazyFs, file: string): void {
  const db = openDb(file, 'FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  db.prepare('INSERT INTO t (v) VALUES (?)').run('baseline');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  fsyncDir(fs.mnt);
}

/** `n` single-row transactions (autocommit: one commit each), then a cut while still open. */
async function commitThenCut(fs: LazyFs, file: string, sync: Sync, n: number): Promise<void> {
  const db = openDb(file, sync);
  const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < n; i++) ins.run(`row ${i} ${'x'.repeat(200)}`);
  await fs.cut();
  closeDead(db);
}

// ---------- a randomized check against an independent model of the same rules ----------

interface Inode {
  data: Buffer; // what reads see
  durable: Buffer | null; // contents as of the last fsync (null: never: a durable name shows 0 bytes)
}

/** The rules, written independently of lazyfs.py: per-file fsync for data, per-directory fsync for names. */
class Model {
  inodes = new Map<number, Inode>();
  view = new Map<string, Map<string, number>>([
    ['', new Map()],
    ['sub', new Map()],
  ]);
  durable = new Map<string, Map<string, number>>([
    ['', new Map()],
    ['sub', new Map()],
  ]);
  private next = 1;

  lookup(dir: string, name: string): number | undefined {
    return this.view.get(dir)!.get(name);
  }
  create(dir: string, name: string): number {
    const id = this.next++;
    this.inodes.set(id, { data: Buffer.alloc(0), durable: null });
    this.view.get(dir)!.set(name, id);
    return id;
  }
  /** The durable state: what BACKING must hold after a cut (files only; 'sub' is always there). */
  expected(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [dir, entries] of this.durable) {
      for (const [name, id] of entries) out.set(dir ? `${dir}/${name}` : name, (this.inodes.get(id)!.durable ?? Buffer.alloc(0)).toString('latin1'));
    }
    return out;
  }
  /** After a cut: the durable state is all there is. */
  reboot(): void {
    const named = new Set<number>();
    for (const entries of this.durable.values()) for (const id of entries.values()) named.add(id);
    for (const id of [...this.inodes.keys()]) {
      const ino = this.inodes.get(id)!;
      if (!named.has(id)) this.inodes.delete(id);
      else {
        ino.durable = ino.durable ?? Buffer.alloc(0);
        ino.data = Buffer.from(ino.durable);
      }
    }
    for (const [dir, entries] of this.durable) this.view.set(dir, new Map(entries));
  }
}

function backingFiles(backing: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of ['', 'sub']) {
    for (const name of readdirSync(join(backing, dir))) {
      const p = join(backing, dir, name);
      if (dir === '' && name === 'sub') continue;
      assert.ok(lstatSync(p).isFile(), `${p} is not a file`);
      out.set(dir ? `${dir}/${name}` : name, readFileSync(p, 'latin1'));
    }
  }
  return out;
}

function randomOps(fs: LazyFs, m: Model, rnd: () => number, count: number): void {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const dirs = ['', 'sub'];
  const names = ['a', 'b', 'c', 'd'];
  const at = (dir: string, name: string): string => fs.path(dir, name);
  for (let i = 0; i < count; i++) {
    const dir = pick(dirs);
    const name = pick(names);
    const p = at(dir, name);
    const id = m.lookup(dir, name);
    const r = rnd();
    if (r < 0.3) {
      // write at a random offset (possibly past the end: a hole), crossing pages
      const ino = id === undefined ? m.inodes.get(m.create(dir, name))! : m.inodes.get(id)!;
      const off = Math.floor(rnd() * (ino.data.length + 6000));
      const len = 1 + Math.floor(rnd() * 9000);
      const chunk = Buffer.alloc(len, 97 + Math.floor(rnd() * 26));
      const fd = openSync(p, id === undefined ? 'w' : 'r+');
      writeSync(fd, chunk, 0, len, off);
      closeSync(fd);
      const next = Buffer.alloc(Math.max(ino.data.length, off + len));
      ino.data.copy(next);
      chunk.copy(next, off);
      ino.data = next;
    } else if (r < 0.38 && id !== undefined) {
      const ino = m.inodes.get(id)!;
      const size = Math.floor(rnd() * (ino.data.length + 5000));
      const fd = openSync(p, 'r+');
      ftruncateSync(fd, size);
      closeSync(fd);
      const next = Buffer.alloc(size);
      ino.data.copy(next, 0, 0, Math.min(size, ino.data.length));
      ino.data = next;
    } else if (r < 0.43) {
      writeFileSync(p, `replaced ${i}`); // O_TRUNC
      const ino = id === undefined ? m.inodes.get(m.create(dir, name))! : m.inodes.get(id)!;
      ino.data = Buffer.from(`replaced ${i}`);
    } else if (r < 0.6 && id !== undefined) {
      const fd = openSync(p, 'r');
      fsyncSync(fd);
      closeSync(fd);
      const ino = m.inodes.get(id)!;
      ino.durable = Buffer.from(ino.data);
    } else if (r < 0.72) {
      fsyncDir(fs.path(dir));
      m.durable.set(dir, new Map(m.view.get(dir)!));
    } else if (r < 0.84 && id !== undefined) {
      const dir2 = pick(dirs);
      const name2 = pick(names);
      const id2 = m.lookup(dir2, name2);
      if (id2 === id) continue; // same file (or a hard link of it): rename(2) does nothing
      renameSync(p, at(dir2, name2));
      m.view.get(dir)!.delete(name);
      m.view.get(dir2)!.set(name2, id);
    } else if (r < 0.92 && id !== undefined) {
      unlinkSync(p);
      m.view.get(dir)!.delete(name);
    } else if (id !== undefined) {
      const dir2 = pick(dirs);
      const name2 = pick(names);
      if (m.lookup(dir2, name2) !== undefined) continue;
      linkSync(p, at(dir2, name2));
      m.view.get(dir2)!.set(name2, id);
    }
    if (i % 25 === 0) {
      // reads through the mount see the view
      for (const d of dirs) {
        for (const [n, ino] of m.view.get(d)!)
          assert.equal(readFileSync(at(d, n), 'latin1'), m.inodes.get(ino)!.data.toString('latin1'), `view of ${d}/${n} after op ${i}`);
        assert.deepEqual(
          readdirSync(fs.path(d))
            .filter((n) => n !== 'sub')
            .sort(),
          [...m.view.get(d)!.keys()].sort(),
          `listing of /${d} after op ${i}`,
        );
      }
    }
  }
}

describe('power-cut harness (lazyfs)', function () {
  this.timeout(20_000);
  let fs: LazyFs | undefined;

  before(function () {
    skipUnlessFuse(this);
  });

  afterEach(async () => {
    const f = fs;
    fs = undefined;
    if (f) {
      await f.dispose();
      assert.equal(isMounted(f.mnt), false, 'a mount was left behind');
    }
  });

  describe('files and names', () => {
    it('truncate down then extend: the gap is zeros after a cut, not the old durable bytes', async () => {
      fs = await mountTempLazyFs();
      const fd = openSync(fs.path('f'), 'w');
      try {
        writeSync(fd, Buffer.alloc(10_000, 0x61));
        fsyncSync(fd);
        fsyncDir(fs.mnt);
        ftruncateSync(fd, 1000);
        writeSync(fd, Buffer.from('zz'), 0, 2, 8000);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      const view = readFileSync(fs.path('f'));
      await fs.cut();
      const durable = readFileSync(join(fs.backing, 'f'));
      assert.equal(durable.length, 8002);
      assert.ok(durable.equals(view), 'BACKING differs from what was fsynced');
      assert.equal(
        durable.subarray(1000, 8000).every((b) => b === 0),
        true,
      );
    });

    it('a file written, fsynced and its directory fsynced survives a cut', async () => {
      fs = await mountTempLazyFs();
      writeAndFsync(fs.path('a.txt'), 'durable');
      fsyncDir(fs.mnt);
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'a.txt')), 'durable');
      await fs.remount();
      assert.equal(readFileSync(fs.path('a.txt'), 'utf8'), 'durable');
    });

    it('a file written without fsync is gone; an append without fsync leaves the synced prefix', async () => {
      fs = await mountTempLazyFs();
      writeAndFsync(fs.path('log'), 'synced;');
      fsyncDir(fs.mnt);
      const fd = openSync(fs.path('log'), 'a');
      writeSync(fd, 'lost;lost;lost');
      closeSync(fd);
      writeFileSync(fs.path('never-synced'), 'gone');
      fsyncDir(fs.mnt); // the name is durable, the data never was: 0 bytes
      writeFileSync(fs.path('not-even-named'), 'gone');
      // Reads through the mount see everything, as the page cache does.
      assert.equal(readFileSync(fs.path('log'), 'utf8'), 'synced;lost;lost;lost');
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'log')), 'synced;');
      assert.equal(readOrMissing(join(fs.backing, 'never-synced')), '');
      assert.equal(readOrMissing(join(fs.backing, 'not-even-named')), 'missing');
    });

    it('create + write + fsync(file) without fsync(dir): the name is gone after a cut', async () => {
      fs = await mountTempLazyFs();
      writeAndFsync(fs.path('orphan'), 'data without a durable name');
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'orphan')), 'missing');
    });

    it('temp file + fsync + rename + fsync(dir) survives and replaces the old contents', async () => {
      fs = await mountTempLazyFs();
      writeFileDurable(fs.path('config.json'), '{"v":1}');
      writeFileDurable(fs.path('config.json'), '{"v":2}');
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'config.json')), '{"v":2}');
      assert.deepEqual(readdirSync(fs.backing), ['config.json']);
    });

    it('a rename without fsync(dir) reverts to the old contents after a cut', async () => {
      fs = await mountTempLazyFs();
      writeFileDurable(fs.path('state'), 'old');
      writeAndFsync(fs.path('state.tmp'), 'new');
      renameSync(fs.path('state.tmp'), fs.path('state'));
      assert.equal(readFileSync(fs.path('state'), 'utf8'), 'new');
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'state')), 'old');
      assert.equal(readOrMissing(join(fs.backing, 'state.tmp')), 'missing');
    });

    it('an unlink without fsync(dir) comes back; with it the file is gone', async () => {
      fs = await mountTempLazyFs();
      writeFileDurable(fs.path('a'), 'A');
      writeFileDurable(fs.path('b'), 'B');
      unlinkSync(fs.path('a'));
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'a')), 'A');
      await fs.remount();
      unlinkSync(fs.path('b'));
      fsyncDir(fs.mnt);
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'b')), 'missing');
    });

    it('a new subdirectory needs its parent fsynced too', async () => {
      fs = await mountTempLazyFs();
      mkdirSync(fs.path('d'));
      writeAndFsync(fs.path('d', 'f'), 'in d');
      fsyncDir(fs.path('d'));
      await fs.cut();
      assert.equal(existsSync(join(fs.backing, 'd')), false);
      await fs.remount();
      mkdirSync(fs.path('d'));
      writeAndFsync(fs.path('d', 'f'), 'in d');
      fsyncDir(fs.path('d'));
      fsyncDir(fs.mnt);
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'd', 'f')), 'in d');
    });

    it("Node's writeFileSync without fsync leaves a missing or 0-byte file (the generated-secret bug)", async () => {
      fs = await mountTempLazyFs();
      writeFileSync(fs.path('secret.key'), 'a generated secret', { mode: 0o600 });
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'secret.key')), 'missing');
      // Once anything fsyncs the directory (SQLite creating its WAL there, say), the name is
      // durable but the data still is not: a 0-byte key file on the next boot.
      await fs.remount();
      writeFileSync(fs.path('secret.key'), 'a generated secret', { mode: 0o600 });
      fsyncDir(fs.mnt);
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'secret.key')), '');
      // The fix: temp file, fsync, rename, fsync the directory.
      await fs.remount();
      writeFileDurable(fs.path('secret.key'), 'a generated secret');
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'secret.key')), 'a generated secret');
    });

    it('a clean unmount writes everything (an orderly shutdown)', async () => {
      fs = await mountTempLazyFs();
      writeFileSync(fs.path('unsynced'), 'written back at shutdown');
      await fs.unmount();
      assert.equal(readOrMissing(join(fs.backing, 'unsynced')), 'written back at shutdown');
    });

    it('a SIGKILLed lazyfs is a cut, and its dead mount does not break the next mount', async () => {
      fs = await mountTempLazyFs();
      writeFileDurable(fs.path('kept'), 'kept');
      writeFileSync(fs.path('dropped'), 'dropped');
      const killed = fs;
      process.kill(killed.pid!, 'SIGKILL');
      await waitUntil(() => !killed.mounted, { what: 'the killed lazyfs to be seen gone' });
      assert.equal(isMounted(fs.mnt), true, 'the dead mount should still be there');
      await fs.remount(); // clears the dead mount first
      assert.equal(readFileSync(fs.path('kept'), 'utf8'), 'kept');
      assert.equal(existsSync(fs.path('dropped')), false);
    });
  });

  describe('against an independent model', () => {
    for (const seed of [1, 2, 3]) {
      it(`random writes, truncates, renames, links, unlinks, fsyncs and cuts leave exactly the durable state (seed ${seed})`, async () => {
        const rnd = mulberry32(seed);
        const m = new Model();
        fs = await mountTempLazyFs();
        mkdirSync(fs.path('sub'));
        fsyncDir(fs.mnt);
        for (let boot = 0; boot < 3; boot++) {
          randomOps(fs, m, rnd, 100);
          await fs.cut();
          assert.deepEqual(backingFiles(fs.backing), m.expected(), `BACKING after cut ${boot + 1}`);
          m.reboot();
          await fs.remount();
        }
        randomOps(fs, m, rnd, 100);
        await fs.unmount(); // an orderly shutdown: the view becomes durable
        for (const [dir, entries] of m.view) m.durable.set(dir, new Map(entries));
        for (const ino of m.inodes.values()) ino.durable = Buffer.from(ino.data);
        assert.deepEqual(backingFiles(fs.backing), m.expected(), 'BACKING after a clean unmount');
      });
    }
  });

  describe('negative control (fsync persists nothing)', () => {
    it('even fsynced data and names are lost after a cut', async () => {
      fs = await mountTempLazyFs({ negativeControl: true });
      writeFileDurable(fs.path('a.txt'), 'would be durable');
      await fs.cut();
      assert.equal(readOrMissing(join(fs.backing, 'a.txt')), 'missing');
    });

    it('SQLite with synchronous=FULL then loses commits: the SQLite tests below can fail', async () => {
      fs = await mountTempLazyFs();
      const file = fs.path('q.db');
      createBaseline(fs, file);
      await fs.unmount();
      const neg = await mountTempLazyFs({ negativeControl: true, backing: fs.backing, mnt: fs.mnt });
      try {
        await commitThenCut(neg, file, 'FULL', 20);
        await fs.remount();
        const r = reopenCount(file);
        assert.equal(r.check, 'ok');
        assert.equal(r.rows, 1, 'only the baseline row (written before the negative control) remains');
      } finally {
        await neg.dispose();
      }
    });
  });

  describe('full disk (--capacity)', () => {
    it('writes beyond the capacity fail with ENOSPC and work again once space is freed', async () => {
      fs = await mountTempLazyFs({ capacityBytes: 64 * 1024 });
      writeFileDurable(fs.path('big'), Buffer.alloc(60 * 1024, 1));
      assert.throws(() => writeFileSync(fs!.path('more'), Buffer.alloc(16 * 1024, 2)), { code: 'ENOSPC' });
      await fs.setCapacity(1024 * 1024);
      writeFileSync(fs.path('more'), Buffer.alloc(16 * 1024, 2));
      assert.equal(readFileSync(fs.path('more')).length, 16 * 1024);
      // Deleting files frees space too.
      await fs.setCapacity(80 * 1024);
      assert.throws(() => writeFileSync(fs!.path('third'), Buffer.alloc(16 * 1024, 3)), { code: 'ENOSPC' });
      unlinkSync(fs.path('more'));
      writeFileSync(fs.path('third'), Buffer.alloc(16 * 1024, 3));
    });

    it('SQLite: a commit on a full disk fails with SQLITE_FULL, commits work again after space is freed', async () => {
      fs = await mountTempLazyFs();
      const file = fs.path('q.db');
      createBaseline(fs, file);
      const db = openDb(file, 'FULL');
      try {
        const used = (await fs.stats()).used;
        await fs.setCapacity(used + 8 * 1024);
        const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
        assert.throws(() => ins.run('y'.repeat(64 * 1024)), { code: 'SQLITE_FULL' });
        await fs.setCapacity(null);
        ins.run('y'.repeat(64 * 1024));
        assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 2);
      } finally {
        db.close();
      }
      await fs.cut();
      await fs.remount();
      assert.deepEqual(reopenCount(file), { rows: 2, check: 'ok' });
    });
  });

  describe('SQLite WAL through the mount', () => {
    it('synchronous=FULL: all 100 committed transactions survive a cut, the database opens cleanly', async () => {
      fs = await mountTempLazyFs();
      const file = fs.path('q.db');
      const db = openDb(file, 'FULL'); // a brand-new database: SQLite syncs the directory itself
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
      for (let i = 0; i < 100; i++) ins.run(`row ${i}`);
      await fs.cut();
      closeDead(db);
      await fs.remount();
      assert.deepEqual(reopenCount(file), { rows: 100, check: 'ok' });
      // ...and again after a second cut on the recovered database.
      await commitThenCut(fs, file, 'FULL', 100);
      await fs.remount();
      assert.deepEqual(reopenCount(file), { rows: 200, check: 'ok' });
    });

    it('synchronous=NORMAL without a checkpoint: committed transactions are lost (the bug the project fixes)', async () => {
      fs = await mountTempLazyFs();
      const file = fs.path('q.db');
      createBaseline(fs, file);
      await commitThenCut(fs, file, 'NORMAL', 100);
      await fs.remount();
      const r = reopenCount(file);
      assert.equal(r.check, 'ok');
      assert.ok(r.rows >= 1, 'the checkpointed baseline row survives');
      assert.ok(r.rows < 101, `expected at least one of the 100 committed rows lost under NORMAL, ${r.rows - 1} survived`);
    });

    it(
      'the group commit of storage.sync full (NORMAL + fdatasync of the WAL off ' + 'the event loop): every group whose committed() resolved survives a cut',
      async () => {
        fs = await mountTempLazyFs();
        const file = fs.path('q.db');
        createBaseline(fs, file); // closed: the WAL is gone, the next commit creates it (a name nothing synced yet)
        const db = openDb(file, 'FULL');
        const walSync = new WalSync(file);
        const group = new GroupCommit(db, { delayMs: 0, walSync });
        const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
        let resolved = 0;
        // 40 groups of 5 rows, each started before the previous one's fsync returned (they share fsyncs).
        const groups: Array<Promise<void>> = [];
        for (let g = 0; g < 40; g++) {
          for (let i = 0; i < 5; i++) group.write(() => ins.run(`g${g} r${i} ${'x'.repeat(200)}`));
          groups.push(group.committed().then(() => void resolved++));
          await new Promise((r) => setImmediate(r));
        }
        await Promise.all(groups);
        assert.equal(db.pragma('synchronous', { simple: true }), 2, 'the connection is FULL again between groups');
        assert.ok(walSync.syncs >= 1 && walSync.syncs <= 40, `fsyncs shared by groups (${walSync.syncs})`);
        await fs.cut();
        closeDeadWal(walSync);
        closeDead(db);
        await fs.remount();
        assert.equal(resolved, 40);
        assert.deepEqual(reopenCount(file), { rows: 1 + 200, check: 'ok' });
      },
    );

    it('the same group commit under the negative control (fsync persists nothing) loses them: the test above can fail', async () => {
      fs = await mountTempLazyFs({ negativeControl: true });
      const file = fs.path('q.db');
      const db = openDb(file, 'FULL');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      const walSync = new WalSync(file);
      const group = new GroupCommit(db, { delayMs: 0, walSync });
      const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
      for (let i = 0; i < 50; i++) group.write(() => ins.run(`r${i}`));
      await group.committed();
      await fs.cut();
      closeDeadWal(walSync);
      closeDead(db);
      await fs.remount();
      assert.ok(!existsSync(file) || reopenCount(file).rows < 50, 'rows survived although nothing was synced');
    });

    it('two connections share the WAL index (the mmap of -shm works): a reader sees each commit', async () => {
      fs = await mountTempLazyFs();
      const file = fs.path('q.db');
      createBaseline(fs, file);
      const writer = openDb(file, 'FULL');
      const reader = new Database(file, { fileMustExist: true });
      try {
        const count = reader.prepare('SELECT count(*) AS n FROM t');
        const ins = writer.prepare('INSERT INTO t (v) VALUES (?)');
        for (let i = 0; i < 50; i++) {
          ins.run(`r${i}`);
          assert.equal((count.get() as { n: number }).n, i + 2);
        }
      } finally {
        reader.close();
        writer.close();
      }
    });

    it('measures synchronous=FULL commits per second through the mount and on the plain disk', async function () {
      fs = await mountTempLazyFs();
      const plainDir = mkdtempSync(join(tmpdir(), 'edgegate-plain-'));
      try {
        const rate = (file: string, sync: Sync): number => {
          const db = openDb(file, sync);
          db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
          const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
          const v = 'z'.repeat(200);
          for (let i = 0; i < 20; i++) ins.run(v); // warm up
          let n = 0;
          const t0 = process.hrtime.bigint();
          const end = t0 + 1_000_000_000n;
          while (process.hrtime.bigint() < end) {
            ins.run(v);
            n++;
          }
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          db.close();
          return Math.round(n / s);
        };
        const lazyFull = rate(fs.path('perf.db'), 'FULL');
        const lazyNormal = rate(fs.path('perf-normal.db'), 'NORMAL');
        const plainFull = rate(join(plainDir, 'perf.db'), 'FULL');
        const plainNormal = rate(join(plainDir, 'perf-normal.db'), 'NORMAL');
        const line =
          `lazyfs: WAL single-row commits/s: synchronous=FULL ${lazyFull} (plain disk ${plainFull}: lazyfs fsync is a memory copy), ` +
          `NORMAL ${lazyNormal} (plain disk ${plainNormal}: FUSE costs ${(plainNormal / lazyNormal).toFixed(1)}x without fsync)`;
        process.stdout.write(`      ${line}\n`);
        this.test!.title += ` [${lazyFull} FULL commits/s; plain ${plainFull}/s]`;
        assert.ok(lazyFull > 100, `too slow for power-cut load tests: ${line}`);
      } finally {
        rmSync(plainDir, { recursive: true, force: true });
      }
    });
  });
});

// The data directory lock in this process: refused while held (naming dataDir,
// the directory and the holder's PID), free again once released; the lock file
// stays empty (nothing a power cut could damage); two in-process daemons on one
// data directory. The cross-process cases (a second `edgegate run`, kill -9)
// are in test/cli/dataDirLock.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { LOCK_FILE, lockDataDir, PID_FILE } from '../../src/storage/dataDirLock.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';

const SECRET = 'data-dir-lock-test-secret-0123456789';

function refusal(dir: string, pid: number): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems[0]!.path, 'dataDir');
    assert.ok(err.problems[0]!.message.includes(`${dir} is in use by another edgegate daemon (PID ${pid})`), err.message);
    return true;
  };
}

describe('data directory lock', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir('edgegate-lock-')));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused while held, naming dataDir, the directory and the PID; free again after release; the lock file stays 0 bytes', () => {
    const lock = lockDataDir(dir);
    try {
      assert.equal(lock.pidFileProblem, undefined);
      assert.equal(readFileSync(join(dir, PID_FILE), 'utf8'), `${process.pid}\n`);
      assert.throws(() => lockDataDir(dir), refusal(dir, process.pid));
      assert.equal(statSync(join(dir, LOCK_FILE)).size, 0, 'nothing is written into the lock file');
      assert.deepEqual(readdirSync(dir).sort(), [LOCK_FILE, PID_FILE], 'no journal or temporary file beside it');
    } finally {
      lock.release();
    }
    assert.equal(existsSync(join(dir, PID_FILE)), false, 'the PID file goes with the lock');
    lock.release(); // a second release is harmless
    const again = lockDataDir(dir);
    again.release();
  });

  it('a lock file something else wrote: exit-2 error at dataDir saying to delete it; the file is left alone', () => {
    writeFileSync(join(dir, LOCK_FILE), 'not a database, but 100 bytes long '.repeat(3));
    const before = readFileSync(join(dir, LOCK_FILE));
    assert.throws(
      () => lockDataDir(dir),
      (err: unknown) =>
        err instanceof ConfigError && err.problems[0]!.path === 'dataDir' && /cannot lock .*edgegate\.lock.*delete it while no edgegate runs/.test(err.message),
    );
    assert.deepEqual(readFileSync(join(dir, LOCK_FILE)), before);
  });

  it(
    'two daemons in one process on one data directory: the second start fails ' + 'at dataDir, the first keeps serving; after it stops, a new one starts',
    async () => {
      const first = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { dataDir: dir });
      try {
        await assert.rejects(startDaemon({ auth: { jwt: { secret: SECRET } } }, { dataDir: dir }), refusal(dir, process.pid));
        const out = await connect(first.port, { username: 'u', password: await hsToken(SECRET, { sub: 'u' }) });
        assert.equal(out.returnCode, 0, 'the first daemon still serves');
        await end(out.client);
      } finally {
        await first.stop();
      }
      const next = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { dataDir: dir });
      await next.stop();
    },
  );
});

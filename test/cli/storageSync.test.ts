// storage.sync reaches every connection: the CLI's (`token revoke` …) as the
// daemon's. FULL is the default, so a revocation is on the card when the command
// says "revoked": in WAL mode that is an fsync of edgegate.db-wal at its commit,
// which the real CLI is seen doing under strace (and not doing with `normal`).
// The deprecated bridge.queue.sync still decides, with one warning.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { freePort } from '../../scripts/bench/lib/freePort.js';
import { openCliDatabase } from '../../src/cli/revocation.js';
import { deprecatedKeysIn } from '../../src/config/deprecations.js';
import { buildConfig } from '../../src/config/load.js';
import type { ConfigOverrides } from '../../src/config/types.js';
import { DATABASE_FILE, openDatabase } from '../../src/storage/database.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { re, runCliTraced, straceAvailable } from '../helpers/strace.js';
import { exitOf, logLines, runCli, startCli, waitForOutput } from './support.js';

/** PRAGMA synchronous: 1 NORMAL, 2 FULL. */
const NORMAL = 1;
const FULL = 2;
const DEPRECATION = /bridge\.queue\.sync is deprecated: use storage\.sync/;

describe('storage.sync in the CLI and the daemon', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = tempDir('edgegate-sync-')));
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('the connection `token revoke|unrevoke|revocations` opens (openCliDatabase)', () => {
    const cases: Array<[string, ConfigOverrides, number]> = [
      ['default', {}, FULL],
      ['storage.sync: normal', { storage: { sync: 'normal' } }, NORMAL],
      ['storage.sync: full', { storage: { sync: 'full' } }, FULL],
      ['bridge.queue.sync: normal (deprecated) over the default', { bridge: { queue: { sync: 'normal' } } }, NORMAL],
      ['bridge.queue.sync: full (deprecated) over storage.sync: normal', { storage: { sync: 'normal' }, bridge: { queue: { sync: 'full' } } }, FULL],
    ];
    for (const [name, overrides, expected] of cases) {
      it(`${name}: PRAGMA synchronous = ${expected === FULL ? 'FULL' : 'NORMAL'}`, () => {
        const config = buildConfig({ ...overrides, dataDir: join(dir, 'inproc') });
        const db = openCliDatabase(config);
        try {
          assert.equal(db.pragma('synchronous', { simple: true }), expected);
        } finally {
          db.close();
        }
      });
    }
  });

  describe('the real `token revoke` (strace: is the WAL fsynced at its commit?)', () => {
    let dataDir: string;
    let holder: Database.Database;
    before(async function () {
      if (!straceAvailable) {
        // eslint-disable-next-line no-console
        console.log('      skipped: needs strace (apt-get install strace); the PRAGMA checks above still ran');
        return this.skip();
      }
      dataDir = join(dir, 'traced');
      mkdirSync(dataDir, { mode: 0o700 });
      // A second connection open throughout, as a running daemon's is: the CLI's close is then not the
      // last one and does not checkpoint, and the WAL is never reset (the first commit into a reset
      // WAL syncs its new header whatever the setting). An fsync of the WAL can then only come from
      // the commit itself.
      holder = openDatabase(join(dataDir, DATABASE_FILE));
      // The tables, and the WAL's header, first, untraced.
      const first = await runCli(['token', 'revoke', '--sub', 'setup'], { EDGEGATE_DATA_DIR: dataDir }, dir);
      assert.equal(first.code, 0, first.stderr);
    });
    after(() => holder?.close());

    const revoked = (sub: string): boolean => holder.prepare("SELECT 1 FROM auth_revocations WHERE kind = 'sub' AND value = ?").get(sub) !== undefined;
    const walSyncs = (calls: string[]): string[] =>
      calls.filter((c) => new RegExp(`^f(data)?sync\\(\\d+<${re(join(dataDir, DATABASE_FILE))}-wal>\\) = 0`).test(c));

    it('by default (storage.sync full): the WAL is fsynced before the command reports "revoked"', async () => {
      const r = await runCliTraced(['token', 'revoke', '--sub', 'full-1'], { EDGEGATE_DATA_DIR: dataDir }, dir, ['fsync', 'fdatasync']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^revoked: sub full-1/);
      assert.ok(walSyncs(r.calls).length >= 1, `no fsync of the WAL:\n${r.calls.join('\n')}`);
      assert.ok(revoked('full-1'));
      assert.doesNotMatch(r.stderr, /deprecated/);
    });

    it('storage.sync: normal: the commit is not fsynced (crash-safe only, as documented)', async () => {
      const r = await runCliTraced(
        ['token', 'revoke', '--sub', 'normal-1'],
        { EDGEGATE_DATA_DIR: dataDir, NODE_CONFIG: '{"storage":{"sync":"normal"}}' },
        dir,
        ['fsync', 'fdatasync'],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(walSyncs(r.calls), []);
      assert.ok(revoked('normal-1'));
    });

    it('bridge.queue.sync: normal (deprecated) still decides, and the CLI prints exactly one warning naming both keys on stderr', async () => {
      const r = await runCliTraced(
        ['token', 'revoke', '--sub', 'old-key-1'],
        { EDGEGATE_DATA_DIR: dataDir, NODE_CONFIG: '{"bridge":{"queue":{"sync":"normal"}}}' },
        dir,
        ['fsync', 'fdatasync'],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(walSyncs(r.calls), [], 'NORMAL took effect');
      assert.ok(revoked('old-key-1'));
      const warnings = r.stderr.split('\n').filter((l) => DEPRECATION.test(l));
      assert.deepEqual(warnings, ['edgegate: warning: bridge.queue.sync is deprecated: use storage.sync (the old key still applies)']);
      assert.doesNotMatch(r.stdout, /deprecated/, 'stdout stays for the result');
    });
  });

  it("config check with bridge.queue.sync: the effective storage.sync is the old key's value, with one warning", async () => {
    const r = await runCli(['config', 'check'], { EDGEGATE_DATA_DIR: join(dir, 'check'), NODE_CONFIG: '{"bridge":{"queue":{"sync":"normal"}}}' }, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { storage: { sync: string } }).storage.sync, 'normal');
    assert.equal(r.stderr.split('\n').filter((l) => DEPRECATION.test(l)).length, 1);
  });

  it('the daemon opens its database with storage.sync (FULL by default; NORMAL from bridge.queue.sync) and logs one warn line for the old key', async () => {
    const plain = await startDaemon();
    try {
      assert.equal(plain.daemon.database!.pragma('synchronous', { simple: true }), FULL);
      assert.equal(plain.logs.filter((l) => DEPRECATION.test(String(l.msg))).length, 0);
    } finally {
      await plain.stop();
    }
    const old = await startDaemon({ bridge: { queue: { sync: 'normal' } } });
    try {
      assert.deepEqual(deprecatedKeysIn(old.config), [{ key: 'bridge.queue.sync', use: 'storage.sync' }]);
      assert.equal(old.daemon.database!.pragma('synchronous', { simple: true }), NORMAL);
      const warns = old.logs.filter((l) => DEPRECATION.test(String(l.msg)));
      assert.equal(warns.length, 1);
      assert.equal(warns[0]!.level, 40, 'warn');
      assert.equal(warns[0]!.key, 'bridge.queue.sync');
      assert.equal(warns[0]!.use, 'storage.sync');
    } finally {
      await old.stop();
    }
  });

  it('edgegate run with bridge.queue.sync: the warning appears once, as a log line (not also as a CLI line)', async () => {
    const run = startCli(
      ['run'],
      {
        EDGEGATE_DATA_DIR: join(dir, 'run'),
        EDGEGATE_PORT: String(await freePort()),
        NODE_CONFIG: JSON.stringify({ listeners: { tcp: { host: '127.0.0.1' } }, http: { enabled: false }, bridge: { queue: { sync: 'normal' } } }),
      },
      dir,
    );
    try {
      await waitForOutput(run, (s) => s.includes('edgegate started'));
      assert.equal(run.out.stderr.split('\n').filter((l) => DEPRECATION.test(l)).length, 1, run.out.stderr);
      assert.equal(logLines(run.out.stderr).filter((l) => DEPRECATION.test(String(l.msg)) && l.level === 40).length, 1);
      run.kill('SIGTERM');
      assert.equal((await exitOf(run, 5000)).code, 0);
    } finally {
      if (run.exitCode === null && run.signalCode === null) run.kill('SIGKILL');
    }
  });
});

// One daemon per data directory, with the real CLI in child processes: a second
// `edgegate run` exits 2 naming dataDir, the directory and the first one's PID;
// the commands that use the database (`token revoke`, `revocations`, `verify`,
// `status`) keep working while the daemon holds the lock; after the holder is
// killed with SIGKILL (no clean-up runs, as in a power cut) a new daemon starts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../scripts/bench/lib/freePort.js';
import { tempDir } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { exitOf, runCli, startCli, waitForOutput } from './support.js';

describe('one daemon per data directory (real CLI)', function () {
  this.timeout(90_000);
  let dir: string;
  let dataDir: string;
  let first: ReturnType<typeof startCli>;
  let firstPort: number;
  let httpPort: number;
  const envFor = (port: number, http: number): NodeJS.ProcessEnv => ({
    EDGEGATE_DATA_DIR: dataDir,
    EDGEGATE_PORT: String(port),
    NODE_CONFIG: JSON.stringify({ listeners: { tcp: { host: '127.0.0.1' } }, http: { enabled: true, host: '127.0.0.1', port: http } }),
  });

  before(async () => {
    dir = tempDir('edgegate-lock-cli-');
    dataDir = join(dir, 'data');
    [firstPort, httpPort] = [await freePort(), await freePort()];
    first = startCli(['run'], envFor(firstPort, httpPort), dir);
    await waitForOutput(first, (s) => s.includes('edgegate started'));
  });
  after(() => {
    if (first.exitCode === null && first.signalCode === null) first.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second run on the same data dir exits 2 naming dataDir, the directory and the first PID; the first keeps serving', async () => {
    const second = await runCli(['run'], envFor(await freePort(), await freePort()), dir);
    assert.equal(second.code, 2, second.stderr);
    assert.ok(second.stderr.includes(`dataDir: ${dataDir} is in use by another edgegate daemon (PID ${first.pid})`), second.stderr);
    assert.ok(!second.stderr.includes('edgegate started'));
    assert.equal(readFileSync(join(dataDir, 'edgegate.pid'), 'utf8'), `${first.pid}\n`);
    assert.equal(statSync(join(dataDir, 'edgegate.lock')).size, 0);

    const mint = await runCli(['token', 'mint', '--sub', 's1'], envFor(firstPort, httpPort), dir);
    assert.equal(mint.code, 0, mint.stderr);
    const out = await connect(firstPort, { username: 's1', password: mint.stdout.trim() });
    assert.equal(out.returnCode, 0, 'the first daemon still accepts tokens');
    await end(out.client);
  });

  it('token revoke / revocations / verify / unrevoke and status work while the daemon holds the lock', async () => {
    const env = envFor(firstPort, httpPort);
    const mint = await runCli(['token', 'mint', '--sub', 's2', '--jti', 'lock-test-1'], env, dir);
    assert.equal(mint.code, 0, mint.stderr);
    const token = mint.stdout.trim();
    const revoke = await runCli(['token', 'revoke', '--jti', 'lock-test-1', '--reason', 'test'], env, dir);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /^revoked: jti lock-test-1/);
    const [list, verify, status] = await Promise.all([
      runCli(['token', 'revocations'], env, dir),
      runCli(['token', 'verify', token], env, dir),
      runCli(['status'], env, dir),
    ]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^jti\tlock-test-1\t/);
    assert.equal(verify.code, 1, verify.stderr);
    assert.match(verify.stdout, /^invalid JWT_REVOKED/);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, new RegExp(`pid ${first.pid}`));
    const unrevoke = await runCli(['token', 'unrevoke', '--jti', 'lock-test-1'], env, dir);
    assert.equal(unrevoke.code, 0, unrevoke.stderr);
  });

  it(
    'after the holder is killed with SIGKILL a new run starts on the data dir ' + '(no stale lock) and records its own PID; a clean stop removes the PID file',
    async () => {
      const mint = await runCli(['token', 'mint', '--sub', 's3'], envFor(firstPort, httpPort), dir);
      first.kill('SIGKILL');
      assert.equal((await exitOf(first, 5000)).signal, 'SIGKILL');
      assert.equal(readFileSync(join(dataDir, 'edgegate.pid'), 'utf8'), `${first.pid}\n`, 'SIGKILL left the PID file behind');

      const port = await freePort();
      const next = startCli(['run'], envFor(port, await freePort()), dir);
      try {
        await waitForOutput(next, (s) => s.includes('edgegate started'));
        assert.equal(readFileSync(join(dataDir, 'edgegate.pid'), 'utf8'), `${next.pid}\n`);
        const out = await connect(port, { username: 's3', password: mint.stdout.trim() });
        assert.equal(out.returnCode, 0, 'the generated secret survived: a token minted before still works');
        await end(out.client);
        next.kill('SIGTERM');
        assert.equal((await exitOf(next, 5000)).code, 0);
        assert.equal(existsSync(join(dataDir, 'edgegate.pid')), false);
      } finally {
        if (next.exitCode === null && next.signalCode === null) next.kill('SIGKILL');
      }
    },
  );
});

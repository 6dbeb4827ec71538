// The README's quick start, run as written: the shell block after the
// `quick-start` marker is extracted from README.md (not copied here) and run with
// bash in the checkout, against a daemon started from the built dist/ as `npm
// start` would. Only the port differs (a free one on 127.0.0.1, added to the
// mosquitto clients' `-h 127.0.0.1`) and the data directory (a temporary one, for
// the daemon and the CLI alike): tests never bind 1883 or write into the checkout.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../scripts/bench/lib/freePort.js';
import { REPO_ROOT } from '../cli/support.js';
import { tempDir } from '../helpers/daemon.js';
import { waitForPort } from '../helpers/mosquitto.js';

function quickStartBlock(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- quick-start');
  assert.ok(at >= 0, 'README.md marks its quick-start block');
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'a sh block follows the marker');
  return m[1]!;
}

describe('README quick start, run as written', function () {
  this.timeout(120_000);
  it('prints the sensor reading: sensors/sensor-1/temp 21.5', async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
      execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: REPO_ROOT, stdio: 'pipe' });
      execFileSync(process.execPath, ['scripts/write-build-info.mjs'], { cwd: REPO_ROOT, stdio: 'pipe' });
    }
    const dataDir = tempDir('edgegate-quickstart-');
    const port = await freePort();
    const env = {
      ...process.env,
      EDGEGATE_DATA_DIR: dataDir,
      EDGEGATE_HOST: '127.0.0.1',
      EDGEGATE_PORT: String(port),
      EDGEGATE_HTTP_PORT: String(await freePort()),
    };
    // `npm start`, as package.json runs it.
    const start = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts.start as string;
    // Its own process group: `sh` may fork the daemon rather than exec it, and
    // the daemon must not outlive the test.
    const daemon = spawn('sh', ['-c', start], { cwd: REPO_ROOT, env, stdio: 'ignore', detached: true });
    try {
      await waitForPort(port, 20_000);
      const script = quickStartBlock().replaceAll('-h 127.0.0.1', `-h 127.0.0.1 -p ${port}`);
      const run = spawnSync('bash', ['-O', 'expand_aliases', '-c', script], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), 'sensors/sensor-1/temp 21.5');
    } finally {
      const exited = new Promise((r) => daemon.once('exit', r));
      process.kill(-daemon.pid!, 'SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

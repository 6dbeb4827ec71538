// The traps of a first hour with edgegate, each closed (real CLI, real daemon):
// the CLI finds the daemon's data directory from anywhere and never makes a
// secret of its own; --claim exp= and --ttl do not silently override each other;
// a misspelt key gets a suggestion; a taken port names the key that moves it;
// bans can be listed and lifted, and show in /healthz and `edgegate status`.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { freePort } from '../../scripts/bench/lib/freePort.js';
import { tempDir } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { httpRequest } from '../ops/support/pageClient.js';
import { runCli, startCli, waitForOutput } from './support.js';

describe('the first hour: no traps (real CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  let confDir: string;
  let port: number;
  let httpPort: number;
  let daemon: ReturnType<typeof startCli> | undefined;
  const env = (): NodeJS.ProcessEnv => ({ NODE_CONFIG_DIR: confDir, EDGEGATE_PORT: String(port), EDGEGATE_HTTP_PORT: String(httpPort) });

  before(async () => {
    dir = tempDir('edgegate-first-hour-');
    confDir = join(dir, 'etc');
    mkdirSync(confDir);
    // A relative dataDir: relative to this file's directory, wherever a command starts.
    writeFileSync(
      join(confDir, 'local.json'),
      JSON.stringify({ dataDir: 'state', listeners: { tcp: { host: '127.0.0.1' } }, auth: { rateLimit: { maxFailures: 3, windowSec: 60, banSec: 600 } } }),
    );
    [port, httpPort] = [await freePort(), await freePort()];
  });
  after(() => {
    if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('before the daemon ever ran, token mint makes no secret: it says where it looked and how to create one', async () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const r = await runCli(['token', 'mint', '--sub', 'sensor-1'], env(), elsewhere);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${join(confDir, 'state', 'jwt-secret').replace(/[/.]/g, '\\$&')} does not exist`));
    assert.match(r.stderr, /systemctl start edgegate|npm start/);
    assert.equal(existsSync(join(confDir, 'state', 'jwt-secret')), false);
    assert.equal(existsSync(join(elsewhere, 'data')), false, 'nothing in the current directory');
  });

  it('the daemon and the CLI, started in different directories, use the same data directory and secret', async () => {
    const runDir = join(dir, 'run-here');
    mkdirSync(runDir);
    daemon = startCli(['run'], env(), runDir);
    await waitForOutput(daemon, (s) => s.includes('edgegate started'));
    assert.ok(existsSync(join(confDir, 'state', 'jwt-secret')));
    const other = join(dir, 'cli-here');
    mkdirSync(other);
    const mint = await runCli(['token', 'mint', '--sub', 'sensor-1'], env(), other);
    assert.equal(mint.code, 0, mint.stderr);
    const out = await connect(port, { username: 'sensor-1', password: mint.stdout.trim(), clientId: 'first-hour' });
    assert.equal(out.returnCode, 0);
    await end(out.client);
    assert.equal(existsSync(join(other, 'data')), false);
  });

  it('--claim exp= wins over the default lifetime; with --ttl as well it is an error naming both', async () => {
    const withClaim = await runCli(['token', 'mint', '--sub', 's', '--claim', 'exp=1700000000'], env(), dir);
    assert.equal(withClaim.code, 0, withClaim.stderr);
    assert.equal(decodeJwt(withClaim.stdout.trim()).exp, 1700000000);
    const both = await runCli(['token', 'mint', '--sub', 's', '--claim', 'exp=1700000000', '--ttl', '1h'], env(), dir);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /--claim exp=\.\.\. and --ttl both set "exp"/);
    const help = await runCli(['token', 'mint', '--help'], env(), dir);
    assert.match(help.stdout, /unless --claim exp=\.\.\. sets exp itself/);
  });

  it('a misspelt key gets the closest known one; a taken port names the key (and the variable) that moves it', async () => {
    const typo = await runCli(['config', 'check'], { ...env(), NODE_CONFIG: JSON.stringify({ listeners: { tcp: { prot: 1884 } }, brocker: {} }) }, dir);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /listeners\.tcp\.prot: is not a known key; did you mean "listeners\.tcp\.port"\?/);
    assert.match(typo.stderr, /brocker: is not a known key; did you mean "broker"\?/);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const taken = String((busy.address() as AddressInfo).port);
      const r = await runCli(['run'], { ...env(), EDGEGATE_PORT: taken, EDGEGATE_DATA_DIR: join(dir, 'second') }, dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${taken} is already in use .*set listeners\\.tcp\\.port \\(or EDGEGATE_PORT\\)`));
    } finally {
      busy.close();
    }
  });

  it('bans: listed by `edgegate auth bans`, counted in /healthz and `edgegate status`, lifted by `edgegate auth unban` within a second', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await connect(port, { username: 'u', password: 'wrong', clientId: `bad-${i}` })).returnCode, 4);
    const mint = await runCli(['token', 'mint', '--sub', 'sensor-1'], env(), dir);
    assert.equal((await connect(port, { username: 'sensor-1', password: mint.stdout.trim() })).returnCode, 5, 'banned');
    const bans = await runCli(['auth', 'bans'], env(), dir);
    assert.equal(bans.code, 0, bans.stderr);
    assert.match(bans.stdout, /^127\.0\.0\.1\tbanned .*\tuntil .*s left\)\tlast reason: JWT_MALFORMED/m);
    const health = (await httpRequest(httpPort, '/healthz')).json<{ healthy: boolean; reasons: string[] }>();
    assert.equal(health.healthy, true, 'a ban is no failure of the gateway');
    assert.match(health.reasons.join('\n'), /1 address is banned .*edgegate auth unban/);
    const status = await runCli(['status'], env(), dir);
    assert.match(status.stdout, /bans {8}1 address banned/);
    assert.match(status.stdout, /! 1 address is banned/);

    const unban = await runCli(['auth', 'unban', '127.0.0.1'], env(), dir);
    assert.equal(unban.code, 0, unban.stderr);
    assert.match(unban.stdout, /unbanned: 127\.0\.0\.1/);
    const accepted = async (): Promise<boolean> => {
      const o = await connect(port, { username: 'sensor-1', password: mint.stdout.trim(), clientId: 'after-unban' });
      await end(o.client);
      return o.returnCode === 0;
    };
    await waitUntil(accepted, { timeoutMs: 3000, what: 'the daemon lifted the ban', everyMs: 250 });
    assert.match((await runCli(['auth', 'bans'], env(), dir)).stdout, /no address is banned/);
    assert.equal((await runCli(['auth', 'unban', '127.0.0.1'], env(), dir)).code, 1, 'not banned any more');
  });

  it('`token revocations` says "kept until"', async () => {
    const mint = await runCli(['token', 'mint', '--sub', 'sensor-9', '--jti', 'kept-1'], env(), dir);
    const token = mint.stdout.trim();
    assert.equal((await runCli(['token', 'revoke', '--jti', 'kept-1'], env(), dir)).code, 0);
    await connect(port, { username: 'sensor-9', password: token, clientId: 'seen' }); // the daemon learns its exp
    await waitUntil(async () => /kept until \d{4}-/.test((await runCli(['token', 'revocations'], env(), dir)).stdout), {
      timeoutMs: 8000,
      what: 'exp recorded',
      everyMs: 500,
    });
  });
});

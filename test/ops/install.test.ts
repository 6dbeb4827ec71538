// scripts/install.sh and scripts/uninstall.sh staged into a DESTDIR: the layout,
// an upgrade that keeps local.json and data, and removal with and without --purge.
// EDGEGATE_SKIP_NPM=1 reuses this checkout's node_modules (no network) but still
// builds dist/ in the staged copy, as the real path does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, cleanEnv } from './support/childDaemon.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: REPO_ROOT, env: cleanEnv(env), timeout: 120_000, maxBuffer: 10 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);

describe('installer (DESTDIR staging)', function () {
  this.timeout(120_000);
  let root: string;
  const at = (path: string): string => join(root, path);
  const install = (env: Record<string, string> = {}, args: string[] = []): Promise<Run> =>
    run('bash', [join(REPO_ROOT, 'scripts/install.sh'), ...args], { DESTDIR: root, EDGEGATE_SKIP_NPM: '1', ...env });
  const uninstall = (args: string[] = []): Promise<Run> => run('bash', [join(REPO_ROOT, 'scripts/uninstall.sh'), ...args], { DESTDIR: root });
  /** Runs the staged application's CLI against the staged configuration. */
  const stagedCli = (...args: string[]): Promise<Run> =>
    run(process.execPath, [at('opt/edgegate/dist/cli/main.js'), ...args], {
      NODE_CONFIG_DIR: at('etc/edgegate'),
      EDGEGATE_DATA_DIR: at('var/lib/edgegate'),
    });

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'edgegate-destdir-'));
  });
  after(() => root && rmSync(root, { recursive: true, force: true }));

  it('stages the whole layout', async () => {
    const r = await install();
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /staged under/);
    for (const f of [
      'opt/edgegate/package.json',
      'opt/edgegate/package-lock.json',
      'opt/edgegate/dist/cli/main.js',
      'opt/edgegate/dist/build-info.json',
      'opt/edgegate/dist/page/index.html',
      'opt/edgegate/node_modules/uplot/dist/uPlot.iife.min.js',
      'opt/edgegate/config/default.json',
      'opt/edgegate/node_modules/aedes/package.json',
      'opt/edgegate/node_modules/better-sqlite3/package.json',
      'opt/edgegate/systemd/edgegate.service',
      'etc/edgegate/default.json',
      'etc/edgegate/local.json',
      'etc/systemd/system/edgegate.service',
      'usr/local/bin/edgegate',
    ]) {
      assert.ok(existsSync(at(f)), f);
    }
    assert.ok(statSync(at('var/lib/edgegate')).isDirectory());
    assert.ok(!existsSync(at('opt/edgegate.new')) && !existsSync(at('opt/edgegate.old')), 'no leftovers of the swap');
    assert.equal(readFileSync(at('etc/edgegate/default.json'), 'utf8'), readFileSync(join(REPO_ROOT, 'config/default.json'), 'utf8'));
    JSON.parse(readFileSync(at('etc/edgegate/local.json'), 'utf8'));
    assert.equal(mode(at('etc/edgegate')), '750');
    assert.equal(mode(at('etc/edgegate/local.json')), '640');
    assert.equal(mode(at('var/lib/edgegate')), '700');
    assert.equal(mode(at('usr/local/bin/edgegate')), '755');

    // The unit is the repository's, with at most the node binary swapped in.
    const unit = readFileSync(at('etc/systemd/system/edgegate.service'), 'utf8');
    const source = readFileSync(join(REPO_ROOT, 'systemd/edgegate.service'), 'utf8');
    assert.equal(unit.replace(/^ExecStart=\S+ /m, 'ExecStart=NODE '), source.replace(/^ExecStart=\S+ /m, 'ExecStart=NODE '));
    assert.match(unit, /^ExecStart=\S*node( --[a-z-]+=\d+)* \/opt\/edgegate\/dist\/cli\/main\.js run$/m);

    // The CLI wrapper points at the service's configuration and data.
    const cli = readFileSync(at('usr/local/bin/edgegate'), 'utf8');
    assert.match(cli, /NODE_CONFIG_DIR:=\/etc\/edgegate/);
    assert.match(cli, /EDGEGATE_DATA_DIR:=\/var\/lib\/edgegate/);
    assert.match(cli, /\/opt\/edgegate\/dist\/cli\/main\.js/);
    assert.match(cli, /runuser -u edgegate --/, 'root runs the CLI as the service user');
    assert.equal((await run('sh', ['-n', at('usr/local/bin/edgegate')], {})).code, 0, 'the wrapper is valid sh');

    // And the staged application runs on the staged configuration.
    const check = await stagedCli('config', 'check');
    assert.equal(check.code, 0, check.stderr);
    assert.equal((JSON.parse(check.stdout) as { http: { port: number } }).http.port, 9100);
  });

  it('a second run upgrades in place, keeping a modified local.json and the data', async () => {
    // MQTT on a port below 1024 also needs the capability drop-in.
    const local = JSON.stringify({ listeners: { tcp: { port: 883 } }, http: { port: 9200 }, log: { level: 'debug' } }, null, 2) + '\n';
    writeFileSync(at('etc/edgegate/local.json'), local);
    writeFileSync(at('etc/edgegate/default.json'), '{}\n'); // the reference copy is refreshed
    writeFileSync(at('var/lib/edgegate/edgegate.db'), 'data');
    writeFileSync(at('opt/edgegate/dist/stale-from-old-version.js'), '');

    const r = await install();
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /keeping \/etc\/edgegate\/local\.json/);
    assert.match(r.stdout, /upgrading \/opt\/edgegate in place/);
    assert.equal(readFileSync(at('etc/edgegate/local.json'), 'utf8'), local);
    assert.equal(readFileSync(at('etc/edgegate/default.json'), 'utf8'), readFileSync(join(REPO_ROOT, 'config/default.json'), 'utf8'));
    assert.equal(readFileSync(at('var/lib/edgegate/edgegate.db'), 'utf8'), 'data');
    assert.ok(!existsSync(at('opt/edgegate/dist/stale-from-old-version.js')), 'the application is replaced, not merged');

    const check = await stagedCli('config', 'check');
    assert.equal(check.code, 0, check.stderr);
    const cfg = JSON.parse(check.stdout) as { listeners: { tcp: { port: number } }; http: { port: number } };
    assert.equal(cfg.listeners.tcp.port, 883);
    assert.equal(cfg.http.port, 9200);
    const dropIn = readFileSync(at('etc/systemd/system/edgegate.service.d/10-low-ports.conf'), 'utf8');
    assert.match(dropIn, /^\[Service\]$/m);
    assert.match(dropIn, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    assert.match(dropIn, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  });

  it('refuses a Node.js older than 20.12 and says how to get a newer one', async () => {
    const fake = join(root, 'old-node');
    writeFileSync(fake, '#!/bin/sh\necho 18.19.0\n');
    chmodSync(fake, 0o755);
    const r = await install({ NODE: fake });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Node\.js 18\.19\.0 .* too old/);
    assert.match(r.stderr, /deb\.nodesource\.com\/setup_20\.x/);
    // 20.11 lacks crypto.hash, which the daemon needs: the minimum is 20.12.
    writeFileSync(fake, '#!/bin/sh\necho 20.11.1\n');
    const r2011 = await install({ NODE: fake });
    assert.equal(r2011.code, 1);
    assert.match(r2011.stderr, /Node\.js 20\.11\.1 .* too old/);
    assert.match(r2011.stderr, />= 20\.12/);
    const missing = await install({ NODE: join(root, 'no-such-node') });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Node\.js was not found/);
    assert.ok(existsSync(at('opt/edgegate/dist/cli/main.js')), 'a refused run leaves the installation alone');
  });

  it('rejects unknown options and prints help', async () => {
    const bad = await install({}, ['--bogus']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown option/);
    const help = await install({}, ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /DESTDIR/);
  });

  it('uninstall keeps /etc/edgegate and /var/lib/edgegate; --purge removes them', async () => {
    const r = await uninstall();
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(at('opt/edgegate')));
    assert.ok(!existsSync(at('etc/systemd/system/edgegate.service')));
    assert.ok(!existsSync(at('etc/systemd/system/edgegate.service.d')));
    assert.ok(!existsSync(at('usr/local/bin/edgegate')));
    assert.ok(existsSync(at('etc/edgegate/local.json')));
    assert.equal(readFileSync(at('var/lib/edgegate/edgegate.db'), 'utf8'), 'data');
    assert.match(r.stdout, /kept/);

    const purge = await uninstall(['--purge']);
    assert.equal(purge.code, 0, purge.stderr);
    assert.ok(!existsSync(at('etc/edgegate')));
    assert.ok(!existsSync(at('var/lib/edgegate')));
  });
});

// scripts/install.sh and scripts/uninstall.sh staged into a DESTDIR: the layout,
// an upgrade that keeps local.json and data, and removal with and without --purge.
// EDGEGATE_SKIP_NPM=1 reuses this checkout's node_modules (no network) but still
// builds dist/ in the staged copy, as the real path does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, REPO_ROOT } from './support/childDaemon.js';

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

// scripts/install.sh FILE.tar.gz: a release artifact (scripts/release.sh, x64 only and from the
// existing dist/, so a few seconds) staged into a DESTDIR with npm, node-gyp and the compilers
// replaced by stubs that fail: nothing is built, nothing is downloaded.
describe('installer (release tarball)', function () {
  this.timeout(120_000);
  let work: string;
  let tarball: string;
  let root: string;
  let stubs: string;
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const at = (path: string): string => join(root, path);
  const stubCalls = (): string => (existsSync(join(work, 'stub-calls')) ? readFileSync(join(work, 'stub-calls'), 'utf8') : '');
  const withStubs = (env: Record<string, string> = {}): Record<string, string> => ({
    PATH: `${stubs}:${process.env.PATH ?? ''}`,
    DESTDIR: root,
    ...env,
  });

  before(async function () {
    if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js')) || !existsSync(join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))) {
      console.log('    (skipped: no dist/ or no better-sqlite3 build here; run npm ci)');
      this.skip();
    }
    if (process.arch !== 'x64') {
      console.log(`    (skipped: the release script builds the x64 tarball on an x86-64 host, this is ${process.arch})`);
      this.skip();
    }
    work = mkdtempSync(join(tmpdir(), 'edgegate-artifact-'));
    root = join(work, 'root');
    stubs = join(work, 'stubs');
    mkdirSync(stubs);
    for (const tool of ['npm', 'npx', 'node-gyp', 'gcc', 'g++', 'cc', 'c++', 'make', 'python3', 'curl', 'wget']) {
      writeFileSync(join(stubs, tool), `#!/bin/sh\necho "${tool} $*" >>'${join(work, 'stub-calls')}'\nexit 1\n`, { mode: 0o755 });
    }
    const out = join(work, 'out');
    const r = await run('bash', [join(REPO_ROOT, 'scripts/release.sh'), '--arch', 'x64', '--no-deb', '--no-build', '--allow-dirty', '--out', out], {});
    assert.equal(r.code, 0, r.stderr + r.stdout);
    tarball = join(out, `edgegate-${version}-linux-x64.tar.gz`);
    assert.ok(existsSync(tarball), r.stderr);
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  it('holds the bundle and only the native addons and files it loads at run time', async () => {
    const list = await run('tar', ['-tzf', tarball], {});
    assert.equal(list.code, 0, list.stderr);
    const top = `edgegate-${version}-linux-x64/`;
    const files = list.stdout.split('\n').filter((f) => f && !f.endsWith('/'));
    assert.ok(
      files.every((f) => f.startsWith(top)),
      'one top-level folder',
    );
    const rel = files.map((f) => f.slice(top.length));
    for (const f of [
      'dist/cli/main.js',
      'dist/build-info.json',
      'dist/page/index.html',
      'config/default.json',
      'systemd/edgegate.service',
      'scripts/install.sh',
      'scripts/uninstall.sh',
      'scripts/layout.sh',
      'LICENSE',
      'THIRD_PARTY_NOTICES.md',
      'release.json',
      'package.json',
    ]) {
      assert.ok(rel.includes(f), f);
    }
    const modules = rel.filter((f) => f.startsWith('node_modules/')).sort();
    assert.deepEqual(
      modules.filter((f) => !f.startsWith('node_modules/@serialport/bindings-cpp/prebuilds/')),
      [
        'node_modules/@serialport/bindings-cpp/LICENSE',
        'node_modules/@serialport/bindings-cpp/package.json',
        'node_modules/better-sqlite3/LICENSE',
        'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
        'node_modules/better-sqlite3/package.json',
        'node_modules/uplot/LICENSE',
        'node_modules/uplot/dist/uPlot.iife.min.js',
        'node_modules/uplot/dist/uPlot.min.css',
        'node_modules/uplot/package.json',
      ],
    );
    const prebuilds = modules.filter((f) => f.startsWith('node_modules/@serialport/bindings-cpp/prebuilds/'));
    assert.ok(prebuilds.length > 0 && prebuilds.every((f) => /\/prebuilds\/linux-x64\/[^/]+\.glibc\.node$/.test(f)), prebuilds.join(', '));
    assert.ok(!rel.some((f) => /^(src|test)\/|package-lock\.json$|^config\/local/.test(f)), 'no sources, tests, lock file or local settings');
  });

  it('installs from FILE.tar.gz with neither npm nor a compiler', async () => {
    root = join(work, 'root');
    const r = await run('bash', [join(REPO_ROOT, 'scripts/install.sh'), tarball], withStubs());
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /prebuilt, no npm/);
    assert.equal(stubCalls(), '', 'npm, node-gyp or a compiler was called');
    for (const f of [
      'opt/edgegate/release.json',
      'opt/edgegate/dist/cli/main.js',
      'opt/edgegate/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'etc/edgegate/local.json',
      'etc/systemd/system/edgegate.service',
      'usr/local/bin/edgegate',
    ]) {
      assert.ok(existsSync(at(f)), f);
    }
    assert.ok(!existsSync(at('opt/edgegate/node_modules/aedes')), 'bundled dependencies are not installed again');
    assert.equal(
      readFileSync(at('etc/systemd/system/edgegate.service'), 'utf8').replace(/^ExecStart=\S+ /m, 'ExecStart=NODE '),
      readFileSync(join(REPO_ROOT, 'systemd/edgegate.service'), 'utf8').replace(/^ExecStart=\S+ /m, 'ExecStart=NODE '),
    );
    const cli = (...args: string[]): Promise<Run> =>
      run(process.execPath, [at('opt/edgegate/dist/cli/main.js'), ...args], { NODE_CONFIG_DIR: at('etc/edgegate'), EDGEGATE_DATA_DIR: at('var/lib/edgegate') });
    const v = await cli('--version');
    const info = JSON.parse(readFileSync(at('opt/edgegate/release.json'), 'utf8')) as { version: string; commit: string; arch: string };
    assert.equal(v.stdout.trim(), `${info.version}+${info.commit}`);
    assert.equal(info.arch, 'x64');
    const check = await cli('config', 'check');
    assert.equal(check.code, 0, check.stderr);
  });

  it('an unpacked artifact installs itself, and refuses a foreign architecture or Node.js', async () => {
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    assert.equal((await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], {})).code, 0);
    const self = await run('bash', [join(unpacked, 'scripts/install.sh')], withStubs({ DESTDIR: join(work, 'root2') }));
    assert.equal(self.code, 0, self.stderr + self.stdout);
    assert.ok(existsSync(join(work, 'root2/opt/edgegate/dist/cli/main.js')));
    assert.equal(stubCalls(), '');

    const infoFile = join(unpacked, 'release.json');
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(infoFile, JSON.stringify({ ...info, arch: 'arm64', nodeArch: 'arm64' }));
    const arch = await run('bash', [join(unpacked, 'scripts/install.sh')], withStubs());
    assert.equal(arch.code, 1);
    assert.match(arch.stderr, /for linux-arm64, but .* is x64: use edgegate-.*-linux-x64\.tar\.gz/);
    writeFileSync(infoFile, JSON.stringify({ ...info, nodeModuleVersion: '999', nodeMajor: 99 }));
    const abi = await run('bash', [join(unpacked, 'scripts/install.sh')], withStubs());
    assert.equal(abi.code, 1);
    assert.match(abi.stderr, /built for Node\.js 99 \(NODE_MODULE_VERSION 999\)/);
    assert.ok(existsSync(at('opt/edgegate/dist/cli/main.js')) && !existsSync(at('opt/edgegate.new')), 'a refused artifact leaves the installation alone');
  });

  it('uninstall --purge removes it', async () => {
    const r = await run('bash', [join(REPO_ROOT, 'scripts/uninstall.sh'), '--purge'], { DESTDIR: root });
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['opt/edgegate', 'etc/edgegate', 'var/lib/edgegate', 'usr/local/bin/edgegate', 'etc/systemd/system/edgegate.service'])
      assert.ok(!existsSync(at(f)), f);
  });
});

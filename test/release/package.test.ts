// The release packaging, checked cheaply and locally: the .deb's unit keeps the hardening of
// systemd/edgegate.service, its maintainer scripts and CLI wrapper are valid sh, its default
// local.json is install.sh's; and, when `npm run release` has left artifacts in release/ for this
// version, their control fields and file lists (dpkg-deb -f/-c, tar -t). The install round trip
// (dpkg -i, the daemon, a token, pub/sub, dpkg --purge) runs in .ci/run
// (scripts/release/ci-install.sh), the ARM artifacts under emulation in scripts/arm-smoke.sh.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../ops/support/childDaemon.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: REPO_ROOT, timeout: 60_000, maxBuffer: 20 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const debVersion = version.replace('-', '~');
const directives = (unit: string): string[] =>
  unit
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

async function debUnit(): Promise<string> {
  const r = await run(process.execPath, [join(REPO_ROOT, 'scripts/release/unit.mjs'), join(REPO_ROOT, 'systemd/edgegate.service')]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('release packaging (sources)', function () {
  this.timeout(30_000);

  it("the .deb's unit is systemd/edgegate.service with only the paths changed", async () => {
    const source = directives(readFileSync(join(REPO_ROOT, 'systemd/edgegate.service'), 'utf8'));
    const deb = directives(await debUnit());
    assert.equal(deb.length, source.length);
    source.forEach((line, i) => {
      if (/^(ExecStart|Documentation)=/.test(line))
        assert.equal(deb[i], line.replaceAll('/opt/edgegate/docs/', '/usr/share/doc/edgegate/').replaceAll('/opt/edgegate/', '/usr/lib/edgegate/'));
      else assert.equal(deb[i], line);
    });
    assert.ok(deb.includes('ExecStart=/usr/bin/node --max-semi-space-size=2 --max-old-space-size=128 /usr/lib/edgegate/dist/cli/main.js run'));
    // The hardening, by name (a lost line would also break the comparison above).
    for (const d of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'DevicePolicy=closed',
      'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      'StateDirectory=edgegate',
      'User=edgegate',
    ]) {
      assert.ok(deb.includes(d), d);
    }
  });

  it('maintainer scripts and the CLI wrapper are valid sh; local.json is the one install.sh writes', async () => {
    for (const f of ['postinst', 'prerm', 'postrm', 'edgegate']) {
      const path = join(REPO_ROOT, 'scripts/deb', f);
      assert.equal((await run('sh', ['-n', path])).code, 0, f);
      assert.ok((statSync(path).mode & 0o111) !== 0, `${f} is executable`);
    }
    const wrapper = readFileSync(join(REPO_ROOT, 'scripts/deb/edgegate'), 'utf8');
    assert.match(wrapper, /NODE_CONFIG_DIR:=\/etc\/edgegate/);
    assert.match(wrapper, /EDGEGATE_DATA_DIR:=\/var\/lib\/edgegate/);
    assert.match(wrapper, /runuser -u edgegate -- \/usr\/bin\/node \/usr\/lib\/edgegate\/dist\/cli\/main\.js/);
    const install = readFileSync(join(REPO_ROOT, 'scripts/install.sh'), 'utf8');
    const heredoc = /cat >"\$CONF\/local\.json" <<'EOF'\n([\s\S]*?)\nEOF/.exec(install);
    assert.ok(heredoc, "install.sh's local.json");
    assert.deepEqual(JSON.parse(readFileSync(join(REPO_ROOT, 'scripts/deb/local.json'), 'utf8')), JSON.parse(heredoc[1]!));
    const postrm = readFileSync(join(REPO_ROOT, 'scripts/deb/postrm'), 'utf8');
    assert.match(postrm, /"\$1" = purge[\s\S]*rm -rf \/var\/lib\/edgegate \/etc\/edgegate/);
    assert.match(postrm, /userdel edgegate/);
  });
});

describe('release artifacts (release/, when built)', function () {
  this.timeout(60_000);
  const deb = (arch: string): string => join(REPO_ROOT, 'release', `edgegate_${debVersion}_${arch}.deb`);
  const tarball = (arch: string): string => join(REPO_ROOT, 'release', `edgegate-${version}-linux-${arch}.tar.gz`);
  const needs = (ctx: Mocha.Context, file: string): void => {
    if (!existsSync(file)) {
      console.log(`    (skipped: no ${file.slice(REPO_ROOT.length)}; npm run release builds it)`);
      ctx.skip();
    }
  };
  let skippedDpkg = false;
  before(async () => {
    skippedDpkg = (await run('sh', ['-c', 'command -v dpkg-deb'])).code !== 0;
  });

  for (const arch of ['amd64', 'arm64', 'armhf']) {
    it(`edgegate_${debVersion}_${arch}.deb: control fields, conffile, maintainer scripts, file list`, async function () {
      needs(this, deb(arch));
      if (skippedDpkg) {
        console.log('    (skipped: dpkg-deb not found)');
        this.skip();
      }
      const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['-f', deb(arch), name])).stdout.trim();
      assert.equal(await field('Package'), 'edgegate');
      assert.equal(await field('Version'), debVersion);
      assert.equal(await field('Architecture'), arch);
      assert.match(await field('Depends'), /^nodejs \(>= 20\.12\)(, nodejs \(<< \d+\))?$/);
      assert.ok((await field('Maintainer')).length > 0);

      const info = await run('dpkg-deb', ['-I', deb(arch)]);
      assert.equal(info.code, 0, info.stderr);
      for (const script of ['postinst', 'prerm', 'postrm']) assert.match(info.stdout, new RegExp(`\\d+ lines\\s+\\*\\s+${script}\\s+#!/bin/sh`), script);
      const conffiles = await run('dpkg-deb', ['-I', deb(arch), 'conffiles']);
      assert.equal(conffiles.stdout.trim(), '/etc/edgegate/local.json');

      const list = await run('dpkg-deb', ['-c', deb(arch)]);
      assert.equal(list.code, 0, list.stderr);
      const entries = list.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const parts = l.split(/\s+/);
          return { mode: parts[0]!, owner: parts[1]!, path: parts.slice(5).join(' ').replace(/^\.\//, '/').replace(/\/$/, '') };
        });
      const byPath = new Map(entries.map((e) => [e.path, e]));
      for (const f of [
        '/usr/bin/edgegate',
        '/lib/systemd/system/edgegate.service',
        '/etc/edgegate/local.json',
        '/usr/lib/edgegate/dist/cli/main.js',
        '/usr/lib/edgegate/dist/page/index.html',
        '/usr/lib/edgegate/config/default.json',
        '/usr/lib/edgegate/release.json',
        '/usr/lib/edgegate/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
        '/usr/lib/edgegate/node_modules/uplot/dist/uPlot.iife.min.js',
        '/usr/share/doc/edgegate/copyright',
        '/usr/share/doc/edgegate/install.md',
      ]) {
        assert.ok(byPath.has(f), f);
      }
      assert.ok(
        entries.every((e) => e.owner === 'root/root'),
        'owned by root',
      );
      assert.equal(byPath.get('/usr/bin/edgegate')!.mode, '-rwxr-xr-x');
      assert.equal(byPath.get('/etc/edgegate/local.json')!.mode, '-rw-r-----');
      const nodeArch = { amd64: 'x64', arm64: 'arm64', armhf: 'arm' }[arch]!;
      const modules = entries
        .filter((e) => e.path.startsWith('/usr/lib/edgegate/node_modules/') && !e.mode.startsWith('d'))
        .map((e) => e.path.slice('/usr/lib/edgegate/node_modules/'.length));
      assert.deepEqual(
        [
          ...new Set(
            modules.map((m) =>
              m
                .split('/')
                .slice(0, m.startsWith('@') ? 2 : 1)
                .join('/'),
            ),
          ),
        ].sort(),
        ['@serialport/bindings-cpp', 'better-sqlite3', 'uplot'],
      );
      const prebuilds = modules.filter((m) => m.includes('/prebuilds/'));
      assert.ok(prebuilds.length > 0 && prebuilds.every((m) => m.includes(`/prebuilds/linux-${nodeArch}/`) && m.endsWith('.glibc.node')), prebuilds.join(', '));
      assert.ok(!entries.some((e) => e.path.startsWith('/opt/') || e.path.startsWith('/usr/local/')), 'nothing in /opt or /usr/local');
      assert.ok(!entries.some((e) => /\/(src|test)\/|package-lock\.json$/.test(e.path.replace('/usr/lib/edgegate/node_modules/', ''))), 'no sources or tests');

      // The unit in the package is the one unit.mjs makes.
      const unit = await run('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb(arch)}' | tar -xOf - ./lib/systemd/system/edgegate.service`]);
      assert.equal(unit.stdout, await debUnit());
    });
  }

  for (const arch of ['x64', 'arm64', 'armv7']) {
    it(`edgegate-${version}-linux-${arch}.tar.gz: release.json and the architecture's addons only`, async function () {
      needs(this, tarball(arch));
      const top = `edgegate-${version}-linux-${arch}`;
      const list = await run('tar', ['-tzf', tarball(arch)]);
      assert.equal(list.code, 0, list.stderr);
      const files = list.stdout.split('\n').filter((f) => f && !f.endsWith('/'));
      assert.ok(files.every((f) => f.startsWith(`${top}/`)));
      const info = JSON.parse((await run('tar', ['-xzOf', tarball(arch), `${top}/release.json`])).stdout) as Record<string, unknown>;
      assert.equal(info.version, version);
      assert.equal(info.arch, arch);
      assert.equal(info.nodeArch, { x64: 'x64', arm64: 'arm64', armv7: 'arm' }[arch]);
      assert.match(String(info.commit), /^[0-9a-f]{7,}(\.dirty)?$/);
      const pkg = JSON.parse((await run('tar', ['-xzOf', tarball(arch), `${top}/package.json`])).stdout) as { version: string };
      assert.equal(pkg.version, `${version}+${String(info.commit)}`, '`edgegate --version` prints version+commit');
      const natives = files.filter((f) => f.endsWith('.node'));
      assert.ok(natives.includes(`${top}/node_modules/better-sqlite3/build/Release/better_sqlite3.node`));
      assert.ok(
        natives.every((f) => f.endsWith('better_sqlite3.node') || f.includes(`/prebuilds/linux-${String(info.nodeArch)}/`)),
        natives.join(', '),
      );
    });
  }
});

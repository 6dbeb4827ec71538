// systemd/edgegate.service: `systemd-analyze verify` clean (any output is a
// failure: it prints "...ignoring" for bad values and still exits 0), the
// directives the service relies on, and the hardening score.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unitNodeFlags } from '../../scripts/bench/lib/nodeFlags.js';
import { haveCommand } from './support/notifyReceiver.js';

const UNIT_TEXT = readFileSync(new URL('../../systemd/edgegate.service', import.meta.url), 'utf8');
const NODE_FLAGS = unitNodeFlags().join(' ');

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Directive → values (in order), over all sections. */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** The unit as verify should see it: ExecStart's interpreter must exist on this machine. */
function unitForThisMachine(text: string): string {
  return existsSync('/usr/bin/node') ? text : text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
}

describe('systemd unit', () => {
  const d = directives(UNIT_TEXT);
  const one = (key: string): string | undefined => d.get(key)?.at(-1);

  it('is Type=notify with a watchdog, restarts on failure, runs as edgegate in dialout', () => {
    assert.equal(one('Type'), 'notify');
    assert.equal(one('NotifyAccess'), 'all', 'systemd-notify is a child process');
    assert.ok(Number(one('WatchdogSec')) > 0);
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('User'), 'edgegate');
    assert.equal(one('SupplementaryGroups'), 'dialout');
    assert.equal(one('ExecStart'), `/usr/bin/node ${NODE_FLAGS} /opt/edgegate/dist/cli/main.js run`);
  });

  it('runs node with memory flags for a 512 MB board, the same as `npm start`, and bounds memory', () => {
    assert.match(NODE_FLAGS, /--max-semi-space-size=\d+/);
    assert.match(NODE_FLAGS, /--max-old-space-size=\d+/);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, `node ${NODE_FLAGS} dist/cli/main.js run`, 'npm start runs the daemon as systemd does');
    const bytes = (v: string | undefined): number => Number(/^(\d+)M$/.exec(v ?? '')?.[1]) * 2 ** 20;
    const heapMiB = Number(/--max-old-space-size=(\d+)/.exec(NODE_FLAGS)![1]);
    assert.ok(bytes(one('MemoryHigh')) < bytes(one('MemoryMax')), 'MemoryHigh= below MemoryMax=');
    assert.ok(heapMiB * 2 ** 20 < bytes(one('MemoryHigh')), 'the V8 heap limit is below MemoryHigh=');
    assert.ok(bytes(one('MemoryMax')) <= 256 * 2 ** 20, 'fits a 512 MB Pi Zero 2 W');
  });

  it('keeps config in /etc/edgegate and state in /var/lib/edgegate, with absolute paths', () => {
    assert.equal(one('StateDirectory'), 'edgegate');
    assert.equal(one('ConfigurationDirectory'), 'edgegate');
    assert.ok(d.get('Environment')!.includes('NODE_CONFIG_DIR=/etc/edgegate'));
    assert.ok(d.get('Environment')!.includes('EDGEGATE_DATA_DIR=/var/lib/edgegate'));
    assert.equal(one('UMask'), '0077');
  });

  it('starts after the network, wants time sync without requiring or waiting for it', () => {
    assert.ok(d.get('After')!.join(' ').split(/\s+/).includes('network-online.target'));
    const wants = d.get('Wants')!.join(' ').split(/\s+/);
    assert.ok(wants.includes('network-online.target') && wants.includes('time-sync.target'));
    assert.ok(!(d.get('Requires') ?? []).join(' ').includes('time-sync.target'));
    assert.ok(!(d.get('After') ?? []).join(' ').includes('time-sync.target'), 'never waits for a sync that may not come');
  });

  it('is hardened, with devices limited to serial ports and no capabilities by default', () => {
    for (const [key, value] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      DevicePolicy: 'closed',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      LockPersonality: 'yes',
      RestrictAddressFamilies: 'AF_UNIX AF_INET AF_INET6 AF_NETLINK',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
    })) {
      assert.equal(one(key), value, key);
    }
    assert.deepEqual(d.get('DeviceAllow'), ['char-ttyUSB rw', 'char-ttyACM rw', 'char-ttyAMA rw', 'char-ttyS rw']);
    assert.ok(d.get('SystemCallFilter')!.includes('@system-service'));
    assert.equal(d.get('MemoryDenyWriteExecute'), undefined, "incompatible with V8's JIT");
    assert.equal(d.get('PrivateDevices'), undefined, 'would hide the serial ports');
    assert.match(UNIT_TEXT, /#\s+AmbientCapabilities=CAP_NET_BIND_SERVICE/, 'the low-port drop-in is documented');
  });

  describe('with systemd-analyze', () => {
    let dir: string;
    before(function () {
      if (!haveCommand('systemd-analyze')) {
        // eslint-disable-next-line no-console
        console.log('      skipped: systemd-analyze not found (apt-get install systemd)');
        this.skip();
      }
      dir = mkdtempSync(join(tmpdir(), 'edgegate-unit-'));
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('verify prints nothing and exits 0', async () => {
      const file = join(dir, 'edgegate.service');
      writeFileSync(file, unitForThisMachine(UNIT_TEXT));
      const { code, out } = await run('systemd-analyze', ['verify', file]);
      assert.equal(out, '', out);
      assert.equal(code, 0);
    });

    it('verify would catch a bad value (so the check above means something)', async () => {
      const file = join(dir, 'edgegate.service');
      writeFileSync(file, unitForThisMachine(UNIT_TEXT).replace(/^WatchdogSec=.*$/m, 'WatchdogSec=sixty'));
      const { out } = await run('systemd-analyze', ['verify', file]);
      assert.match(out, /WatchdogSec|sixty/);
    });

    it('security exposure stays low (systemd-analyze security --offline)', async function () {
      const file = join(dir, 'edgegate.service');
      writeFileSync(file, unitForThisMachine(UNIT_TEXT));
      const { out } = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', file]);
      const m = /Overall exposure level for edgegate\.service: (\d+(?:\.\d+)?)/.exec(out);
      if (!m) {
        // eslint-disable-next-line no-console
        console.log(`      skipped: this systemd-analyze has no --offline security scoring: ${out.split('\n')[0]}`);
        return this.skip();
      }
      assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]}`);
    });
  });
});

// `edgegate status`: the real CLI (child process) against a real daemon's
// /healthz; output and exit codes (0 healthy, 1 unhealthy, 3 unreachable).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatDuration, formatHealth, healthUrlFromConfig, normalizeHealthUrl } from '../../src/cli/status.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connectOk, end } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { cleanEnv, cliArgs, REPO_ROOT } from './support/childDaemon.js';

const SECRET = 'status-cli-secret-0123456789abcdef';

function status(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, cliArgs('status', ...args), { cwd: REPO_ROOT, env: cleanEnv(env), timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('edgegate status', function () {
  this.timeout(60_000);
  let d: TestDaemon;

  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET } }, http: { enabled: true } });
  });
  after(() => d?.stop());

  it('prints the health readably and exits 0 when healthy', async () => {
    const client = await connectOk(d.port, { username: 's', password: await hsToken(SECRET, { sub: 's' }), clientId: 'status-s' });
    try {
      const r = await status(['--url', `127.0.0.1:${d.httpPort}`]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split('\n');
      assert.match(lines[0]!, /^edgegate \d+\.\d+\.\d+: HEALTHY \(pid \d+, up \d+s\)$/);
      assert.ok(lines.includes(`  listeners   tcp 127.0.0.1:${d.port}`), r.stdout);
      assert.ok(lines.includes('  clients     1 connected'), r.stdout);
      assert.ok(
        lines.some((l) => /^ {2}clock {7}synced, offset \+0\.000 s/.test(l)),
        r.stdout,
      );
      assert.ok(
        lines.some((l) => l.startsWith('  bridge      ')),
        r.stdout,
      );
      assert.ok(
        lines.some((l) => l.startsWith('  serial      ')),
        r.stdout,
      );
      assert.ok(
        lines.some((l) => l.startsWith('  storage     persistent true')),
        r.stdout,
      );
      assert.ok(r.stdout.endsWith('\n'), 'the output ends with a newline');
    } finally {
      await end(client);
    }
  });

  it('--json prints the report; without --url the configured http host/port is asked', async () => {
    // A wildcard bind is asked on loopback.
    const r = await status(['--json'], { NODE_CONFIG: JSON.stringify({ http: { host: '0.0.0.0', port: d.httpPort } }) });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { healthy: boolean; listeners: unknown };
    assert.equal(report.healthy, true);
    assert.ok(r.stdout.endsWith('\n'), 'the JSON ends with a newline');
    assert.deepEqual(report.listeners, { tcp: { host: '127.0.0.1', port: d.port } });
  });

  it('exits 1 and says UNHEALTHY when the daemon answers 503', async () => {
    d.daemon.status.register(
      'test-probe',
      () => ({ ok: false }),
      () => false,
    );
    try {
      const r = await status(['--url', `http://127.0.0.1:${d.httpPort}/healthz`]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^edgegate .*: UNHEALTHY \(HTTP 503\)/);
      assert.match(r.stdout, /test-probe {2}ok false/);
      assert.ok(r.stdout.endsWith('\n'));
    } finally {
      d.daemon.status.unregister('test-probe');
    }
  });

  it('exits 3 when nothing listens, when the answer is not a health report, or when http is disabled', async () => {
    const closed = createServer();
    const freePort = await listen(closed);
    await new Promise((r) => closed.close(r));
    const unreachable = await status(['--url', `127.0.0.1:${freePort}`, '--timeout', '2']);
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/healthz: ECONNREFUSED/);

    const other = createServer((_req, res) => res.end('<html>hello</html>'));
    const otherPort = await listen(other);
    try {
      const r = await status(['--url', `127.0.0.1:${otherPort}`]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /not a JSON health report/);
    } finally {
      await new Promise((r) => other.close(r));
    }

    const disabled = await status([], { NODE_CONFIG: JSON.stringify({ http: { enabled: false } }) });
    assert.equal(disabled.code, 3);
    assert.match(disabled.stderr, /health endpoint is disabled/);
  });

  describe('formatting', () => {
    it('builds URLs', () => {
      assert.equal(normalizeHealthUrl('pi.local:9100'), 'http://pi.local:9100/healthz');
      assert.equal(normalizeHealthUrl('http://10.0.0.2:9100/'), 'http://10.0.0.2:9100/healthz');
      assert.equal(normalizeHealthUrl('http://10.0.0.2:9100/custom'), 'http://10.0.0.2:9100/custom');
      assert.throws(() => normalizeHealthUrl('ftp://x/'), /unsupported/);
      assert.equal(healthUrlFromConfig({ enabled: true, host: '::', port: 9100 }), 'http://[::1]:9100/healthz');
      assert.equal(healthUrlFromConfig({ enabled: true, host: '192.168.1.5', port: 80 }), 'http://192.168.1.5:80/healthz');
    });

    it('renders durations and unknown component shapes without crashing', () => {
      assert.equal(formatDuration(59), '59s');
      assert.equal(formatDuration(3725), '1h 2m');
      assert.equal(formatDuration(2 * 86400 + 3600), '2d 1h 0m');
      const text = formatHealth(
        {
          healthy: true,
          version: '1.0.0',
          listeners: { tcp: { host: '0.0.0.0', port: 1883 }, tls: { host: '0.0.0.0', port: 8883 } },
          clientsConnected: 12,
          bridge: { state: 'connected', url: 'mqtts://cloud:8883', connectedSince: '2026-01-01T00:00:00.000Z', queue: { messages: 3, bytes: 120 } },
          serial: {
            ports: [
              { name: 'gps', state: 'open', path: '/dev/ttyUSB0', lines: { published: 10, invalid: 1 } },
              { name: 'odd', open: true },
            ],
          },
          clock: { status: 'skewed', offsetSec: -301.25 },
          weird: [1, null, { a: { b: { c: { d: 1 } } } }],
        },
        200,
      );
      assert.match(text, /^edgegate 1\.0\.0: HEALTHY\n/);
      assert.match(text, /listeners {3}tcp 0\.0\.0\.0:1883, tls 0\.0\.0\.0:8883/);
      assert.match(text, /bridge {6}connected \(mqtts:\/\/cloud:8883\), since 2026-01-01T00:00:00\.000Z, queue 3 messages \(120 bytes\)/);
      assert.match(text, /serial {6}gps: open \/dev\/ttyUSB0, 10 published, 1 invalid\n {14}odd: open true\n/);
      assert.match(formatHealth({ healthy: true, bridge: { enabled: false } }, 200), /bridge {6}disabled/);
      assert.match(text, /clock {7}skewed, offset -301\.250 s/);
      assert.match(text, /weird {7}1; -; a \{b \{"c":\{"d":1\}\}\}/);
    });
  });
});

// Log format: readable lines for a person at a terminal, JSON lines for journald
// and pipes. End to end through a real pseudo-terminal (util-linux `script`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { prettyLine, usePrettyLogs } from '../../src/logPretty.js';
import { cliEnv, REPO_ROOT } from '../cli/support.js';
import { tempDir } from '../helpers/daemon.js';
import { freePort } from '../helpers/mosquitto.js';
import { waitUntil } from '../helpers/wait.js';

describe('log format', () => {
  it('auto: pretty on a terminal, JSON under systemd or when piped', () => {
    assert.equal(usePrettyLogs('auto', { isTTY: true }, {}), true);
    assert.equal(usePrettyLogs('auto', { isTTY: true }, { JOURNAL_STREAM: '8:1234' }), false);
    assert.equal(usePrettyLogs('auto', { isTTY: false }, {}), false);
    assert.equal(usePrettyLogs('json', { isTTY: true }, {}), false);
    assert.equal(usePrettyLogs('pretty', { isTTY: false }, {}), true);
  });

  it('formats time, level, component, message and fields', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time: '2026-12-02T01:02:03.456Z',
        pid: 7,
        name: 'edgegate',
        component: 'bridge',
        url: 'mqtt://x:1883',
        err: 'connect ECONNREFUSED',
        queued: 3,
        msg: 'cannot connect to the cloud',
      }),
      false,
    );
    assert.equal(line, '01:02:03.456 WARN  [bridge] cannot connect to the cloud  url=mqtt://x:1883 err="connect ECONNREFUSED" queued=3\n');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI escape is what is checked
    assert.match(prettyLine('{"level":30,"msg":"x"}', true), /\x1b\[32mINFO/);
    assert.equal(prettyLine('not json', false), 'not json\n');
  });

  it('`edgegate run` in a terminal prints readable lines, and redacts as JSON does', async function () {
    this.timeout(30_000);
    const dataDir = tempDir();
    const port = await freePort();
    const secret = 'log-format-secret-0123456789abcdef';
    const config = { dataDir, listeners: { tcp: { host: '127.0.0.1', port } }, http: { enabled: false }, auth: { jwt: { secret } } };
    const cmd = `exec node --import tsx src/cli/main.ts run`;
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], {
      cwd: REPO_ROOT,
      env: cliEnv({ NODE_CONFIG: JSON.stringify(config), TERM: 'dumb', NO_COLOR: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitUntil(() => out.includes('listening'), { timeoutMs: 20_000, what: 'the listening line' });
      const line = out.split(/\r?\n/).find((l) => l.includes('listening'))!;
      assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[broker\] listening {2}listener=tcp host=127\.0\.0\.1 port=\d+$/);
      assert.ok(!out.includes('{"level"'), 'no JSON lines on a terminal');
      assert.ok(!out.includes(secret), 'the secret never appears');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { closed, connect, connectOk, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { logsWith } from './util.js';

const SECRET = 'offline-revocation-test-secret';
const CLI = ['--import', 'tsx', join(process.cwd(), 'src', 'cli', 'main.ts')];

/** Runs the real CLI against the daemon's data directory. */
function cli(dataDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...CLI, ...args],
      { env: { ...process.env, EDGEGATE_DATA_DIR: dataDir, NODE_CONFIG: JSON.stringify({ auth: { jwt: { secret: SECRET } } }) }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('offline: revocation from the CLI', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  const mint = (sub: string, jti: string) => hsToken(SECRET, { sub, jti, exp: nowSec() + 3600 });

  before(async () => {
    // Real time: this shows the running daemon applying a CLI change within 5 s (poll every 2 s by default).
    d = await startDaemon({ auth: { jwt: { secret: SECRET } } });
  });
  after(() => d.stop());

  it('revoke --jti disconnects the live client holding that token and refuses it from then on', async () => {
    const leaked = await mint('sensor-a', 'jti-leaked');
    const other = await mint('sensor-a', 'jti-other');
    const a = await connectOk(d.port, { clientId: 'a', username: 'sensor-a', password: leaked });
    const b = await connectOk(d.port, { clientId: 'b', username: 'sensor-a', password: other });
    const out = await cli(d.dataDir, 'token', 'revoke', '--jti', 'jti-leaked', '--reason', 'leaked in a log');
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /revoked: jti jti-leaked/);
    await closed(a, 5000);
    const again = await connect(d.port, { clientId: 'a', username: 'sensor-a', password: leaked });
    assert.equal(again.returnCode, 4);
    assert.ok(logsWith(d, 'authentication refused', { clientId: 'a', reason: 'JWT_REVOKED' }).length > 0);
    assert.ok(b.connected, 'a client with another jti of the same subject stays connected');
    await end(b);
    const verify = await cli(d.dataDir, 'token', 'verify', leaked);
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /invalid JWT_REVOKED/);
  });

  it('revoke --sub disconnects every client of the subject and refuses its tokens, new ones too', async () => {
    const c1 = await connectOk(d.port, { clientId: 'c1', username: 'sensor-c', password: await mint('sensor-c', 'c-1') });
    const c2 = await connectOk(d.port, { clientId: 'c2', username: 'sensor-c', password: await mint('sensor-c', 'c-2') });
    const other = await connectOk(d.port, { clientId: 'x', username: 'sensor-x', password: await mint('sensor-x', 'x-1') });
    assert.equal((await cli(d.dataDir, 'token', 'revoke', '--sub', 'sensor-c')).code, 0);
    await Promise.all([closed(c1, 5000), closed(c2, 5000)]);
    const fresh = await connect(d.port, { clientId: 'c3', username: 'sensor-c', password: await mint('sensor-c', 'c-3') });
    assert.equal(fresh.returnCode, 4);
    assert.ok(other.connected);
    await end(other);

    const list = await cli(d.dataDir, 'token', 'revocations');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /jti\tjti-leaked\t.*reason: leaked in a log/);
    assert.match(list.stdout, /sub\tsensor-c\t.*until unrevoked/);
    const json = JSON.parse((await cli(d.dataDir, 'token', 'revocations', '--json')).stdout) as Array<{
      kind: string;
      value: string;
      latestExpSec: number | null;
    }>;
    assert.ok(json.find((r) => r.kind === 'jti' && r.value === 'jti-leaked')!.latestExpSec! > nowSec(), 'the exp of the revoked token was learned');
  });

  it('unrevoke lets the subject back in; bad usage exits non-zero', async () => {
    const applied = logsWith(d, 'revocations applied').length;
    assert.equal((await cli(d.dataDir, 'token', 'unrevoke', '--sub', 'sensor-c')).code, 0);
    await waitUntil(() => logsWith(d, 'revocations applied').length > applied, { what: 'the daemon applied the unrevocation' });
    const back = await connectOk(d.port, { clientId: 'c4', username: 'sensor-c', password: await mint('sensor-c', 'c-4') });
    await end(back);
    const bad = await cli(d.dataDir, 'token', 'revoke');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /exactly one of --jti/);
  });
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { lastAuthCached, logsWith, nowSecOf } from './util.js';

const SECRET = 'offline-cache-test-secret';

describe('offline: verified-token cache', function () {
  this.timeout(30_000);
  let dataDir: string;
  let time: FakeTimeSource;
  let d: TestDaemon | undefined;
  const config = (secret = SECRET) => ({ auth: { jwt: { secret, verifyClaims: { sub: '%u' } }, cache: { negativeTtlSec: 60 } } });
  const mint = (sub: string, extra: Record<string, unknown> = {}, secret = SECRET) =>
    hsToken(secret, { sub, jti: `jti-${sub}-${Math.random()}`, iat: nowSecOf(time.systemNow()), exp: nowSecOf(time.systemNow()) + 3600, ...extra });
  const tokens: string[] = [];

  before(() => {
    dataDir = tempDir();
    time = new FakeTimeSource(Date.now());
  });
  after(async () => {
    await d?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('survives a restart: the first connect after it is answered from the persisted cache', async () => {
    d = await startDaemon(config(), { timeSource: time, dataDir });
    for (let i = 0; i < 5; i++) tokens.push(await mint(`s${i}`));
    for (let i = 0; i < 5; i++) {
      const out = await connect(d.port, { clientId: `c${i}`, username: `s${i}`, password: tokens[i] });
      assert.equal(out.returnCode, 0);
      assert.equal(lastAuthCached(d, `c${i}`), false);
      await end(out.client);
    }
    await d.stop();
    d = await startDaemon(config(), { timeSource: time, dataDir });
    assert.equal(logsWith(d, 'loaded the persisted token cache')[0]?.entries, 5);
    const out = await connect(d.port, { clientId: 'c0', username: 's0', password: tokens[0] });
    assert.equal(out.returnCode, 0);
    assert.equal(lastAuthCached(d, 'c0'), true);
    await end(out.client);
  });

  it('a hit still checks verifyClaims against this connection and exp against the gateway clock', async () => {
    const mismatch = await connect(d!.port, { clientId: 'c1', username: 'someone-else', password: tokens[1] });
    assert.equal(mismatch.returnCode, 4);
    assert.ok(logsWith(d!, 'authentication refused', { clientId: 'c1', reason: 'JWT_CLAIM_MISMATCH' }).length > 0);

    const short = await mint('short', { exp: nowSecOf(time.systemNow()) + 60 });
    const first = await connect(d!.port, { clientId: 'cs', username: 'short', password: short });
    assert.equal(first.returnCode, 0);
    await end(first.client);
    time.advance(120_000); // exp + 30 s tolerance has passed
    const again = await connect(d!.port, { clientId: 'cs', username: 'short', password: short });
    assert.equal(again.returnCode, 4);
    assert.ok(logsWith(d!, 'authentication refused', { clientId: 'cs', reason: 'JWT_EXPIRED' }).length > 0);
  });

  it('remembers a bad signature for negativeTtlSec', async () => {
    const forged = await mint('s9', {}, 'wrong-secret');
    for (let i = 0; i < 2; i++) assert.equal((await connect(d!.port, { clientId: 'cf', username: 's9', password: forged })).returnCode, 4);
    const refusals = logsWith(d!, 'authentication refused', { clientId: 'cf', reason: 'JWT_SIGNATURE' });
    assert.equal(refusals.length, 2);
    assert.doesNotMatch(String(refusals[0]!.detail), /remembered/);
    assert.match(String(refusals[1]!.detail), /remembered/);
    time.advance(61_000);
    assert.equal((await connect(d!.port, { clientId: 'cf', username: 's9', password: forged })).returnCode, 4);
    assert.doesNotMatch(String(logsWith(d!, 'authentication refused', { clientId: 'cf' })[2]!.detail), /remembered/);
  });

  it('never writes a raw token (or any of its three parts) to the database file or its WAL', async () => {
    time.advance(2000); // let the batched write happen
    const files = ['edgegate.db', 'edgegate.db-wal'].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
    const check = (label: string) => {
      const bytes = files.map((f) => (existsSync(f) ? readFileSync(f).toString('latin1') : '')).join('\n');
      assert.ok(bytes.length > 0);
      for (const t of tokens) {
        assert.ok(!bytes.includes(t), `${label}: raw token found`);
        for (const part of t.split('.')) assert.ok(!bytes.includes(part), `${label}: token part found`);
      }
    };
    check('running');
    for (const f of files) assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is owner-only`);
    // The cache rows are there, keyed by SHA-256 (proof the check looked at the right place).
    const { tokenHash } = await import('../../src/auth/authenticator.js');
    const all = files.map((f) => readFileSync(f).toString('latin1')).join('');
    assert.ok(all.includes(tokenHash(tokens[0]!)), 'the hash of a cached token is stored');
    await d!.stop();
    check('after shutdown');
    d = undefined;
  });

  it('a key removed from the configuration invalidates its cached entries across a restart', async () => {
    d = await startDaemon(config('a-different-secret'), { timeSource: time, dataDir });
    assert.equal(logsWith(d, 'loaded the persisted token cache').length, 0, 'entries of the removed key are not loaded');
    const out = await connect(d.port, { clientId: 'c2', username: 's2', password: tokens[2] });
    assert.equal(out.returnCode, 4);
    assert.ok(logsWith(d, 'authentication refused', { clientId: 'c2', reason: 'JWT_SIGNATURE' }).length > 0);
  });
});

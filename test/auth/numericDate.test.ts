// exp, nbf and iat must be NumericDates (RFC 7519 section 2): any finite,
// non-negative JSON number of seconds, non-integer values too (as the RFC says and
// EMQX accepts); nothing bounds them above. An exp beyond the last instant a Date
// can hold (8.64e15 ms) means "no expiry", like a token without exp. A future iat
// is refused when maxAgeSec is set. Every refusal has its own reason code, counted
// in edgegate_auth_attempts_total.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MAX_INSTANT_MS } from '../../src/auth/claims.js';
import { acceptedClient, expectAccepted, expectRefused } from '../broker/support/expect.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { end } from '../helpers/mqtt.js';
import { b64url, hsToken } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { lastAuthCached } from '../offline/util.js';

const SECRET = 'numeric-date-secret-0123456789abcdef';
// An hour ahead of the real time, so the gateway clock's time floor (build time, last time seen) never overtakes it.
const NOW = Math.floor(Date.now() / 1000) + 3600;

/** HS256 over a claims set given as JSON text (so 1e400 and the like reach the parser as written). */
function rawClaims(json: string): string {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(json)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

describe('NumericDate claims (real daemon, fixed clock)', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let aged: TestDaemon;
  before(async () => {
    const opts = { timeSource: new FakeTimeSource(NOW * 1000) };
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } }, opts);
    aged = await startDaemon({ auth: { jwt: { secret: SECRET, maxAgeSec: 600, clockToleranceSec: 30 }, rateLimit: { maxFailures: 0 } } }, opts);
  });
  after(async () => {
    await d.stop();
    await aged.stop();
  });

  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    it(`${claim}: 1e400 (Infinity), -1e400, negative, a string, null, an array, a boolean: JWT_TIME_INVALID`, async () => {
      for (const v of ['1e400', '-1e400', '-1', '-0.5', '"1700000000"', 'null', '[1]', 'true', '{}']) {
        await expectRefused(d, rawClaims(`{"sub":"s","${claim}":${v}}`), 'JWT_TIME_INVALID');
      }
    });
  }

  it('exp: any finite non-negative number far ahead is a date that never comes (1e308, 15822553606420000, past year 9999)', async () => {
    for (const v of ['1e308', '15822553606420000', '253402300800', '8639999999971', '1.7976931348623157e308']) {
      await expectAccepted(d, rawClaims(`{"sub":"s","exp":${v}}`));
    }
  });

  it('nbf and iat far ahead are compared as written: nbf 1e308 is not yet valid, iat 1e308 with maxAgeSec is issued in the future', async () => {
    await expectRefused(d, rawClaims('{"sub":"s","nbf":1e308}'), 'JWT_NOT_YET_VALID');
    await expectRefused(aged, rawClaims('{"sub":"s","iat":1e308}'), 'JWT_ISSUED_IN_FUTURE');
    await expectAccepted(d, rawClaims('{"sub":"s","iat":1e308}'), { clientId: 'iat-ignored' });
    await expectAccepted(d, rawClaims('{"sub":"s","nbf":0,"iat":0}'), { clientId: 'zero-dates' });
  });

  it('the boundary: exp + tolerance at the last instant a Date holds is a deadline; one second past it is "never"', async () => {
    const lastSec = MAX_INSTANT_MS / 1000 - 30;
    for (const [exp, expected] of [
      [lastSec, MAX_INSTANT_MS],
      [lastSec + 1, null],
      [1e308, null],
    ] as const) {
      const clientId = `boundary-${exp}`;
      const c = await acceptedClient(d, rawClaims(`{"sub":"s","exp":${exp}}`), { clientId });
      const view = d.daemon.broker!.clientViews().find((v) => v.clientId === clientId);
      assert.equal(view?.expiresAtMs, expected);
      await end(c);
    }
  });

  it('a client connected with exp 1e308 stays connected while the clock runs on (no timer overflow)', async () => {
    const time = new FakeTimeSource(NOW * 1000);
    const own = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } }, { timeSource: time });
    try {
      const c = await acceptedClient(own, rawClaims('{"sub":"s","exp":1e308}'), { clientId: 'forever' });
      const e = await acceptedClient(own, rawClaims(`{"sub":"s","exp":${NOW + 60}}`), { clientId: 'expires-soon' });
      const closed = new Promise<void>((resolve) => e.once('close', () => resolve()));
      time.advance(91_000);
      await closed;
      // Ten years on (wall clock stepped, then the 15 s expiry sweep runs): "never" is never due.
      time.setSystemTime(time.systemNow() + 10 * 365 * 86_400_000);
      time.advance(20_000);
      assert.ok(c.connected, 'the never-expiring client is still connected');
      await new Promise<void>((resolve, reject) => c.publish('still/here', 'x', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      await end(c);
    } finally {
      await own.stop();
    }
  });

  it('fractional NumericDates are accepted (RFC 7519: "non-integer values can be represented")', async () => {
    await expectAccepted(d, await hsToken(SECRET, { sub: 's', exp: NOW + 60.5, nbf: NOW - 0.25, iat: NOW - 1.75 }));
    await expectAccepted(aged, await hsToken(SECRET, { sub: 's', exp: NOW + 60.5, iat: NOW - 0.5 }));
    // ... and compared exactly: 30 s tolerance, exp 30.5 s ago is expired, 29.5 s ago is not.
    await expectRefused(d, await hsToken(SECRET, { sub: 's', exp: NOW - 30.5 }), 'JWT_EXPIRED');
    await expectAccepted(d, await hsToken(SECRET, { sub: 's', exp: NOW - 29.5 }));
  });

  it('a future iat beyond the clock tolerance is refused when maxAgeSec is set (JWT_ISSUED_IN_FUTURE), ignored otherwise', async () => {
    await expectAccepted(aged, await hsToken(SECRET, { sub: 's', iat: NOW + 30 }));
    await expectRefused(aged, await hsToken(SECRET, { sub: 's', iat: NOW + 31 }), 'JWT_ISSUED_IN_FUTURE');
    await expectRefused(aged, await hsToken(SECRET, { sub: 's', iat: NOW + 86_400 * 365 }), 'JWT_ISSUED_IN_FUTURE');
    await expectAccepted(d, await hsToken(SECRET, { sub: 's', iat: NOW + 86_400 }), { clientId: 'no-max-age' });
  });

  it('each refusal is counted under its own reason', async () => {
    const m = await d.daemon.metrics.authAttempts.get();
    const count = (reason: string): number => m.values.find((v) => v.labels.result === 'refused' && v.labels.reason === reason)?.value ?? 0;
    assert.ok(count('JWT_TIME_INVALID') >= 27, `JWT_TIME_INVALID ${count('JWT_TIME_INVALID')}`);
    const a = await aged.daemon.metrics.authAttempts.get();
    assert.equal(a.values.find((v) => v.labels.reason === 'JWT_ISSUED_IN_FUTURE')?.value, 3);
  });
});

describe('a never-expiring exp in the verified-token cache', function () {
  this.timeout(30_000);
  it('is stored without an expiry (exp_sec NULL), kept by the sweep and answered from the cache after a restart', async () => {
    const time = new FakeTimeSource(NOW * 1000);
    const dataDir = tempDir();
    const cfg = { auth: { jwt: { secret: SECRET } } };
    let d = await startDaemon(cfg, { timeSource: time, dataDir, keepDataDir: true });
    const token = rawClaims('{"sub":"s","jti":"never-1","exp":15822553606420000}');
    try {
      await expectAccepted(d, token, { clientId: 'never-cached' });
      time.advance(11 * 60_000); // the cache's batched write and its 10-minute expiry sweep
      // The write lands with the next group commit, a turn or more after the timer fired.
      const rows = (): Array<{ exp_sec: number | null }> => {
        const db = new Database(join(dataDir, 'edgegate.db'), { readonly: true });
        try {
          return db.prepare('SELECT exp_sec FROM auth_token_cache').all() as Array<{ exp_sec: number | null }>;
        } finally {
          db.close();
        }
      };
      await waitUntil(() => rows().length > 0, { what: 'the cached token is written' });
      assert.deepEqual(rows(), [{ exp_sec: null }]);
      await d.stop();
      d = await startDaemon(cfg, { timeSource: time, dataDir, keepDataDir: true });
      await expectAccepted(d, token, { clientId: 'never-again' });
      assert.equal(lastAuthCached(d, 'never-again'), true);
    } finally {
      await d.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

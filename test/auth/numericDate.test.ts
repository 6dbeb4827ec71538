// exp, nbf and iat must be NumericDates (RFC 7519 section 2): finite JSON numbers
// of seconds between 1970 and the end of year 9999; non-integer values are allowed
// (as the RFC says and EMQX accepts). A future iat is refused when maxAgeSec is set.
// Every refusal has its own reason code, counted in edgegate_auth_attempts_total.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { MAX_NUMERIC_DATE } from '../../src/auth/claims.js';
import { FakeTimeSource } from '../../src/clock/fakeTimeSource.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { b64url, hsToken } from '../helpers/tokens.js';
import { expectAccepted, expectRefused } from '../broker/support/expect.js';

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
    it(`${claim}: 1e308, 1e400 (Infinity), past 9999, negative, a string, null, an array: JWT_TIME_INVALID`, async () => {
      for (const v of ['1e308', '1e400', '-1e400', String(MAX_NUMERIC_DATE + 1), '-1', '"1700000000"', 'null', '[1]', 'true']) {
        await expectRefused(d, rawClaims(`{"sub":"s","${claim}":${v}}`), 'JWT_TIME_INVALID');
      }
    });
  }

  it('the last second of year 9999 is still a date: exp = 253402300799 is accepted', async () => {
    await expectAccepted(d, rawClaims(`{"sub":"s","exp":${MAX_NUMERIC_DATE}}`));
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
    assert.equal(a.values.find((v) => v.labels.reason === 'JWT_ISSUED_IN_FUTURE')?.value, 2);
  });
});

// Where the token is (auth.jwt.from), time claims against clockToleranceSec and
// maxAgeSec, maxTokenBytes, verifyClaims with %u, %c and literals: every row of
// the auth.jwt config table through a real mqtt.js connection. The gateway
// clock runs on a FakeTimeSource so boundaries are exact.
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { b64url, hsToken } from '../helpers/tokens.js';
import { expectAccepted, expectRefused, uniqueId } from './support/expect.js';

const SECRET = 'claims-test-secret-0123456789abcdef';
const NOW_SEC = Math.floor(Date.now() / 1000) + 3600;

// Rate limiting is off here: this suite's many deliberate refusals all come from
// 127.0.0.1 and would otherwise get it banned (rate limiting has its own tests).
describe('token location and claims over TCP', () => {
  const daemons: TestDaemon[] = [];
  const start = async (jwt: Record<string, unknown>): Promise<TestDaemon> => {
    const d = await startDaemon(
      { auth: { jwt: { secret: SECRET, ...jwt }, rateLimit: { maxFailures: 0 } } },
      { timeSource: new FakeTimeSource(NOW_SEC * 1000) },
    );
    daemons.push(d);
    return d;
  };
  const token = (payload: Record<string, unknown>, alg = 'HS256'): Promise<string> => hsToken(SECRET, { sub: 's', ...payload }, alg);
  after(() => Promise.all(daemons.map((d) => d.stop())));

  describe('auth.jwt.from', () => {
    it('password (default): token in the password, any username', async () => {
      const d = await start({});
      const t = await token({});
      await expectAccepted(d, t, { username: 'whoever' });
      await expectRefused(d, undefined, 'JWT_MISSING');
      await expectRefused(d, undefined, 'JWT_MISSING', { username: t });
    });
    it('username: token in the username, password ignored', async () => {
      const d = await start({ from: 'username' });
      const t = await token({});
      await expectAccepted(d, 'x', { username: t });
      await expectAccepted(d, 'unrelated', { username: t, password: undefined });
      await expectRefused(d, t, 'JWT_MISSING', { username: '' });
      await expectRefused(d, 'x', 'JWT_MALFORMED', { username: 'not-a-token' });
    });
  });

  describe('malformed tokens (JWT_MALFORMED)', () => {
    let d: TestDaemon;
    before(async () => (d = await start({})));
    it('refuses text that is not a JWS', async () => {
      await expectRefused(d, 'hello', 'JWT_MALFORMED');
      await expectRefused(d, 'a.b', 'JWT_MALFORMED');
      await expectRefused(d, 'a.b.c.d', 'JWT_MALFORMED');
      await expectRefused(d, 'a b.c.d', 'JWT_MALFORMED');
    });
    it('refuses a header that is not JSON', async () => expectRefused(d, `${b64url('{nope')}.${b64url('{}')}.abc`, 'JWT_MALFORMED'));
    it('refuses a validly signed claims set that is not a JSON object', async () => {
      const { createHmac } = await import('node:crypto');
      for (const body of ['[1,2]', '"text"', 'not json']) {
        const input = `${b64url(JSON.stringify({ alg: 'HS256' }))}.${b64url(body)}`;
        await expectRefused(d, `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`, 'JWT_MALFORMED');
      }
    });
    it('refuses a non-numeric exp (JWT_TIME_INVALID)', async () => expectRefused(d, await token({ exp: 'tomorrow' }), 'JWT_TIME_INVALID'));
    it('refuses a crit header it does not understand', async () => {
      const { createHmac } = await import('node:crypto');
      const input = `${b64url(JSON.stringify({ alg: 'HS256', crit: ['x'], x: 1 }))}.${b64url('{}')}`;
      await expectRefused(d, `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`, 'JWT_MALFORMED');
    });
  });

  describe('exp and nbf with clockToleranceSec (default 30)', () => {
    let d: TestDaemon;
    before(async () => (d = await start({})));
    it('accepts a token expired 29 s ago (inside the tolerance)', async () => expectAccepted(d, await token({ exp: NOW_SEC - 29 })));
    it('refuses a token expired 30 s ago and 1 day ago (JWT_EXPIRED)', async () => {
      await expectRefused(d, await token({ exp: NOW_SEC - 30 }), 'JWT_EXPIRED');
      await expectRefused(d, await token({ exp: NOW_SEC - 86_400 }), 'JWT_EXPIRED');
    });
    it('accepts a token valid from 30 s ahead (nbf inside the tolerance)', async () => expectAccepted(d, await token({ nbf: NOW_SEC + 30 })));
    it('refuses a token valid from 31 s ahead (JWT_NOT_YET_VALID)', async () => expectRefused(d, await token({ nbf: NOW_SEC + 31 }), 'JWT_NOT_YET_VALID'));
    it('accepts a token without exp (as EMQX does)', async () => expectAccepted(d, await token({})));
  });

  describe('clockToleranceSec = 0', () => {
    it('refuses exp = now - 1 and nbf = now + 1; accepts exp = now + 1', async () => {
      const d = await start({ clockToleranceSec: 0 });
      await expectRefused(d, await token({ exp: NOW_SEC - 1 }), 'JWT_EXPIRED');
      await expectRefused(d, await token({ exp: NOW_SEC }), 'JWT_EXPIRED');
      await expectRefused(d, await token({ nbf: NOW_SEC + 1 }), 'JWT_NOT_YET_VALID');
      await expectAccepted(d, await token({ exp: NOW_SEC + 1, nbf: NOW_SEC }));
    });
  });

  describe('maxAgeSec', () => {
    let d: TestDaemon;
    before(async () => (d = await start({ maxAgeSec: 60, clockToleranceSec: 0 })));
    it('accepts iat 60 s ago', async () => expectAccepted(d, await token({ iat: NOW_SEC - 60 })));
    it('refuses iat 61 s ago (JWT_TOO_OLD)', async () => expectRefused(d, await token({ iat: NOW_SEC - 61 }), 'JWT_TOO_OLD'));
    it('refuses a token without iat when maxAgeSec is set', async () => expectRefused(d, await token({}), 'JWT_TOO_OLD'));
    it('maxAgeSec = 0 (default) ignores iat', async () => expectAccepted(daemons[0]!, await token({ iat: NOW_SEC - 10 * 365 * 86_400 })));
  });

  describe('maxTokenBytes', () => {
    it('refuses a longer token without parsing it (JWT_TOO_LARGE); accepts one that fits', async () => {
      const d = await start({ maxTokenBytes: 400 });
      const small = await token({ pad: 'x'.repeat(100) });
      const big = await token({ pad: 'x'.repeat(400) });
      assert.ok(small.length <= 400 && big.length > 400);
      await expectAccepted(d, small);
      await expectRefused(d, big, 'JWT_TOO_LARGE');
      // Also when the token is in the username.
      const du = await start({ maxTokenBytes: 400, from: 'username' });
      await expectRefused(du, 'x', 'JWT_TOO_LARGE', { username: big });
    });
  });

  describe('verifyClaims', () => {
    let d: TestDaemon;
    before(async () => (d = await start({ verifyClaims: { sub: '%u', cid: '%c', site: 'plant-7' } })));
    const connectWith = async (payload: Record<string, unknown>, username: string, clientId: string): Promise<number> => {
      const out = await connect(d.port, { username, clientId, password: await token(payload) });
      await end(out.client);
      return out.returnCode;
    };
    it('accepts when sub = username, cid = client id and site = the literal', async () => {
      assert.equal(await connectWith({ sub: 'dev-1', cid: 'client-1', site: 'plant-7' }, 'dev-1', 'client-1'), 0);
    });
    it('refuses each mismatch with JWT_CLAIM_MISMATCH', async () => {
      await expectRefused(d, await token({ sub: 'dev-1', cid: 'c', site: 'plant-7' }), 'JWT_CLAIM_MISMATCH', { username: 'dev-2', clientId: 'c' });
      const id = uniqueId();
      await expectRefused(d, await token({ sub: 'dev-1', cid: 'other', site: 'plant-7' }), 'JWT_CLAIM_MISMATCH', { username: 'dev-1', clientId: id });
      assert.equal(await connectWith({ sub: 'dev-1', cid: 'c9', site: 'plant-8' }, 'dev-1', 'c9'), 4);
    });
    it('refuses a missing claim', async () => {
      assert.equal(await connectWith({ sub: 'dev-1', cid: 'c9' }, 'dev-1', 'c9'), 4);
    });
    it('an array claim must contain the expected value', async () => {
      assert.equal(await connectWith({ sub: 'dev-1', cid: ['a', 'c9', 'b'], site: ['x', 'plant-7'] }, 'dev-1', 'c9'), 0);
      assert.equal(await connectWith({ sub: 'dev-1', cid: ['a', 'b'], site: 'plant-7' }, 'dev-1', 'c9'), 4);
    });
    it('%u never matches when the username is empty', async () => {
      assert.equal(await connectWith({ sub: '', cid: 'c9', site: 'plant-7' }, '', 'c9'), 4);
    });
    it('numbers compare by their text', async () => {
      const dn = await start({ verifyClaims: { tenant: '42' } });
      const out = await connect(dn.port, { username: 'u', password: await token({ tenant: 42 }) });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    });
  });
});

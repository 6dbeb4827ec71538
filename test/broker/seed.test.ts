import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { hs256WithNodeCrypto } from '../helpers/tokens.js';

// The token from EMQX's JWT documentation, signed with "emqxsecret". Its exp,
// 15822553606420000, is no NumericDate (year ~500 million; RFC 7519 section 2,
// issue 11): it is refused as JWT_TIME_INVALID. SEED_TOKEN is the same header and
// claims, signed the same way, with a NumericDate exp (2100-01-01).
export const EMQX_DOC_TOKEN =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJkYXRhIjp7ImF1dGhvciI6IndpdndpdiIsInNpdGUiOiJodHRwczovL3dpdndpdi5jb20ifSwiZXhwIjoxNTgyMjU1MzYwNjQyMDAwMCwiaWF0IjoxNTgyMjU1MzYwfQ.FdyAx2fYahm6h3g47m88ttyINzptzKy_speimyUcma4';
export const SEED_TOKEN = hs256WithNodeCrypto(
  'emqxsecret',
  { data: { author: 'wivwiv', site: 'https://wivwiv.com' }, exp: 4_102_444_800, iat: 1582255360 },
  { alg: 'HS256', typ: 'JWT' },
);

describe('seed compatibility (EMQX documentation token)', () => {
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: 'emqxsecret', from: 'password' } } });
  });
  after(() => d.stop());

  for (const username of ['anyone', 'sensor-17', '']) {
    it(`connects with username ${String(username)}`, async () => {
      const out = await connect(d.port, { username, password: SEED_TOKEN, clientId: `seed-${username || 'empty'}` });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    });
  }

  it('the documentation token itself: its exp is past year 9999, refused as JWT_TIME_INVALID (CONNACK 4)', async () => {
    assert.equal(JSON.parse(Buffer.from(EMQX_DOC_TOKEN.split('.')[1]!, 'base64url').toString()).exp, 15822553606420000);
    const out = await connect(d.port, { username: 'u', password: EMQX_DOC_TOKEN, clientId: 'seed-doc' });
    assert.equal(out.returnCode, 4);
    assert.ok(d.logs.some((l) => l.clientId === 'seed-doc' && l.reason === 'JWT_TIME_INVALID'));
  });

  it('refuses the same token with another secret (CONNACK 4)', async () => {
    const other = await startDaemon({ auth: { jwt: { secret: 'not-emqxsecret' } } });
    try {
      const out = await connect(other.port, { username: 'u', password: SEED_TOKEN });
      assert.equal(out.returnCode, 4);
      assert.ok(!other.logText().includes(SEED_TOKEN), 'token must never be logged');
      assert.ok(other.logs.some((l) => l.reason === 'JWT_SIGNATURE'));
    } finally {
      await other.stop();
    }
  });
});

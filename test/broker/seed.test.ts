import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';

// The token from EMQX's JWT documentation, signed with "emqxsecret".
export const SEED_TOKEN =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJkYXRhIjp7ImF1dGhvciI6IndpdndpdiIsInNpdGUiOiJodHRwczovL3dpdndpdi5jb20ifSwiZXhwIjoxNTgyMjU1MzYwNjQyMDAwMCwiaWF0IjoxNTgyMjU1MzYwfQ.FdyAx2fYahm6h3g47m88ttyINzptzKy_speimyUcma4';

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

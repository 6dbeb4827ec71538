// Log lines carry the reason code, client id and address, and never the token
// or the secret, whether the token is in the password or the username, accepted
// or refused, at debug level.
import assert from 'node:assert/strict';
import { startDaemon } from '../helpers/daemon.js';
import { connect, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';

const SECRET = 'logging-test-secret-0123456789abcdef';

describe('log lines', () => {
  for (const from of ['password', 'username'] as const) {
    it(`never contain the token or the secret (token in the ${from})`, async () => {
      const d = await startDaemon({ auth: { jwt: { secret: SECRET, from } } });
      try {
        const good = await hsToken(SECRET, { sub: 'log-test', exp: nowSec() + 600, acl: { pub: ['ok/#'], sub: ['ok/#'] } });
        const bad = await hsToken('wrong-secret-xyz', { sub: 'log-test' });
        const expired = await hsToken(SECRET, { sub: 'log-test', exp: nowSec() - 3600 });
        const as = (token: string, clientId: string) =>
          from === 'password' ? { username: 'u', password: token, clientId } : { username: token, password: 'p', clientId };
        const ok = await connect(d.port, as(good, 'log-ok'));
        assert.equal(ok.returnCode, 0);
        await publish(ok.client!, 'denied/topic', 'x', { qos: 1 });
        assert.deepEqual(await subscribe(ok.client!, 'denied/#'), [128]);
        await end(ok.client);
        for (const [token, clientId, reason] of [
          [bad, 'log-bad', 'JWT_SIGNATURE'],
          [expired, 'log-expired', 'JWT_EXPIRED'],
        ] as const) {
          const out = await connect(d.port, as(token, clientId));
          assert.equal(out.returnCode, 4);
          const line = d.logs.find((l) => l.clientId === clientId && l.msg === 'authentication refused');
          assert.ok(line, `refusal of ${clientId} logged`);
          assert.equal(line.reason, reason);
          assert.equal(line.address, '127.0.0.1');
          assert.equal(line.level, 40, 'warn');
        }
        const text = d.logText();
        for (const s of [good, bad, expired, SECRET]) assert.ok(!text.includes(s), 'log must not contain a token or the secret');
        // Not even the signature part of a token.
        for (const t of [good, bad]) assert.ok(!text.includes(t.split('.')[2]!));
        assert.ok(d.logs.some((l) => l.msg === 'publish denied by ACL' && l.clientId === 'log-ok' && l.topic === 'denied/topic'));
      } finally {
        await d.stop();
      }
    });
  }
});

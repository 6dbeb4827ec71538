// The seed's promise, byte for byte: EMQX's JWT page says that with
// `auth.jwt.secret = emqxsecret` "you can connect with the following password and
// any username". Its token's exp, 15822553606420000, is a NumericDate (RFC 7519
// section 2 sets no upper bound; EMQX compares exp as a plain number) beyond
// any Date: a token that never expires. Checked with the Mosquitto clients (an
// independent MQTT implementation), in the password and, under
// `from: username`, in the user name.
import assert from 'node:assert/strict';
import { runCli } from '../cli/support.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { httpRequest } from '../ops/support/pageClient.js';
import { mosquittoPub, mosquittoSub } from './support/mosquitto.js';
import { EMQX_DOC_TOKEN, SEED_TOKEN } from './support/seedTokens.js';

describe('seed compatibility (EMQX documentation token)', () => {
  let d: TestDaemon;
  let byUsername: TestDaemon;
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: 'emqxsecret', from: 'password' } } });
    byUsername = await startDaemon({ auth: { jwt: { secret: 'emqxsecret', from: 'username' } } });
  });
  after(async () => {
    await d.stop();
    await byUsername.stop();
  });

  for (const username of ['anyone', 'sensor-17', '']) {
    it(`connects with username ${String(username)}`, async () => {
      const out = await connect(d.port, { username, password: SEED_TOKEN, clientId: `seed-${username || 'empty'}` });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    });
  }

  it('the documentation token itself, byte for byte: exp 15822553606420000 is read as a date and means "never expires"', () => {
    assert.equal(JSON.parse(Buffer.from(EMQX_DOC_TOKEN.split('.')[1]!, 'base64url').toString()).exp, 15822553606420000);
  });

  for (const username of ['anyone', 'sensor-17']) {
    it(`mosquitto_pub/sub: the documentation token as the password, any username (${username})`, async () => {
      const pub = await mosquittoPub(d.port, {
        username,
        password: EMQX_DOC_TOKEN,
        clientId: `doc-pub-${username}`,
        topic: `seed/${username}`,
        message: 'hello',
        qos: 1,
        extra: ['-r'],
      });
      assert.equal(pub.code, 0, pub.stderr);
      const sub = await mosquittoSub(d.port, {
        username,
        password: EMQX_DOC_TOKEN,
        clientId: `doc-sub-${username}`,
        topic: `seed/${username}`,
        count: 1,
        waitSec: 3,
      });
      assert.equal(sub.code, 0, sub.stderr);
      assert.equal(sub.stdout.trim(), `seed/${username} hello`);
    });
  }

  it('mosquitto_pub: the documentation token as the user name under auth.jwt.from = username', async () => {
    const pub = await mosquittoPub(byUsername.port, { username: EMQX_DOC_TOKEN, clientId: 'doc-by-username', topic: 'seed/u', message: 'x', qos: 1 });
    assert.equal(pub.code, 0, pub.stderr);
    assert.ok(byUsername.logs.some((l) => l.msg === 'client authenticated' && l.clientId === 'doc-by-username'));
    assert.ok(!byUsername.logText().includes(EMQX_DOC_TOKEN), 'the token must never be logged');
  });

  it('the status page lists the session as never expiring, and `token verify` prints "expires: never"', async () => {
    const page = await startDaemon({ auth: { jwt: { secret: 'emqxsecret' } }, http: { enabled: true } });
    try {
      const out = await connect(page.port, { username: 'u', password: EMQX_DOC_TOKEN, clientId: 'seed-never' });
      assert.equal(out.returnCode, 0);
      const status = (await httpRequest(page.httpPort!, '/api/status')).json<{ sensors: Array<Record<string, unknown>> }>();
      const row = status.sensors.find((r) => r.clientId === 'seed-never');
      assert.ok(row, 'the sensor is listed');
      assert.equal(row.expiresAt, null);
      assert.equal(row.expiresAtMs, null);
      await end(out.client);
      const cli = await runCli(['token', 'verify', EMQX_DOC_TOKEN], {
        EDGEGATE_DATA_DIR: page.dataDir,
        NODE_CONFIG: JSON.stringify({ auth: { jwt: { secret: 'emqxsecret' } } }),
      });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^valid\nexpires: never\n/);
      assert.equal(JSON.parse(cli.stdout.slice(cli.stdout.indexOf('{'))).exp, 15822553606420000);
    } finally {
      await page.stop();
    }
  });

  it('refuses the same token with another secret (CONNACK 4)', async () => {
    const other = await startDaemon({ auth: { jwt: { secret: 'not-emqxsecret' } } });
    try {
      for (const token of [SEED_TOKEN, EMQX_DOC_TOKEN]) {
        const out = await connect(other.port, { username: 'u', password: token });
        assert.equal(out.returnCode, 4);
        assert.ok(!other.logText().includes(token), 'token must never be logged');
      }
      assert.ok(other.logs.some((l) => l.reason === 'JWT_SIGNATURE'));
    } finally {
      await other.stop();
    }
  });
});

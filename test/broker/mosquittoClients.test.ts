// The same contract through an independent MQTT implementation: the Mosquitto
// command-line clients (spawned processes). MQTT 3.1.1 forbids a password
// without a username, so -P always comes with -u.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { hs256WithNodeCrypto, hsToken, nowSec } from '../helpers/tokens.js';
import { keyPair, signWithNodeCrypto, writePublicKey } from './support/keys.js';
import { mosquittoPub, mosquittoSub } from './support/mosquitto.js';

// The claims of EMQX's JWT documentation token, signed with "emqxsecret", with an
// ordinary exp (the documentation token itself, which never expires, is in seed.test.ts).
const SEED_TOKEN = hs256WithNodeCrypto(
  'emqxsecret',
  { data: { author: 'wivwiv', site: 'https://wivwiv.com' }, exp: 4_102_444_800, iat: 1582255360 },
  { alg: 'HS256', typ: 'JWT' },
);
const SECRET = 'mosquitto-test-secret-0123456789';
const REFUSED = /bad user name or password/i;

// Rate limiting is off here: this suite's many deliberate refusals all come from
// 127.0.0.1 and would otherwise get it banned (rate limiting has its own tests).
describe('mosquitto_pub / mosquitto_sub against edgegate', () => {
  let dir: string;
  let d: TestDaemon;
  const ec = keyPair('ec-p256');
  const claims = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ sub: 'm', iat: nowSec(), exp: nowSec() + 600, ...extra });

  before(async () => {
    dir = tempDir('edgegate-mosq-');
    d = await startDaemon({ auth: { jwt: { secret: SECRET, pubkey: writePublicKey(dir, 'ec.pem', ec) }, rateLimit: { maxFailures: 0 } } });
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes with an HS256 token (node:crypto) and mosquitto_sub receives it', async () => {
    const token = hs256WithNodeCrypto(SECRET, claims());
    const pub = await mosquittoPub(d.port, { username: 'u', password: token, topic: 'mosq/hs', message: 'hello', qos: 1, extra: ['-r'] });
    assert.equal(pub.code, 0, pub.stderr);
    const sub = await mosquittoSub(d.port, { username: 'u', password: token, topic: 'mosq/hs', count: 1, waitSec: 3 });
    assert.equal(sub.code, 0, sub.stderr);
    assert.equal(sub.stdout.trim(), 'mosq/hs hello');
  });

  it('connects with an ES256 token signed by node:crypto', async () => {
    const r = await mosquittoPub(d.port, {
      username: 'u',
      password: signWithNodeCrypto('ES256', ec.privateKey, claims()),
      topic: 'mosq/es',
      message: 'x',
      qos: 1,
    });
    assert.equal(r.code, 0, r.stderr);
  });

  it('refuses a wrongly signed, an expired and an alg-none token with "bad user name or password"', async () => {
    for (const password of [
      await hsToken('wrong-secret', claims()),
      await hsToken(SECRET, claims({ exp: nowSec() - 3600 })),
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`,
    ]) {
      const r = await mosquittoPub(d.port, { username: 'u', password, topic: 'mosq/x', message: 'x' });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, REFUSED);
    }
  });

  it('refuses a username without a password (no token)', async () => {
    const r = await mosquittoPub(d.port, { username: 'only-user', topic: 'mosq/x', message: 'x' });
    assert.match(r.stderr, REFUSED);
  });

  it('refuses 64 KiB of garbage as the password', async () => {
    const r = await mosquittoPub(d.port, { username: 'u', password: randomBytes(48_750).toString('base64'), topic: 'mosq/x', message: 'x' });
    assert.match(r.stderr, REFUSED);
  });

  it('ACL: a denied QoS 1 publish is acknowledged (exit 0) and never delivered; a denied subscription is refused', async () => {
    const limited = hs256WithNodeCrypto(SECRET, claims({ acl: { pub: ['mosq/acl/%c/#'], sub: ['mosq/acl/#'] } }));
    const denied = await mosquittoPub(d.port, {
      username: 'u',
      password: limited,
      clientId: 'm1',
      topic: 'mosq/acl/m2/t',
      message: 'spoof',
      qos: 1,
      extra: ['-r'],
    });
    assert.equal(denied.code, 0, 'PUBACK received, no disconnect: ' + denied.stderr);
    const allowed = await mosquittoPub(d.port, {
      username: 'u',
      password: limited,
      clientId: 'm1',
      topic: 'mosq/acl/m1/t',
      message: 'ok',
      qos: 1,
      extra: ['-r'],
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    const sub = await mosquittoSub(d.port, { username: 'u', password: limited, clientId: 'm3', topic: 'mosq/acl/#', count: 2, waitSec: 1 });
    assert.equal(sub.stdout.trim(), 'mosq/acl/m1/t ok', 'only the allowed (retained) message');
    const refused = await mosquittoSub(d.port, { username: 'u', password: limited, topic: 'other/#', waitSec: 2 });
    assert.match(refused.stderr, /subscription requests were denied/i);
    assert.equal(refused.stdout, '');
  });

  describe('seed token and auth.jwt.from = username', () => {
    let s: TestDaemon;
    before(async () => (s = await startDaemon({ auth: { jwt: { secret: 'emqxsecret', from: 'username' } } })));
    after(() => s.stop());
    it('the EMQX documentation token (claims) in the username connects (no -P)', async () => {
      const r = await mosquittoPub(s.port, { username: SEED_TOKEN, topic: 'seed/t', message: 'x', qos: 1 });
      assert.equal(r.code, 0, r.stderr);
    });
    it('with from = username, the token in the password does not count', async () => {
      const r = await mosquittoPub(s.port, { username: 'someone', password: SEED_TOKEN, topic: 'seed/t', message: 'x' });
      assert.match(r.stderr, REFUSED);
    });
  });

  describe('seed token in the password', () => {
    let s: TestDaemon;
    before(async () => (s = await startDaemon({ auth: { jwt: { secret: 'emqxsecret' } } })));
    after(() => s.stop());
    it('connects with any username', async () => {
      for (const username of ['anyone', 'x']) {
        const r = await mosquittoPub(s.port, { username, password: SEED_TOKEN, topic: 'seed/t', message: 'x', qos: 1 });
        assert.equal(r.code, 0, r.stderr);
      }
    });
  });
});

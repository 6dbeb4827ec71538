// MQTT 5 reason codes of the gateway's own decisions during a session (MQTT 5.0
// section 2.4): an ACL denial answers SUBACK 0x87 and PUBACK/PUBREC 0x87 with the
// connection kept (or DISCONNECT 0x87 under aclDenyAction "disconnect"); the
// gateway ending a session says why: 0xA0 at token expiry, 0x87 at revocation,
// 0x8E when the session is taken over. Reason Strings only when asked for
// (Request Problem Information, section 3.1.2.11.7).
import assert from 'node:assert/strict';
import { runCli } from '../cli/support.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connectOk, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { connect5Ok, publish5, serverDisconnect } from './support/mqtt5.js';

const SECRET = 'mqtt5-reason-secret-0123456789abcdef';
const ACL = { pub: ['allowed/#'], sub: ['allowed/#'] };

describe('MQTT 5: reason codes during a session', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  let time: FakeTimeSource;
  const NOW = Math.floor(Date.now() / 1000) + 3600;
  const token = (claims: Record<string, unknown> = {}): Promise<string> => hsToken(SECRET, { sub: 'v5', acl: ACL, exp: NOW + 3600, ...claims });

  before(async () => {
    time = new FakeTimeSource(NOW * 1000);
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } }, { timeSource: time });
  });
  after(() => d.stop());

  it('a subscription the ACL refuses: SUBACK 0x87 (3.1.1 still gets 0x80)', async () => {
    const c = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'sub5' });
    assert.deepEqual(await subscribe(c, ['allowed/a', 'secret/a'], 1), [1, 0x87]);
    c.end(true);
    const old = await connectOk(d.port, { username: 'u', password: await token(), clientId: 'sub4' });
    assert.deepEqual(await subscribe(old, ['allowed/a', 'secret/a'], 1), [1, 0x80]);
    old.end(true);
  });

  it('a QoS 1 or 2 publish the ACL refuses: PUBACK/PUBREC 0x87 with a Reason String, and the connection stays', async () => {
    const c = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'pub5' });
    const watcher = await connect5Ok(d.port, { username: 'u', password: await token({ acl: { sub: ['#'] } }), clientId: 'watch' });
    const got: string[] = [];
    watcher.on('message', (topic) => got.push(topic));
    await subscribe(watcher, '#', 1);
    const q1 = await publish5(c, 'secret/x', 'no', { qos: 1 });
    assert.equal(q1.reasonCode, 0x87);
    assert.match(q1.reasonString ?? '', /ACL/);
    assert.equal((await publish5(c, 'secret/x', 'no', { qos: 2 })).reasonCode, 0x87);
    assert.equal((await publish5(c, 'allowed/x', 'yes', { qos: 1 })).reasonCode, 0, 'still connected and served');
    await waitUntil(() => got.includes('allowed/x'), { what: 'the allowed message' });
    assert.deepEqual(got, ['allowed/x'], 'nothing refused was delivered');
    assert.ok(c.connected);
    c.end(true);
    watcher.end(true);
  });

  it('Request Problem Information = 0: the same PUBACK 0x87 without a Reason String', async () => {
    const c = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'rpi0', properties: { requestProblemInformation: false } });
    const q1 = await publish5(c, 'secret/x', 'no', { qos: 1 });
    assert.equal(q1.reasonCode, 0x87);
    assert.equal(q1.reasonString, undefined);
    c.end(true);
  });

  it('token expiry: DISCONNECT 0xA0 (Maximum connect time) before the close', async () => {
    const c = await connect5Ok(d.port, { username: 'u', password: await token({ exp: NOW + 60 }), clientId: 'expiring5' });
    const code = serverDisconnect(c);
    time.advance(91_000); // exp + 30 s tolerance
    assert.equal(await code, 0xa0);
  });

  it('revocation of a live client: DISCONNECT 0x87 (Not authorized)', async () => {
    const c = await connect5Ok(d.port, { username: 'u', password: await token({ jti: 'leaked-5' }), clientId: 'revoked5' });
    const code = serverDisconnect(c);
    const cli = await runCli(['token', 'revoke', '--jti', 'leaked-5'], { EDGEGATE_DATA_DIR: d.dataDir });
    assert.equal(cli.code, 0, cli.stderr);
    time.advance(2_000); // the revocation watcher's poll
    assert.equal(await code, 0x87);
  });

  it('a second connection with the same client id: the first gets DISCONNECT 0x8E (Session taken over)', async () => {
    const first = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'twin' });
    const code = serverDisconnect(first);
    const second = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'twin' });
    assert.equal(await code, 0x8e);
    second.end(true);
  });
});

describe('MQTT 5: aclDenyAction "disconnect"', function () {
  this.timeout(20_000);
  it('a refused publish ends the session with DISCONNECT 0x87', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET }, aclDenyAction: 'disconnect' } });
    try {
      const c = await connect5Ok(d.port, { username: 'u', password: await hsToken(SECRET, { sub: 'v5', acl: ACL, exp: nowSec() + 600 }), clientId: 'strict' });
      const code = serverDisconnect(c);
      c.publish('secret/x', 'no', { qos: 1 });
      assert.equal(await code, 0x87);
    } finally {
      await d.stop();
    }
  });
});

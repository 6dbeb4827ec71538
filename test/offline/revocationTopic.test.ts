import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { closed, connect, connectOk, end, publish } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { logsWith } from './util.js';

const SECRET = 'offline-revocation-topic-secret';
const TOPIC = 'cloud/revocations'; // a topic local clients may publish on: only the origin protects it

describe('offline: revocations from the revocation topic (delivered by the bridge)', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  const mint = (sub: string, jti: string) => hsToken(SECRET, { sub, jti, exp: nowSec() + 3600, acl: { all: ['#'] } });
  // The bridge delivers cloud messages with publishInternal; that is what the daemon trusts.
  const fromBridge = (payload: string) => d.daemon.broker!.publishInternal({ topic: TOPIC, payload: Buffer.from(payload), qos: 1 }, 'bridge');

  before(async () => {
    d = await startDaemon(
      { auth: { jwt: { secret: SECRET }, revocation: { topic: TOPIC, requireSigned: false } } },
      { timeSource: new FakeTimeSource(Date.now()) },
    );
  });
  after(() => d.stop());

  it('ignores garbage safely', async () => {
    const garbage = ['', 'not json', '[]', 'null', '{}', '{"jti": 5}', '{"jti": "a", "sub": "b"}', JSON.stringify({ jti: 'x'.repeat(5000) }), '\u0000\u00ff'];
    for (const g of garbage) await fromBridge(g);
    assert.equal(logsWith(d, 'ignoring an invalid revocation message').length, garbage.length);
    const ok = await connectOk(d.port, { clientId: 'still-fine', username: 'u', password: await mint('s', 'j') });
    await end(ok);
  });

  it('{"jti"} and {"sub"} revoke at once (live clients disconnected, reconnects refused); {"unrevoke": true} undoes', async () => {
    const a = await connectOk(d.port, { clientId: 'a', username: 'u', password: await mint('sa', 'ja') });
    const b = await connectOk(d.port, { clientId: 'b', username: 'u', password: await mint('sb', 'jb') });
    await fromBridge(JSON.stringify({ jti: 'ja', reason: 'cloud says so' }));
    await fromBridge(JSON.stringify({ sub: 'sb' }));
    await Promise.all([closed(a, 5000), closed(b, 5000)]);
    assert.equal((await connect(d.port, { clientId: 'b2', username: 'u', password: await mint('sb', 'jb2') })).returnCode, 4);
    await fromBridge(JSON.stringify({ sub: 'sb', unrevoke: true }));
    const back = await connectOk(d.port, { clientId: 'b3', username: 'u', password: await mint('sb', 'jb3') });
    await end(back);
  });

  it('a local client publishing on the topic cannot revoke or unrevoke anything', async () => {
    const victim = await connectOk(d.port, { clientId: 'victim', username: 'u', password: await mint('sv', 'jv') });
    const attacker = await connectOk(d.port, { clientId: 'attacker', username: 'u', password: await mint('sx', 'jx') });
    await publish(attacker, TOPIC, JSON.stringify({ sub: 'sv' }), { qos: 1 });
    await publish(attacker, TOPIC, JSON.stringify({ jti: 'ja', unrevoke: true }), { qos: 1 });
    assert.ok(victim.connected);
    assert.equal((await connect(d.port, { clientId: 'a2', username: 'u', password: await mint('sa', 'ja') })).returnCode, 4, 'ja stays revoked');
    await end(victim, attacker);
  });
});

import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { logsWith } from './util.js';

const SECRET = 'offline-rate-limit-secret';

describe('offline: failed-authentication rate limiting', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let time: FakeTimeSource;
  const good = () => hsToken(SECRET, { sub: 's', exp: nowSec() + 3600 });
  const bad = (i: number) => hsToken('not-the-secret', { sub: `s${i}`, exp: nowSec() + 3600 });

  before(async () => {
    time = new FakeTimeSource(Date.now());
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 3, windowSec: 60, banSec: 300 } } }, { timeSource: time });
  });
  after(() => d.stop());

  it('failures spread wider than the window do not ban', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await connect(d.port, { clientId: `w${i}`, username: 'u', password: await bad(i) })).returnCode, 4);
    time.advance(61_000);
    for (let i = 2; i < 4; i++) assert.equal((await connect(d.port, { clientId: `w${i}`, username: 'u', password: await bad(i) })).returnCode, 4);
    const ok = await connect(d.port, { clientId: 'w-ok', username: 'u', password: await good() });
    assert.equal(ok.returnCode, 0);
    await end(ok.client);
    time.advance(61_000);
  });

  it('bans an address after maxFailures within the window, refusing even valid tokens, logged once', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await connect(d.port, { clientId: `b${i}`, username: 'u', password: await bad(i) })).returnCode, 4);
    for (let i = 0; i < 3; i++) {
      const out = await connect(d.port, { clientId: `banned${i}`, username: 'u', password: await good() });
      assert.equal(out.returnCode, 5, 'a banned address gets CONNACK 5 (not authorized), not 4');
      assert.ok(logsWith(d, 'authentication refused', { clientId: `banned${i}`, reason: 'RATE_LIMITED' }).length === 1);
    }
    assert.equal(logsWith(d, 'too many failed authentications: address banned', { address: '127.0.0.1' }).length, 1);
    const m = await d.daemon.metrics.authAttempts.get();
    assert.equal(m.values.find((v) => v.labels.result === 'refused' && v.labels.reason === 'RATE_LIMITED')?.value, 3, 'counted under its own reason');
    assert.equal(logsWith(d, 'client authenticated').filter((l) => String(l.clientId).startsWith('banned')).length, 0);
  });

  it('lifts the ban after banSec', async () => {
    time.advance(299_000);
    assert.equal((await connect(d.port, { clientId: 'still', username: 'u', password: await good() })).returnCode, 5);
    time.advance(2_000);
    const out = await connect(d.port, { clientId: 'lifted', username: 'u', password: await good() });
    assert.equal(out.returnCode, 0);
    await end(out.client);
    assert.equal(logsWith(d, 'rate-limit ban lifted').length, 1);
  });
});

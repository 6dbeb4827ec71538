import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { JwksServer, makeKey, signWith } from './jwksServer.js';
import { logsWith, nowSecOf } from './util.js';

const SECRET = 'offline-clock-secret';
const DAY = 86_400_000;

describe('offline: gateway clock', function () {
  this.timeout(30_000);

  it('restart with the system clock at 1970: the persisted floor keeps expired tokens expired, valid ones pass', async () => {
    const dataDir = tempDir();
    // A wall time well after the build time, so only the persisted floor can protect us.
    const seen = Date.now() + 30 * DAY;
    let d: TestDaemon | undefined;
    try {
      d = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { timeSource: new FakeTimeSource(seen), dataDir });
      await d.stop();

      const time = new FakeTimeSource(5_000); // 1970-01-01T00:00:05Z: a Pi booted without RTC or network
      d = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { timeSource: time, dataDir });
      assert.equal(d.daemon.clock.status(), 'unsynchronized');
      assert.ok(d.daemon.clock.now() >= seen);
      const warnings = logsWith(d, 'system clock is behind the time floor; token checks use the floor');
      assert.equal(warnings.length, 1);

      const expired = await hsToken(SECRET, { sub: 's', exp: nowSecOf(seen) - 3600 }); // valid in 1970, expired at the floor
      const refused = await connect(d.port, { clientId: 'old', username: 'u', password: expired });
      assert.equal(refused.returnCode, 4);
      assert.ok(logsWith(d, 'authentication refused', { clientId: 'old', reason: 'JWT_EXPIRED' }).length > 0);

      const valid = await hsToken(SECRET, { sub: 's', iat: nowSecOf(seen) - 60, exp: nowSecOf(seen) + 3600 });
      const ok = await connect(d.port, { clientId: 'new', username: 'u', password: valid });
      assert.equal(ok.returnCode, 0);
      await end(ok.client);
      assert.equal(logsWith(d, 'system clock is behind the time floor; token checks use the floor').length, 1, 'warned once');

      time.setSystemTime(seen + 60_000); // NTP answered
      assert.equal(d.daemon.clock.status(), 'synced');
    } finally {
      await d?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a JWKS Date header beyond maxOffsetSec marks the clock skewed and token checks use the corrected time', async () => {
    const key = makeKey('k', 'ES256');
    const server = new JwksServer();
    server.keys = [key];
    const time = new FakeTimeSource(Date.now());
    const trueNow = time.systemNow() + 3 * 3600_000; // the system clock is 3 h behind
    server.dateMs = trueNow;
    await server.start();
    const d = await startDaemon({ auth: { jwt: { jwks: { url: server.url, timeoutSec: 2 } } }, clock: { maxOffsetSec: 120 } }, { timeSource: time });
    try {
      assert.equal(d.daemon.clock.status(), 'skewed');
      assert.ok(Math.abs(d.daemon.clock.snapshot().offsetSec - 3 * 3600) < 5);
      assert.equal(logsWith(d, 'system clock differs from a trusted source; token checks use the corrected time').length, 1);

      const sys = nowSecOf(time.systemNow());
      const expiredByTrueTime = await signWith(key, { sub: 's', exp: sys + 3600 }); // valid by the system clock
      assert.equal((await connect(d.port, { clientId: 'e', username: 'u', password: expiredByTrueTime })).returnCode, 4);
      assert.ok(logsWith(d, 'authentication refused', { clientId: 'e', reason: 'JWT_EXPIRED' }).length > 0);

      const notBeforeSys = await signWith(key, { sub: 's', nbf: sys + 2 * 3600, exp: sys + 5 * 3600 }); // not yet valid by the system clock
      const ok = await connect(d.port, { clientId: 'n', username: 'u', password: notBeforeSys });
      assert.equal(ok.returnCode, 0);
      await end(ok.client);
    } finally {
      await d.stop();
      await server.stop();
    }
  });
});

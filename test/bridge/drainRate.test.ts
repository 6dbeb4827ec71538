// bridge.drainRatePerSec: the token bucket alone on a hand-moved clock, then a
// backlog drained through a real Mosquitto at the capped rate (the daemon's clock
// is moved by hand too, so the figures are exact and nothing sleeps for them).
import assert from 'node:assert/strict';
import { DrainLimiter } from '../../src/bridge/drainLimiter.js';
import { startDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { end, publish } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, cloudSubscriber, distinct, rule, sensor } from './support.js';

const fakeClock = (fake: FakeTimeSource) => ({ monotonic: () => fake.monotonicNow(), setTimer: (ms: number, fn: () => void) => fake.setTimer(ms, fn) });

describe('bridge.drainRatePerSec', function () {
  this.timeout(30_000);

  it('DrainLimiter: 0 is no cap; otherwise a tenth of a second of burst, then the rate', () => {
    const fake = new FakeTimeSource();
    assert.equal(new DrainLimiter(0, fakeClock(fake)).take(10_000), 10_000);
    const limiter = new DrainLimiter(100, fakeClock(fake));
    assert.equal(limiter.take(1000), 10, 'the bucket starts full: 100/s x 0.1 s');
    assert.equal(limiter.take(1), 0);
    fake.advance(50);
    assert.equal(limiter.take(1000), 5);
    fake.advance(10_000);
    assert.equal(limiter.take(1000), 10, 'an idle period never saves up more than the bucket');
    let woke = 0;
    limiter.wakeWhenReady(() => woke++);
    limiter.wakeWhenReady(() => woke++); // one pending wake-up at a time
    fake.advance(9);
    assert.equal(woke, 0);
    fake.advance(1);
    assert.equal(woke, 1, 'woken once the next token is there (10 ms at 100/s)');
    assert.equal(limiter.take(5), 1);
    limiter.wakeWhenReady(() => woke++);
    limiter.cancel();
    fake.advance(1000);
    assert.equal(woke, 1, 'cancel() drops the pending wake-up');
  });

  it('a backlog reaches the cloud at the capped rate, in order, none lost', async () => {
    const cloud = await Mosquitto.start({ persistence: true });
    const sub = await cloudSubscriber(cloud, 'up/data/#');
    const fake = new FakeTimeSource();
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')], { drainRatePerSec: 20 }), {
      timeSource: fake,
    });
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      await cloud.stop();
      await waitUntil(() => bridgeStatus(d.daemon).state !== 'connected', { what: 'bridge disconnected' });
      const s = await sensor(d.port);
      for (let i = 0; i < 60; i++) await publish(s, 'data/x', `m-${i}`, { qos: 1 });
      assert.equal(bridgeStatus(d.daemon).queue.messages, 60);
      await cloud.restart();
      // Reconnect (its backoff timer runs on the daemon's clock, moved 50 ms a poll until connected).
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected' || (fake.advance(50), false), { what: 'the bridge to reconnect' });
      assert.equal(bridgeStatus(d.daemon).state, 'connected');
      const delivered = (): number => distinct(sub.inbox.messages).length;
      // Still until the clock moves: the bucket is empty, nothing is in flight, all that left the queue has arrived.
      const still = (what: string): Promise<void> => {
        const q = (): { messages: number; inflight: number } => bridgeStatus(d.daemon).queue;
        return waitUntil(() => delivered() > 0 && q().inflight === 0 && delivered() + q().messages === 60, { what });
      };
      // Whatever the reconnect loop's steps let through (at most 20/s of fake time), far from all 60.
      await still('the first burst delivered');
      const atConnect = delivered();
      assert.ok(atConnect <= 20, `${atConnect} delivered before the clock moved on`);
      fake.advance(1000);
      await waitUntil(() => delivered() >= atConnect + 20, { what: 'one second of drain' });
      await still('one second of drain, all of it'); // nothing more may come without the clock moving
      const afterOneSecond = delivered();
      assert.ok(afterOneSecond <= atConnect + 21, `${afterOneSecond - atConnect} messages in one second at 20/s`);
      for (let i = 0; i < 5 && delivered() < 60; i++) {
        const was = delivered();
        fake.advance(1000);
        await waitUntil(() => delivered() > was, { what: `second ${i + 2} of drain` });
        await still(`second ${i + 2} of drain, all of it`);
      }
      await waitUntil(() => delivered() === 60, { what: 'backlog delivered' });
      assert.deepEqual(
        distinct(sub.inbox.messages).map((m) => m.payload),
        Array.from({ length: 60 }, (_, i) => `m-${i}`),
      );
      await end(s);
    } finally {
      await end(sub.client);
      await d.stop();
      await cloud.dispose();
    }
  });
});

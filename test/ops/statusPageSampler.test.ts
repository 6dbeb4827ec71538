// The status page's sampler: rates per second from the daemon's counters, the
// bridge queue depth, authentication results by reason, a bounded ring, and the
// bridge state with the time it was first seen. Driven by a fake clock.
import assert from 'node:assert/strict';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { Metrics } from '../../src/metrics.js';
import { capacityFor, SAMPLE_COLUMNS, type Sample, StatusSampler } from '../../src/ops/sampler.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';

function setup(options: { capacity?: number; bridge?: () => Record<string, unknown> | undefined } = {}) {
  const time = new FakeTimeSource(Date.parse('2026-12-01T12:00:00Z'));
  const clock = new GatewayClock(time);
  const metrics = new Metrics({ processMetrics: false });
  let clients = 0;
  const sampler = new StatusSampler({
    clock,
    metrics,
    status: { read: (name) => (name === 'bridge' ? options.bridge?.() : undefined) },
    connectedClients: () => clients,
    intervalMs: 5000,
    capacity: options.capacity,
  });
  return { time, clock, metrics, sampler, setClients: (n: number) => (clients = n) };
}

describe('status page sampler', () => {
  it('keeps the last hour: 720 samples at the default 5 s, never more than 3600', () => {
    assert.equal(capacityFor(5000), 720);
    assert.equal(capacityFor(500), 3600);
    assert.equal(capacityFor(100), 3600);
    assert.equal(capacityFor(60_000), 60);
  });

  it("turns counters into rates per second over each interval, on the clock's timer", async () => {
    const { time, metrics, sampler, setClients } = setup();
    await sampler.start();
    const seen: Sample[] = [];
    sampler.onSample((s) => seen.push(s));
    for (let i = 0; i < 50; i++) metrics.messagesReceived.inc();
    for (let i = 0; i < 25; i++) metrics.messagesDelivered.inc();
    metrics.bridgeForwarded.inc({ direction: 'out' }, 10);
    setClients(3);
    time.advance(5000);
    assert.equal(seen.length, 1, 'one sample per interval');
    assert.equal(seen[0]!.clients, 3);
    assert.equal(seen[0]!.messagesInPerSec, 10);
    assert.equal(seen[0]!.messagesOutPerSec, 5);
    assert.equal(seen[0]!.drainPerSec, 2);
    assert.equal(seen[0]!.t, Date.parse('2026-12-01T12:00:05Z'));
    time.advance(5000);
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.messagesInPerSec, 0, 'no new messages, rate back to 0');
    await sampler.stop();
    time.advance(20_000);
    assert.equal(seen.length, 2, 'no samples after stop');
  });

  it('charts authentication results by reason, the other refusals summed', async () => {
    const { time, metrics, sampler } = setup();
    await sampler.start();
    const inc = (result: string, reason: string, n: number): void => metrics.authAttempts.inc({ result, reason }, n);
    inc('accepted', 'VERIFIED', 5);
    inc('accepted', 'CACHED', 10);
    inc('refused', 'JWT_SIGNATURE', 15);
    inc('refused', 'JWT_EXPIRED', 20);
    inc('refused', 'JWT_REVOKED', 25);
    inc('refused', 'RATE_LIMITED', 30);
    inc('refused', 'JWT_MALFORMED', 35);
    inc('refused', 'JWT_NO_KEY', 5);
    time.advance(5000);
    const s = sampler.series();
    assert.deepEqual(
      [s.authAccepted[0], s.authCacheHit[0], s.authBadSignature[0], s.authExpired[0], s.authRevoked[0], s.authRateLimited[0], s.authOtherRefused[0]],
      [1, 2, 3, 4, 5, 6, 8],
    );
    await sampler.stop();
  });

  it('reads the bridge queue depth and remembers when the bridge entered its state', async () => {
    let bridge: Record<string, unknown> = { state: 'waiting', queue: { messages: 0 } };
    const { time, sampler } = setup({ bridge: () => bridge });
    await sampler.start();
    assert.deepEqual(sampler.bridgeState(), { state: 'waiting', sinceMs: Date.parse('2026-12-01T12:00:00Z') });
    time.advance(5000);
    bridge = { state: 'connected', queue: { messages: 42 } };
    time.advance(5000);
    assert.deepEqual(sampler.bridgeState(), { state: 'connected', sinceMs: Date.parse('2026-12-01T12:00:10Z') });
    time.advance(5000);
    assert.equal(sampler.bridgeState()!.sinceMs, Date.parse('2026-12-01T12:00:10Z'), 'same state: same since');
    const s = sampler.series();
    assert.deepEqual(s.queueDepth, [0, 42, 42]);
    assert.deepEqual(s.bridgeConnected, [0, 1, 1]);
    await sampler.stop();
  });

  it('is a bounded ring: the oldest samples go, order is kept, every column has one value per sample', async () => {
    const { time, sampler, setClients } = setup({ capacity: 4 });
    await sampler.start();
    for (let i = 1; i <= 10; i++) {
      setClients(i);
      time.advance(5000);
    }
    assert.equal(sampler.count(), 4);
    const s = sampler.series();
    assert.deepEqual(s.clients, [7, 8, 9, 10]);
    assert.deepEqual(
      s.t.map((t) => (t - Date.parse('2026-12-01T12:00:00Z')) / 5000),
      [7, 8, 9, 10],
    );
    for (const c of SAMPLE_COLUMNS) assert.equal(s[c].length, 4, c);
    await sampler.stop();
  });
});

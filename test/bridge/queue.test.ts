// Store-and-forward against a real Mosquitto: outages, cloud restarts during a
// stream, queue bounds and TTL.
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { end, publish } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, cloudSubscriber, distinct, rule, sensor } from './support.js';

const dropped = async (d: TestDaemon, reason: string): Promise<number> => {
  const m = await d.daemon.metrics.bridgeDropped.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
};

describe('bridge store-and-forward', function () {
  this.timeout(30_000);

  for (const sync of ['normal', 'full'] as const)
    it(`cloud down → messages queued (PUBACKed) → cloud back → all delivered in order (sync ${sync})`, async () => {
      const cloud = await Mosquitto.start({ persistence: true });
      const sub = await cloudSubscriber(cloud, 'up/data/#');
      const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')], { queue: { sync } }));
      try {
        await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
        const s = await sensor(d.port);
        await publish(s, 'data/a', 'before-0', { qos: 1 });
        await sub.inbox.waitFor(1);
        await cloud.stop();
        await waitUntil(() => bridgeStatus(d.daemon).state !== 'connected', { what: 'bridge disconnected' });
        // Every publish resolves on its PUBACK, which the bridge gives only after the row is committed.
        for (let i = 0; i < 300; i++) await publish(s, i % 2 ? 'data/a' : 'data/b', `m-${i}`, { qos: 1 });
        assert.equal(bridgeStatus(d.daemon).queue.messages, 300);
        assert.equal((await d.daemon.metrics.bridgeQueueMessages.get()).values[0].value, 300);
        await cloud.restart();
        await waitUntil(() => distinct(sub.inbox.messages).length >= 301, { timeoutMs: 15_000, what: 'backlog delivered' });
        const got = distinct(sub.inbox.messages)
          .slice(1)
          .map((m) => m.payload);
        assert.deepEqual(
          got,
          Array.from({ length: 300 }, (_, i) => `m-${i}`),
        );
        await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 0, { what: 'queue drained' });
        await end(s);
      } finally {
        await end(sub.client);
        await d.stop();
        await cloud.dispose();
      }
    });

  it('cloud broker restarted repeatedly during a steady stream → no loss, order kept', async () => {
    const cloud = await Mosquitto.start({ persistence: true });
    const sub = await cloudSubscriber(cloud, 'up/data/#');
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'up/')], { maxInflight: 20 }));
    try {
      const s = await sensor(d.port);
      const total = 1500;
      // Three restarts inside the stream, whatever the machine's speed: at each cut the stream
      // goes on once the cloud is down, publishes 100 more while it is down, and then waits
      // for it to be back (the bridge reconnects while the stream runs on).
      const cuts = [350, 700, 1050];
      const barrier = (): { reached: Promise<void>; open(): void } => {
        let open = (): void => undefined;
        return { reached: new Promise<void>((r) => (open = r)), open: () => open() };
      };
      const down = cuts.map(barrier);
      const up = cuts.map(barrier);
      let sent = 0;
      const stream = (async () => {
        while (sent < total) {
          const batch = [];
          for (let k = 0; k < 10 && sent < total; k++, sent++) batch.push(publish(s, 'data/stream', `s-${sent}`, { qos: 1 }));
          await Promise.all(batch);
          const r = cuts.findIndex((c) => c === sent || c + 100 === sent);
          if (r >= 0) await (cuts[r] === sent ? down : up)[r]!.reached;
        }
      })();
      for (let r = 0; r < cuts.length; r++) {
        await waitUntil(() => sent >= cuts[r]!, { timeoutMs: 10_000, what: `stream progress ${r}` });
        await cloud.stop();
        down[r]!.open();
        await cloud.restart();
        up[r]!.open();
      }
      await stream;
      await waitUntil(() => distinct(sub.inbox.messages).length >= total, {
        timeoutMs: 20_000,
        what: `all ${total} delivered (have ${distinct(sub.inbox.messages).length})`,
      });
      const got = distinct(sub.inbox.messages).map((m) => m.payload);
      assert.deepEqual(
        got,
        Array.from({ length: total }, (_, i) => `s-${i}`),
      );
      await end(s);
    } finally {
      await end(sub.client);
      await d.stop();
      await cloud.dispose();
    }
  });

  describe('queue bounds (cloud unreachable)', () => {
    const offline = async (queue: Record<string, unknown>): Promise<TestDaemon> => {
      const port = await freePort(); // nothing listens there
      return startDaemon(bridgeConfig(`mqtt://127.0.0.1:${port}`, [rule('data/#', 'out', 1, '', 'up/')], { queue }));
    };
    const remaining = (d: TestDaemon): string[] =>
      (d.daemon.database!.prepare('SELECT payload FROM bridge_outbox ORDER BY id').all() as Array<{ payload: Buffer }>).map((r) => r.payload.toString());

    it('drop-oldest keeps the newest maxMessages and counts the drops', async () => {
      const d = await offline({ maxMessages: 10, overflow: 'drop-oldest' });
      try {
        const s = await sensor(d.port);
        for (let i = 0; i < 15; i++) await publish(s, 'data/x', `m-${i}`, { qos: 1 });
        assert.deepEqual(
          remaining(d),
          Array.from({ length: 10 }, (_, i) => `m-${i + 5}`),
        );
        assert.equal(await dropped(d, 'overflow'), 5);
        assert.equal(bridgeStatus(d.daemon).queue.messages, 10);
        // What the status page shows: drops by reason, the oldest queued message's age.
        const status = d.daemon.status.read('bridge')!;
        assert.deepEqual(status.dropped, { overflow: 5 });
        assert.ok(typeof status.oldestQueuedAgeSec === 'number' && status.oldestQueuedAgeSec >= 0);
        await end(s);
        d.daemon.logger.flush?.();
        await waitUntil(() => d.logs.some((l) => l.component === 'bridge' && typeof l.dropped === 'object'), { timeoutMs: 2000, what: 'drop log line' });
      } finally {
        await d.stop();
      }
    });

    it('reject-new keeps the oldest and counts the rejected', async () => {
      const d = await offline({ maxMessages: 10, overflow: 'reject-new' });
      try {
        const s = await sensor(d.port);
        for (let i = 0; i < 15; i++) await publish(s, 'data/x', `m-${i}`, { qos: 1 });
        assert.deepEqual(
          remaining(d),
          Array.from({ length: 10 }, (_, i) => `m-${i}`),
        );
        assert.equal(await dropped(d, 'rejected'), 5);
        await end(s);
      } finally {
        await d.stop();
      }
    });

    it('maxBytes bounds the payload bytes', async () => {
      const d = await offline({ maxBytes: 1024, overflow: 'drop-oldest' });
      try {
        const s = await sensor(d.port);
        for (let i = 0; i < 8; i++) await publish(s, 'data/x', Buffer.alloc(200, 48 + i), { qos: 1 });
        const left = remaining(d);
        assert.equal(left.length, 5);
        assert.equal(left[0][0], '3');
        assert.equal(bridgeStatus(d.daemon).queue.bytes, 1000);
        assert.equal(await dropped(d, 'overflow'), 3);
        await end(s);
      } finally {
        await d.stop();
      }
    });

    it('QoS 0 while offline is dropped (counted) unless queue.qos0', async () => {
      const d = await offline({ qos0: false });
      try {
        const s = await sensor(d.port);
        await publish(s, 'data/x', 'q0', { qos: 0 });
        await publish(s, 'data/x', 'q1', { qos: 1 });
        assert.deepEqual(remaining(d), ['q1']);
        assert.equal(await dropped(d, 'offline'), 1);
        await end(s);
      } finally {
        await d.stop();
      }
      const q = await offline({ qos0: true });
      try {
        const s = await sensor(q.port);
        await publish(s, 'data/x', 'q0', { qos: 0 });
        await publish(s, 'data/x', 'q1', { qos: 1 });
        assert.deepEqual(remaining(q), ['q0', 'q1']);
        await end(s);
      } finally {
        await q.stop();
      }
    });

    it('TTL drops expired messages (counted) as the clock moves', async () => {
      const time = new FakeTimeSource();
      const port = await freePort();
      const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${port}`, [rule('data/#', 'out', 1, '', 'up/')], { queue: { ttlSec: 60 } }), {
        timeSource: time,
      });
      try {
        const s = await sensor(d.port);
        for (let i = 0; i < 4; i++) await publish(s, 'data/x', `old-${i}`, { qos: 1 });
        time.advance(45_000);
        await publish(s, 'data/x', 'young', { qos: 1 });
        time.advance(20_000); // old ones are now 65 s old, "young" 20 s
        await waitUntil(() => remaining(d).length === 1, { timeoutMs: 3000, what: 'expiry sweep' });
        assert.deepEqual(remaining(d), ['young']);
        assert.equal(await dropped(d, 'ttl'), 4);
        assert.equal(bridgeStatus(d.daemon).queue.messages, 1);
        await end(s);
      } finally {
        await d.stop();
      }
    });
  });
});

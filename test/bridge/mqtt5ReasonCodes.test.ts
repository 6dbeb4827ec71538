// What an MQTT 5 sensor is told when the bridge queue does not store its message
// (MQTT 5.0 section 3.4.2.1): PUBACK 0x97 "Quota exceeded" when the queue refuses
// it as full (reject-new at the bound, or larger than queue.maxBytes), 0x80
// "Unspecified error" when the commit failed; never 0x00, and the connection
// stays. A 3.1.1 sensor keeps today's behaviour (acknowledged and counted when
// refused; no PUBACK and its connection closed when the commit fails:
// durability.test.ts).
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/mosquitto.js';
import { end, publish } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { publish5, sensor5 } from './mqtt5Support.js';
import { bridgeConfig, bridgeStatus, rule, sensor } from './support.js';

const QUOTA_EXCEEDED = 0x97;
const UNSPECIFIED_ERROR = 0x80;

const dropped = async (d: TestDaemon, reason: string): Promise<number> =>
  (await d.daemon.metrics.bridgeDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('bridge MQTT 5: PUBACK reason codes for what the queue cannot take', function () {
  this.timeout(20_000);

  for (const uplink of [4, 5] as const) {
    it(`queue full (reject-new) or message above maxBytes: 0x97 for a v5 sensor, PUBACK as before for a 3.1.1 one (uplink ${uplink})`, async () => {
      const offline = await freePort(); // nothing listens: the bridge queues
      const d = await startDaemon(
        bridgeConfig(`mqtt://127.0.0.1:${offline}`, [rule('data/#', 'out', 1)], {
          protocolVersion: uplink,
          queue: { maxMessages: 2, maxBytes: 2048, overflow: 'reject-new' },
        }),
      );
      try {
        const v5 = await sensor5(d.port);
        const v4 = await sensor(d.port, 'sensor-v4');
        assert.equal(await publish5(v5, 'data/big', Buffer.alloc(2049), { qos: 1 }), QUOTA_EXCEEDED, 'larger than queue.maxBytes');
        assert.equal(await publish5(v5, 'data/a', 'a', { qos: 1 }), 0);
        assert.equal(await publish5(v5, 'data/b', 'b', { qos: 1, properties: { userProperties: { k: 'v' } } }), 0);
        assert.equal(bridgeStatus(d.daemon).queue.messages, 2);
        assert.equal(await publish5(v5, 'data/c', 'c', { qos: 1 }), QUOTA_EXCEEDED, 'queue at its bound');
        // QoS 2: the PUBREC carries it (MQTT 5.0 section 3.5.2.1).
        assert.equal(await publish5(v5, 'data/d', 'd', { qos: 2 }), QUOTA_EXCEEDED, 'QoS 2 at the bound');
        assert.ok(v5.connected, 'the v5 sensor keeps its connection');
        // MQTT 3.1.1 has no negative PUBACK: acknowledged and dropped, counted (as before).
        await publish(v4, 'data/e', 'e', { qos: 1 });
        assert.ok(v4.connected);
        assert.equal(await dropped(d, 'rejected'), 4);
        assert.equal(bridgeStatus(d.daemon).queue.messages, 2);
        // QoS 0 has no acknowledgement to carry a code; offline without queue.qos0 it is dropped and counted, as before.
        assert.equal(await publish5(v5, 'data/f', 'f', { qos: 0 }), 0);
        await waitUntil(async () => (await dropped(d, 'offline')) === 1, { what: 'QoS 0 counted' });
        assert.ok(v5.connected);
        await end(v5, v4);
      } finally {
        await d.stop();
      }
    });
  }

  it('a commit that fails (read-only database): 0x80 for a v5 sensor, which keeps its connection; stored again once writable', async () => {
    const offline = await freePort();
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${offline}`, [rule('data/#', 'out', 1)], { protocolVersion: 5 }));
    try {
      const s = await sensor5(d.port);
      assert.equal(await publish5(s, 'data/ok', 'first', { qos: 1 }), 0);
      // Every write to the database now fails, as on a full or failing SD card.
      d.daemon.database!.pragma('query_only = ON');
      assert.equal(await publish5(s, 'data/ok', 'second', { qos: 1, properties: { contentType: 'text/plain' } }), UNSPECIFIED_ERROR);
      assert.ok(s.connected, 'the v5 sensor keeps its connection');
      assert.equal(bridgeStatus(d.daemon).queue.messages, 1);
      assert.equal(await dropped(d, 'error'), 1);
      d.daemon.database!.pragma('query_only = OFF');
      assert.equal(await publish5(s, 'data/ok', 'second', { qos: 1 }), 0);
      assert.equal(bridgeStatus(d.daemon).queue.messages, 2);
      await end(s);
    } finally {
      await d.stop();
    }
  });
});

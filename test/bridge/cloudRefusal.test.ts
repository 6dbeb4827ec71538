// A message the cloud refuses for good (MQTT 5 PUBACK reason code 0x87, "not
// authorized", from a real Mosquitto's ACL) is dropped and counted as "refused",
// logged with its topic, and does not hold up the queue or come back at the next
// reconnect; the messages around it are delivered in order.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, rule, sensor } from './support.js';

describe('bridge: messages the cloud refuses (MQTT 5 PUBACK >= 0x80)', function () {
  this.timeout(30_000);

  it('are dropped and counted as "refused", never resent; the others arrive in order', async () => {
    const dir = tempDir('edgegate-acl-');
    const aclFile = join(dir, 'acl');
    // Anonymous clients (the watcher) read everything; the gateway may write only v5/ok/# and its state topic.
    // log_type debug: Mosquitto's "Denied PUBLISH" lines, to count what reached it.
    writeFileSync(aclFile, ['topic read #', 'user gw', 'topic write v5/ok/#', 'topic write v5/edgegate/#', ''].join('\n'));
    const cloud = await Mosquitto.start({ extra: [`acl_file ${aclFile}`, 'log_type debug'] });
    const watch = await connectOk(cloud.port, { clientId: 'cloud-watch', protocolVersion: 5 });
    const inbox = collector(watch);
    await subscribe(watch, 'v5/#', 1);
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('#', 'out', 1, '', 'v5/')], { protocolVersion: 5, username: 'gw' }));
    try {
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { what: 'bridge connected' });
      const s = await sensor(d.port);
      const okTopic = (): string[] => inbox.messages.filter((m) => m.topic === 'v5/ok/x').map((m) => m.payload);
      const refused = async (): Promise<number> => (await d.daemon.metrics.bridgeDropped.get()).values.find((v) => v.labels.reason === 'refused')?.value ?? 0;
      // One at a time: Mosquitto 2.0 closes the connection after a denied PUBLISH, and
      // acknowledgements still unread when it closes are lost (then resent: duplicates).
      for (let i = 0; i < 6; i++) {
        const bad = i % 2 === 1;
        const before = await refused();
        await publish(s, bad ? 'bad/x' : 'ok/x', `m-${i}`, { qos: 1 });
        if (bad) {
          await waitUntil(async () => (await refused()) !== before, { what: `m-${i} refused` });
          assert.equal(await refused(), before + 1, `m-${i} counted as refused`);
        } else {
          await waitUntil(() => okTopic().includes(`m-${i}`), { what: `m-${i} delivered` });
        }
        await waitUntil(() => bridgeStatus(d.daemon).state === 'connected' && bridgeStatus(d.daemon).queue.messages === 0, {
          timeoutMs: 10_000,
          what: 'connected, queue empty',
        });
      }
      assert.deepEqual(okTopic(), ['m-0', 'm-2', 'm-4']);
      assert.equal(inbox.messages.filter((m) => m.topic === 'v5/bad/x').length, 0);
      assert.equal(await refused(), 3);
      // Each refused message was sent once: dropped, not resent after Mosquitto's disconnect.
      assert.equal(
        cloud
          .output()
          .split('\n')
          .filter((l) => l.includes('Denied PUBLISH from gw-test')).length,
        3,
      );
      const line = d.logs.find((l) => String(l.msg).startsWith('cloud refused a message'));
      assert.ok(line, 'a warning names the refused topic');
      assert.equal(line.topic, 'v5/bad/x');
      assert.equal(line.reasonCode, 0x87);
      await end(s);
    } finally {
      await end(watch);
      await d.stop();
      await cloud.dispose();
    }
  });
});

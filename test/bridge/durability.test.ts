// A message the durable queue cannot commit (disk full, I/O error) is not
// acknowledged: the sensor keeps it and sends it again after reconnecting.
import assert from 'node:assert/strict';
import { startDaemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/mosquitto.js';
import { closed, end, publish } from '../helpers/mqtt.js';
import { bridgeConfig, bridgeStatus, rule, sensor, waitUntil } from './support.js';

describe('bridge queue commit failure', function () {
  this.timeout(20_000);

  it('refuses the PUBACK and closes the sensor connection; a later publish is queued again', async () => {
    const unused = await freePort(); // nothing listens: the bridge stays offline and queues
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${unused}`, [rule('data/#', 'out', 1)]));
    try {
      const s = await sensor(d.port);
      await publish(s, 'data/ok', 'first', { qos: 1 });
      assert.equal(bridgeStatus(d.daemon).queue.messages, 1);

      // Every write to the database now fails, as on a full or failing SD card.
      d.daemon.database!.pragma('query_only = ON');
      let acked = false;
      s.publish('data/ok', 'second', { qos: 1 }, (err) => {
        if (!err) acked = true;
      });
      await closed(s, 5000);
      assert.equal(acked, false, 'a message that was not stored must not be acknowledged');
      assert.equal(bridgeStatus(d.daemon).queue.messages, 1);
      assert.ok(d.logs.some((l) => String(l.msg).includes('message not accepted')));
      await end(s);

      d.daemon.database!.pragma('query_only = OFF');
      const again = await sensor(d.port, 'sensor-2');
      await publish(again, 'data/ok', 'second', { qos: 1 });
      await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 2, 5000, 'queued after recovery');
      await end(again);
    } finally {
      await d.stop();
    }
  });
});

// A message the durable queue cannot commit (disk full, I/O error) is not
// acknowledged: the sensor keeps it and sends it again after reconnecting.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { startDaemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/mosquitto.js';
import { closed, end, publish } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, rule, sensor } from './support.js';

describe('bridge queue commit failure', function () {
  this.timeout(20_000);

  it('hands each PUBACK to the socket only once its row is committed (seen from a second connection)', async () => {
    const unused = await freePort(); // the bridge stays offline: rows stay in the table
    const d = await startDaemon(bridgeConfig(`mqtt://127.0.0.1:${unused}`, [rule('data/#', 'out', 1)]));
    // A second connection sees committed rows only (WAL): a row visible there is durable.
    const reader = new Database(d.daemon.database!.name, { fileMustExist: true });
    try {
      const count = reader.prepare('SELECT count(*) AS n FROM bridge_outbox');
      const committed = (): number => (count.get() as { n: number }).n;
      const s = await sensor(d.port);
      // Checked where aedes writes the PUBACK into the sensor's socket (corked: it is
      // sent a tick later), not where the sensor receives it: that is a later turn of
      // this same event loop, after any commit that was merely late.
      const conn = d.daemon.broker!.clientOf('sensor-1')!.conn as unknown as { write: (chunk: Buffer, ...rest: unknown[]) => boolean };
      const write = conn.write.bind(conn);
      let pubacks = 0;
      let violations = 0;
      let packetIdNext = false;
      conn.write = (chunk, ...rest) => {
        // mqtt-packet writes a PUBACK's fixed header (0x40 0x02) and its packet id as two
        // chunks; an id whose high byte is 0x40 must not count as another PUBACK.
        if (packetIdNext) packetIdNext = false;
        else if (chunk[0] === 0x40) {
          pubacks++;
          packetIdNext = chunk.length === 2;
          if (committed() < pubacks) violations++;
        }
        return write(chunk, ...rest);
      };
      // Several group commits, each holding several messages (all sent at once).
      await Promise.all(Array.from({ length: 300 }, (_, i) => publish(s, 'data/t', `m${i}`, { qos: 1 })));
      assert.equal(pubacks, 300);
      assert.equal(violations, 0, 'a PUBACK was written before its row was committed');
      assert.equal(committed(), 300);
      await end(s);
    } finally {
      reader.close();
      await d.stop();
    }
  });

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
      await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 2, { what: 'queued after recovery' });
      await end(again);
    } finally {
      await d.stop();
    }
  });
});

// broker.maxClients: beyond it a CONNECT gets CONNACK 3 (server unavailable, MQTT
// 3.1.1 section 3.2.2.3) before any token work, is counted by reason, and logged
// at a limited rate; a freed slot is usable again at once.
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { closeAll, connectMany } from '../../scripts/bench/lib/connectClients.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';

const SECRET = 'max-clients-test-secret-0123456789';

describe('broker.maxClients', () => {
  let d: TestDaemon;
  let token: string;
  before(async () => {
    d = await startDaemon({ broker: { maxClients: 3 }, auth: { jwt: { secret: SECRET } } });
    token = await hsToken(SECRET, { sub: 'sensor', exp: nowSec() + 600 });
  });
  after(() => d.stop());

  it('refuses the CONNECT beyond the limit with CONNACK 3, counts and logs it', async () => {
    const held: MqttClient[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await connect(d.port, { clientId: `held-${i}`, username: 'sensor', password: token });
      assert.equal(out.returnCode, 0);
      held.push(out.client!);
    }
    const over = await connect(d.port, { clientId: 'one-too-many', username: 'sensor', password: token });
    assert.equal(over.returnCode, 3);
    const line = d.logs.find((l) => l.msg === 'connection refused: broker.maxClients reached');
    assert.ok(line, 'a log line names the limit');
    assert.equal(line.clientId, 'one-too-many');
    assert.equal(line.maxClients, 3);
    assert.ok(!d.logText().includes(token), 'the token is never logged');
    const metrics = await d.daemon.metrics.registry.getSingleMetricAsString('edgegate_connections_refused_total');
    assert.match(metrics, /edgegate_connections_refused_total\{reason="max_clients"\} 1/);

    await end(held.pop()!);
    await waitUntil(() => d.daemon.broker!.connectedClients() === 2, { what: 'a slot to free' });
    const again = await connect(d.port, { clientId: 'after-one-left', username: 'sensor', password: token });
    assert.equal(again.returnCode, 0, 'a freed slot is usable');
    await end(again.client!);
    await Promise.all(held.map((c) => end(c)));
  });

  it('holds under a burst: never more than the limit admitted, one log line per interval', async () => {
    await waitUntil(() => d.daemon.broker!.connectedClients() === 0, { what: 'no clients left' });
    const before = d.logs.filter((l) => l.msg === 'connection refused: broker.maxClients reached').length;
    const burst = await connectMany({ port: d.port, count: 50, fields: (i) => ({ clientId: `burst-${i}`, username: 'sensor', password: token }) });
    assert.equal(burst.accepted, 3);
    assert.equal(burst.refused[3], 47);
    const after = d.logs.filter((l) => l.msg === 'connection refused: broker.maxClients reached').length;
    assert.ok(after - before <= 1, `refusals are logged at a limited rate (${after - before} lines)`);
    await closeAll(burst.sockets);
  });
});

// MQTT 5 is not served yet (aedes 1.x is MQTT 3.1/3.1.1 only): a client connecting
// with protocol level 5 gets CONNACK 1 (unacceptable protocol version) and the log
// says why, at a limited rate; MQTT 3.1.1 and 3.1 clients are unaffected.
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { FakeTimeSource } from '../../src/clock/fakeTimeSource.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';

const SECRET = 'mqtt5-test-secret-0123456789abcdef';
const NOT_SUPPORTED = /MQTT 5 is not supported yet/;

describe('MQTT 5 clients (not supported yet)', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  let time: FakeTimeSource;
  let token: string;
  const notices = (): Array<Record<string, unknown>> => d.logs.filter((l) => NOT_SUPPORTED.test(String(l.msg)));

  before(async () => {
    time = new FakeTimeSource(Date.now());
    d = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { timeSource: time });
    token = await hsToken(SECRET, { sub: 'v5', exp: nowSec() + 3600 });
  });
  after(() => d.stop());

  it('mqtt.js with protocolVersion 5 gets CONNACK 1 and an info line saying MQTT 5 is not supported yet', async () => {
    const out = await connect(d.port, { protocolVersion: 5, clientId: 'v5-client', username: 'u', password: token });
    assert.equal(out.returnCode, 1);
    await waitUntil('the MQTT 5 log line', () => notices().length === 1);
    const line = notices()[0]!;
    assert.equal(line.level, 30, 'info');
    assert.equal(line.clientId, 'v5-client');
    assert.equal(line.address, '127.0.0.1');
    assert.equal(line.protocolVersion, 5);
    // Not the generic protocol error at a level above debug.
    assert.equal(d.logs.filter((l) => Number(l.level) >= 40 && /protocol/i.test(String(l.msg ?? '') + String(l.err ?? ''))).length, 0);
  });

  it('the line is rate-limited: a storm of MQTT 5 CONNECTs logs once per interval, with the count', async () => {
    const before = notices().length;
    for (let i = 0; i < 5; i++) assert.equal((await connect(d.port, { protocolVersion: 5, username: 'u', password: token })).returnCode, 1);
    assert.equal(notices().length, before, 'suppressed within the interval');
    time.advance(11_000);
    assert.equal((await connect(d.port, { protocolVersion: 5, username: 'u', password: token })).returnCode, 1);
    await waitUntil('the next line', () => notices().length === before + 1);
    assert.equal(notices().at(-1)!.suppressedSinceLastLine, 5);
  });

  it('a raw MQTT 5 CONNECT (with properties) gets the 3.1.1 CONNACK 1 bytes', async () => {
    // CONNECT: "MQTT", level 5, flags clean, keepalive 0, properties length 0, client id "raw5".
    const body = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x04, 0x72, 0x61, 0x77, 0x35]);
    const reply = await new Promise<Buffer>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: d.port });
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    });
    assert.deepEqual([...reply.subarray(0, 4)], [0x20, 0x02, 0x00, 0x01]);
  });

  it('MQTT 3.1.1 and 3.1 clients are unaffected and not logged about', async () => {
    const before = notices().length;
    for (const protocolVersion of [4, 3] as const) {
      const out = await connect(d.port, { protocolVersion, username: 'u', password: token, ...(protocolVersion === 3 ? { protocolId: 'MQIsdp' } : {}) });
      assert.equal(out.returnCode, 0, `protocol level ${protocolVersion}`);
      await end(out.client);
    }
    assert.equal(notices().length, before);
  });
});

// Garbage on the wire never crashes the daemon or stops it serving: oversized
// and random passwords, random bytes, bogus remaining lengths, truncated and
// misordered packets, all on raw sockets against the real listener.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { connectPacket, encodeRemainingLength } from '../../scripts/bench/lib/mqttWire.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { rawExchange } from '../helpers/rawSocket.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { expectAccepted, expectRefused } from './support/expect.js';

const SECRET = 'faults-test-secret-0123456789abcdef';

// Rate limiting is off here: this suite's many deliberate refusals all come from
// 127.0.0.1 and would otherwise get it banned (rate limiting has its own tests).
describe('garbage on the socket', () => {
  let d: TestDaemon;
  let good: string;
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } });
    good = await hsToken(SECRET, { sub: 'ok', exp: nowSec() + 600 });
  });
  after(() => d.stop());
  afterEach(async () => expectAccepted(d, good)); // still serving after every fault

  it('64 KiB of garbage as the password: CONNACK 4 (JWT_TOO_LARGE), nothing logged of it', async () => {
    const garbage = randomBytes(65_535);
    const out = await connect(d.port, { username: 'u', password: garbage, clientId: 'garbage-pw' });
    assert.equal(out.returnCode, 4);
    const line = d.logs.find((l) => l.clientId === 'garbage-pw' && l.msg === 'authentication refused');
    assert.equal(line?.reason, 'JWT_TOO_LARGE');
    const printable = garbage.toString('base64').slice(0, 40);
    assert.ok(!d.logText().includes(printable));
  });

  it('64 KiB password of token-like text under a large maxTokenBytes: JWT_MALFORMED', async () => {
    const big = await startDaemon({ auth: { jwt: { secret: SECRET, maxTokenBytes: 70_000 } } });
    try {
      await expectRefused(big, 'eyJ' + 'A'.repeat(65_000) + '.x.y', 'JWT_MALFORMED');
      await expectRefused(big, randomBytes(48_000).toString('base64'), 'JWT_MALFORMED');
    } finally {
      await big.stop();
    }
  });

  it('64 KiB password on a raw socket without a username (forbidden by MQTT 3.1.1 3.1.2-22): refused or closed', async () => {
    const { reply, closedByServer } = await rawExchange(d.port, [connectPacket({ clientId: 'raw-nouser', password: randomBytes(65_535) })]);
    assert.ok(closedByServer || (reply[0] === 0x20 && reply[3] !== 0), `reply ${reply.toString('hex')}`);
  });

  it('random bytes on 200 connections: every socket is closed, none accepted', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const junk = randomBytes(1 + (i % 64) * 17);
        if (i % 4 === 0) junk[0] = 0x10; // looks like a CONNECT
        return rawExchange(d.port, [junk], { end: true }); // the end of the stream: the server has read all it will get
      }),
    );
    for (const r of results) assert.ok(!(r.reply[0] === 0x20 && r.reply[3] === 0), 'garbage must never be accepted');
    assert.equal(d.daemon.broker!.connectedClients(), 0);
  });

  it('a bogus remaining length (five continuation bytes) closes the socket at once', async () => {
    const { closedByServer, reply } = await rawExchange(d.port, [Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00])]);
    assert.ok(closedByServer);
    assert.equal(reply.length, 0);
  });

  it('a CONNECT claiming 256 MB is closed without waiting for the bytes', async () => {
    const { closedByServer } = await rawExchange(d.port, [Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), randomBytes(1000)]);
    assert.ok(closedByServer, 'closed before the connect timeout');
  });

  it('a first packet that is not CONNECT closes the socket (MQTT 3.1.1 section 3.1)', async () => {
    const publish = Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(7), Buffer.from([0, 3]), Buffer.from('a/b'), Buffer.from('xy')]);
    assert.ok((await rawExchange(d.port, [publish])).closedByServer);
    assert.ok((await rawExchange(d.port, [Buffer.from([0xc0, 0x00])])).closedByServer); // PINGREQ
  });

  it('a truncated CONNECT followed by end-of-stream does no harm', async () => {
    const full = connectPacket({ clientId: 'trunc', username: 'u', password: good });
    const { reply } = await rawExchange(d.port, [full.subarray(0, full.length - 10)], { end: true });
    assert.equal(reply.length, 0);
  });

  it('garbage after an accepted CONNECT closes only that client', async () => {
    const bystander = await connect(d.port, { username: 'u', password: good, clientId: 'bystander' });
    const s = tcpConnect({ port: d.port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.write(connectPacket({ clientId: 'then-garbage', username: 'u', password: good }));
    const connack = await new Promise<Buffer>((resolve) => s.once('data', resolve));
    assert.deepEqual([...connack.subarray(0, 4)], [0x20, 0x02, 0x00, 0x00], 'CONNACK 0 first');
    const closedNow = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.write(Buffer.from([0xf0, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await closedNow;
    assert.ok(bystander.client?.connected);
    await end(bystander.client);
  });

  it('200 clients that vanish while their token is being verified leave no session behind', async () => {
    await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const s = tcpConnect({ port: d.port, host: '127.0.0.1' });
            s.on('error', () => undefined);
            s.on('close', () => resolve());
            s.on('connect', () => {
              s.write(connectPacket({ clientId: `vanish-${i}`, username: 'u', password: good }));
              setTimeout(() => s.destroy(), i % 5);
            });
          }),
      ),
    );
    await waitUntil(() => d.daemon.broker!.sessions.size() === 0 && d.daemon.broker!.connectedClients() === 0, { timeoutMs: 3000, what: 'no session left' });
    assert.equal(d.daemon.broker!.sessions.size(), 0);
    assert.equal(d.daemon.broker!.connectedClients(), 0);
  });

  it('a CONNECT with an unknown protocol level is refused (CONNACK 1) or closed', async () => {
    const p = connectPacket({ clientId: 'lvl', username: 'u', password: good });
    p[2 + 6] = 9; // protocol level byte after the 2-byte fixed header and "MQTT" string
    const { reply, closedByServer } = await rawExchange(d.port, [p]);
    assert.ok(closedByServer || (reply[0] === 0x20 && reply[3] === 1), reply.toString('hex'));
  });
});

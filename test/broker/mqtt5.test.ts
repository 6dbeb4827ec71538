// MQTT 5 clients on every listener (tcp, tls, ws, wss): the CONNACK tells the truth
// about what the gateway enforces (MQTT 5.0 section 3.2.2.3), and each refusal of
// a CONNECT carries the MQTT 5 reason code of docs/authentication.md (section
// 3.2.2.2). MQTT 3.1.1 clients keep their return codes (the other suites).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect } from '../helpers/mqtt.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitForLog } from './support/expect.js';
import { connect5, connect5Ok } from './support/mqtt5.js';

const SECRET = 'mqtt5-test-secret-0123456789abcdef';
const token = (claims: Record<string, unknown> = {}): Promise<string> => hsToken(SECRET, { sub: 'v5', exp: nowSec() + 3600, ...claims });

describe('MQTT 5: CONNACK properties on tcp, tls, ws and wss', function () {
  this.timeout(20_000);
  let dir: string;
  let pki: TestPki;
  let d: TestDaemon;
  before(async () => {
    dir = tempDir('edgegate-mqtt5-');
    pki = makeTestPki(dir);
    d = await startDaemon({
      auth: { jwt: { secret: SECRET } },
      broker: { maxPacketBytes: 65_536, maxInflightInbound: 40, topicAliasMaximum: 7 },
      listeners: {
        tls: { enabled: true, certFile: pki.certFile, keyFile: pki.keyFile },
        ws: { enabled: true, host: '127.0.0.1', port: 0 },
        wss: { enabled: true, host: '127.0.0.1', port: 0, certFile: pki.certFile, keyFile: pki.keyFile },
      },
    });
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each listener answers CONNACK 0x00 with the limits the gateway enforces and what it offers', async () => {
    const addrs = d.daemon.broker!.addresses();
    const ca = pki.caFile;
    const { readFileSync } = await import('node:fs');
    const targets = [
      { name: 'tcp', opts: { port: addrs.tcp!.port } },
      { name: 'tls', opts: { port: addrs.tls!.port, protocol: 'mqtts' as const, ca: readFileSync(ca), servername: 'localhost' } },
      { name: 'ws', opts: { port: addrs.ws!.port, protocol: 'ws' as const, path: '/mqtt' } },
      { name: 'wss', opts: { port: addrs.wss!.port, protocol: 'wss' as const, path: '/mqtt', ca: readFileSync(ca), servername: 'localhost' } },
    ];
    for (const t of targets) {
      const c = await connect5Ok(t.opts.port, { ...t.opts, username: 'u', password: await token(), clientId: `caps-${t.name}` });
      assert.deepEqual(
        c.connack,
        {
          // 65,536 bytes of remaining length + 1 header byte + 3 length bytes: what the packet guard lets through.
          maximumPacketSize: 65_536 + 1 + 3,
          receiveMaximum: 40,
          topicAliasMaximum: 7,
          retainAvailable: true,
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: true,
          sharedSubscriptionAvailable: false,
        },
        t.name,
      );
      c.end(true);
    }
  });
});

describe('MQTT 5: reason codes of a refused CONNECT', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  const time = new FakeTimeSource(Date.now());
  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } }, { timeSource: time });
  });
  after(() => d.stop());

  it('a bad, expired or malformed token, or none: 0x86 (Bad User Name or Password), logged with the reason, never the token', async () => {
    const cases: Array<[string, string]> = [
      [await hsToken('another-secret-0123456789', { sub: 'v5' }), 'JWT_SIGNATURE'],
      [await token({ exp: nowSec() - 3600 }), 'JWT_EXPIRED'],
      ['not-a-token', 'JWT_MALFORMED'],
    ];
    for (const [t, reason] of cases) {
      const clientId = `refused-${reason}`;
      const out = await connect5(d.port, { username: 'u', password: t, clientId });
      assert.equal(out.reasonCode, 0x86, reason);
      const line = await waitForLog(d, (l) => l.clientId === clientId && l.msg === 'authentication refused');
      assert.equal(line.reason, reason);
      assert.ok(!d.logText().includes(t), 'the token is never logged');
    }
    // No token at all.
    assert.equal((await connect5(d.port, { clientId: 'no-token' })).reasonCode, 0x86);
  });

  it('an Authentication Method other than JWT or OAUTH2-JWT: 0x8C (Bad authentication method), counted', async () => {
    const out = await connect5(d.port, { clientId: 'scram', properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('x') } });
    assert.equal(out.reasonCode, 0x8c);
    const m = await d.daemon.metrics.connectionsRefused.get();
    assert.equal(m.values.find((v) => v.labels.reason === 'bad_authentication_method')?.value, 1);
  });

  it('MQTT 3.1.1 clients keep their return codes: 4 for a bad token', async () => {
    assert.equal((await connect(d.port, { username: 'u', password: 'not-a-token' })).returnCode, 4);
  });
});

describe('MQTT 5: a ban and a full gateway', function () {
  this.timeout(20_000);

  it('a banned address: 0x97 (Quota exceeded), as EMQX answers a ban; a valid token is not even looked at', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 2, windowSec: 60, banSec: 300 } } });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await connect5(d.port, { username: 'u', password: 'bad' })).reasonCode, 0x86);
      assert.equal((await connect5(d.port, { username: 'u', password: await token() })).reasonCode, 0x97);
      assert.equal((await connect(d.port, { username: 'u', password: await token() })).returnCode, 5, 'MQTT 3.1.1: 5 as before');
    } finally {
      await d.stop();
    }
  });

  it('broker.maxClients reached: 0x89 (Server busy); MQTT 3.1.1 still gets 3', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET } }, broker: { maxClients: 1 } });
    try {
      const first = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'only' });
      assert.equal((await connect5(d.port, { username: 'u', password: await token(), clientId: 'second' })).reasonCode, 0x89);
      assert.equal((await connect(d.port, { username: 'u', password: await token(), clientId: 'third' })).returnCode, 3);
      first.end(true);
    } finally {
      await d.stop();
    }
  });
});

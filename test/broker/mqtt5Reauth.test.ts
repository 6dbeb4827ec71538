// MQTT 5 enhanced authentication with a JWT (MQTT 5.0 section 4.12): the token as
// the Authentication Data of the CONNECT (method JWT or OAUTH2-JWT, one round), and
// renewal in-session with AUTH 0x19 (section 4.12.1) under exactly the rules of a
// CONNECT. Success: AUTH 0x00, the new ACL from the next packet, the new exp as the
// disconnect deadline (the old one no longer fires). Failure: DISCONNECT 0x87
// (0x8C for another method), counted and logged like a refused CONNECT.
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { subscribe } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { connect5, connect5Ok, connectPacket5, publish5, RawV5, serverDisconnect } from './support/mqtt5.js';

const SECRET = 'mqtt5-reauth-secret-0123456789abcdef';
const NOW = Math.floor(Date.now() / 1000) + 3600;

describe('MQTT 5 enhanced authentication and re-authentication (AUTH 0x19)', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  let time: FakeTimeSource;
  // exp relative to the gateway clock, which the tests move forward.
  const now = (): number => Math.floor(time.systemNow() / 1000);
  const token = (claims: Record<string, unknown> = {}): Promise<string> => hsToken(SECRET, { sub: 'sensor-9', exp: now() + 600, ...claims });
  const auth = (method: string, t: string): Record<string, unknown> => ({ authenticationMethod: method, authenticationData: Buffer.from(t) });
  const refusals = async (reason: string): Promise<number> =>
    (await d.daemon.metrics.authAttempts.get()).values.find((v) => v.labels.result === 'refused' && v.labels.reason === reason)?.value ?? 0;

  before(async () => {
    time = new FakeTimeSource(NOW * 1000);
    d = await startDaemon({ auth: { jwt: { secret: SECRET, verifyClaims: { sub: '%u' } }, rateLimit: { maxFailures: 0 } } }, { timeSource: time });
  });
  after(() => d.stop());

  for (const method of ['JWT', 'OAUTH2-JWT']) {
    it(`CONNECT with Authentication Method ${method}: CONNACK 0x00 echoing the method, the password is not needed`, async () => {
      const c = await connect5Ok(d.port, { username: 'sensor-9', clientId: `m-${method}`, properties: auth(method, await token()) });
      assert.equal(c.connack.authenticationMethod, method);
      c.end(true);
    });
  }

  it('the token in the Authentication Data is verified like a password: a bad one gets CONNACK 0x86', async () => {
    const out = await connect5(d.port, {
      username: 'sensor-9',
      clientId: 'bad-data',
      properties: auth('JWT', await hsToken('wrong-secret-wrong-secret', { sub: 'sensor-9' })),
    });
    assert.equal(out.reasonCode, 0x86);
    // verifyClaims binds it to the user name as with a password.
    assert.equal((await connect5(d.port, { username: 'someone-else', clientId: 'bound', properties: auth('JWT', await token()) })).reasonCode, 0x86);
  });

  it('AUTH 0x19 with a fresh token: AUTH 0x00, its ACL applies from the next packet, its exp replaces the deadline', async () => {
    const raw = await RawV5.open(d.port);
    const start = now();
    raw.send(
      connectPacket5('renewing', { username: 'sensor-9', properties: auth('JWT', await token({ exp: start + 60, acl: { pub: ['old/#'], sub: ['#'] } })) }),
    );
    const connack = await raw.next('connack');
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.authenticationMethod, 'JWT');
    raw.send({ cmd: 'publish', topic: 'new/x', payload: 'before', qos: 1, messageId: 1 });
    assert.equal((await raw.next('puback')).reasonCode, 0x87, 'the old ACL refuses new/#');

    raw.send({ cmd: 'auth', reasonCode: 0x19, properties: auth('JWT', await token({ exp: start + 3600, acl: { pub: ['new/#'], sub: ['#'] } })) });
    const ok = await raw.next('auth');
    assert.equal(ok.reasonCode, 0);
    assert.equal(ok.properties?.authenticationMethod, 'JWT');
    raw.send({ cmd: 'publish', topic: 'new/x', payload: 'after', qos: 1, messageId: 2 });
    assert.equal((await raw.next('puback')).reasonCode, 0, 'the new ACL allows new/#');
    raw.send({ cmd: 'publish', topic: 'old/x', payload: 'after', qos: 1, messageId: 3 });
    assert.equal((await raw.next('puback')).reasonCode, 0x87, 'and no longer old/#');

    time.advance(120_000); // past the first token's exp + 30 s tolerance
    raw.send({ cmd: 'pingreq' });
    await raw.next('pingresp');
    assert.equal(raw.closed, false, 'the old deadline no longer fires');
    time.advance(3_600_000); // past the renewed exp
    const disconnect = await raw.next('disconnect');
    assert.equal(disconnect.reasonCode, 0xa0);
    await raw.whenClosed();
    assert.ok(d.logs.some((l) => l.msg === 'client re-authenticated' && l.clientId === 'renewing'));
    const renewed = (await d.daemon.metrics.reauthentications.get()).values.find((v) => v.labels.result === 'accepted')?.value;
    assert.ok((renewed ?? 0) >= 1);
  });

  it('AUTH 0x19 with a bad, expired or other-user token: DISCONNECT 0x87, counted and logged like a refused CONNECT', async () => {
    const cases: Array<[() => Promise<string>, string]> = [
      [() => hsToken('wrong-secret-wrong-secret', { sub: 'sensor-9' }), 'JWT_SIGNATURE'],
      [() => token({ exp: now() - 3600 }), 'JWT_EXPIRED'],
      [() => token({ sub: 'sensor-10' }), 'JWT_CLAIM_MISMATCH'],
    ];
    for (const [make, reason] of cases) {
      const before = await refusals(reason);
      const raw = await RawV5.open(d.port);
      const clientId = `refused-${reason}`;
      raw.send(connectPacket5(clientId, { username: 'sensor-9', properties: auth('JWT', await token()) }));
      assert.equal((await raw.next('connack')).reasonCode, 0);
      const bad = await make();
      raw.send({ cmd: 'auth', reasonCode: 0x19, properties: auth('JWT', bad) });
      assert.equal((await raw.next('disconnect')).reasonCode, 0x87, reason);
      await raw.whenClosed();
      assert.equal(await refusals(reason), before + 1);
      const line = d.logs.find((l) => l.msg === 'authentication refused' && l.clientId === clientId);
      assert.equal(line?.reason, reason);
      assert.equal(line?.reauthentication, true);
      assert.ok(!d.logText().includes(bad), 'never the token');
    }
  });

  it('AUTH with another method gets DISCONNECT 0x8C; AUTH without enhanced authentication, or before CONNACK, is a Protocol Error (0x82)', async () => {
    const other = await RawV5.open(d.port);
    other.send(connectPacket5('other-method', { username: 'sensor-9', properties: auth('JWT', await token()) }));
    await other.next('connack');
    other.send({ cmd: 'auth', reasonCode: 0x19, properties: auth('OAUTH2-JWT', await token()) });
    assert.equal((await other.next('disconnect')).reasonCode, 0x8c);

    const password = await RawV5.open(d.port);
    password.send(connectPacket5('password-client', { username: 'sensor-9', password: Buffer.from(await token()) }));
    await password.next('connack');
    password.send({ cmd: 'auth', reasonCode: 0x19, properties: auth('JWT', await token()) });
    assert.equal((await password.next('disconnect')).reasonCode, 0x82);

    const early = await RawV5.open(d.port);
    early.sendBytes(
      Buffer.concat([
        mqttPacket.generate(connectPacket5('early', { username: 'sensor-9', properties: auth('JWT', await token()) }) as never, { protocolVersion: 5 }),
        mqttPacket.generate({ cmd: 'auth', reasonCode: 0x19, properties: auth('JWT', await token()) } as never, { protocolVersion: 5 }),
      ]),
    );
    await early.whenClosed();
    // The gateway keeps serving everybody else.
    const c = await connect5Ok(d.port, { username: 'sensor-9', clientId: 'after-all-that', properties: auth('JWT', await token()) });
    c.end(true);
  });

  it('mqtt.js renews in-session as docs/authentication.md shows (AUTH 0x19 written on its stream)', async () => {
    const client = await connect5Ok(d.port, { username: 'sensor-9', clientId: 'mqttjs-renew', properties: auth('JWT', await token({ exp: now() + 60 })) });
    const renewed = new Promise<number>((resolve) => client.on('packetreceive', (p) => p.cmd === 'auth' && resolve(p.reasonCode ?? -1)));
    // The documented snippet: mqtt.js has no public AUTH call, so the packet is encoded with mqtt-packet (its own codec).
    const renew = (fresh: string): void =>
      void client.stream.write(
        mqttPacket.generate(
          { cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'JWT', authenticationData: Buffer.from(fresh) } },
          { protocolVersion: 5 },
        ),
      );
    renew(await token({ exp: now() + 7200 }));
    assert.equal(await renewed, 0);
    const closed = serverDisconnect(client, 10_000).catch(() => 'still connected');
    time.advance(200_000);
    assert.equal((await publish5(client, 'any/topic', 'x')).reasonCode, 0, 'connected past the first exp');
    assert.deepEqual(await subscribe(client, 'any/#', 1), [1]);
    client.end(true);
    await closed;
    await waitUntil(() => !client.connected, { what: 'the close' });
  });
});

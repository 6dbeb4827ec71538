// The Mosquitto command-line clients 2.0.11 speaking MQTT 5 (-V mqttv5) to the real
// daemon: an independent MQTT 5 implementation (libmosquitto) for the token as a
// password, properties set with -D and printed back with mosquitto_sub -F, a
// persistent session (Session Expiry Interval, MQTT 5.0 section 3.1.2.11.2),
// enhanced authentication with the token as Authentication Data (section 4.12),
// and the reason codes of refusals as these clients print them (section 2.4).
// Every expected output below was first read off the real programs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { type RunResult, run } from './support/mosquitto.js';

const SECRET = 'mosquitto-v5-test-secret-0123456789';
const BAD_PASSWORD = 'Connection error: Bad User Name or Password\n';
/** What mosquitto_pub adds after a refused CONNACK (mosquitto_sub does not). */
const PUB_PROTOCOL_ERROR = 'Error: A network protocol error occurred when communicating with the broker.\n';

/** A mosquitto_sub running in the background, past its SUBACK (-d prints "Subscribed (mid: 1): <codes>"). */
interface Subscriber {
  granted: string;
  /** Its exit, with stdout reduced to the -F lines (each starts with "MSG|"). */
  done: Promise<RunResult & { messages: string[] }>;
}

// Rate limiting is off: the deliberate refusals all come from 127.0.0.1.
describe('mosquitto_pub / mosquitto_sub -V mqttv5 against edgegate', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  let token: string;
  const mint = (claims: Record<string, unknown> = {}): Promise<string> => hsToken(SECRET, { sub: 'mosq5', exp: nowSec() + 600, ...claims });
  const base = (): string[] => ['-h', '127.0.0.1', '-p', String(d.port), '-V', 'mqttv5'];
  const pub = (...args: string[]): Promise<RunResult> => run('mosquitto_pub', [...base(), ...args]);
  const sub = (...args: string[]): Promise<RunResult> => run('mosquitto_sub', [...base(), ...args]);
  const messages = (stdout: string): string[] => stdout.split('\n').filter((l) => l.startsWith('MSG|'));

  function subscriber(...args: string[]): Promise<Subscriber> {
    return new Promise((resolve, reject) => {
      // stdout is a pipe here, so stdio would hold the "Subscribed" line until exit: line buffering.
      const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...base(), '-d', '-W', '10', ...args]);
      let stdout = '';
      let stderr = '';
      let subscribed = false;
      const done = new Promise<RunResult & { messages: string[] }>((r) => child.on('close', (code) => r({ code, stdout, stderr, messages: messages(stdout) })));
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        const m = /Subscribed \(mid: \d+\): ([\d, ]+)\n/.exec(stdout);
        if (m && !subscribed) resolve({ granted: m[1]!, done }), (subscribed = true);
      });
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      void done.then((r) => subscribed || reject(new Error(`mosquitto_sub exited ${r.code} before its SUBACK: ${stderr}${stdout}`)));
    });
  }

  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } });
    token = await mint();
  });
  after(() => d.stop());

  it('publishes and subscribes with the token as the password; mosquitto_pub sends no client id and gets one assigned', async () => {
    const s = await subscriber('-u', 'u', '-P', token, '-t', 'v5/basic', '-q', '1', '-C', '1', '-F', 'MSG|%t|%p|%q');
    assert.equal(s.granted, '1');
    const p = await pub('-u', 'u', '-P', token, '-t', 'v5/basic', '-m', 'hello', '-q', '1', '-d');
    assert.equal(p.code, 0, p.stderr);
    // An empty client id under MQTT 5 gets an Assigned Client Identifier in the CONNACK (section 3.2.2.3.7).
    assert.match(p.stdout, /^Client \(null\) sending CONNECT\nClient aedes_[0-9a-f-]{36} received CONNACK \(0\)\n/);
    assert.match(p.stdout, /received PUBACK \(Mid: 1, RC:0\)/);
    const r = await s.done;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.messages, ['MSG|v5/basic|hello|1']);
  });

  it('-D publish properties arrive as sent: user properties, content type, response topic, correlation data, message expiry, payload format', async () => {
    const s = await subscriber('-u', 'u', '-P', token, '-t', 'v5/props/#', '-C', '1', '-F', 'MSG|%t|%p|%P|%C|%R|%D|%E|%F');
    const p = await pub(
      '-u',
      'u',
      '-P',
      token,
      '-t',
      'v5/props/t',
      '-m',
      '{"t":21.5}',
      '-q',
      '1',
      '-D',
      'publish',
      'user-property',
      'unit',
      'celsius',
      '-D',
      'publish',
      'user-property',
      'site',
      'nord',
      '-D',
      'publish',
      'content-type',
      'application/json',
      '-D',
      'publish',
      'response-topic',
      'v5/reply/1',
      '-D',
      'publish',
      'correlation-data',
      'req-42',
      '-D',
      'publish',
      'message-expiry-interval',
      '300',
      '-D',
      'publish',
      'payload-format-indicator',
      '1',
    );
    assert.equal(p.code, 0, p.stderr);
    const [line] = (await s.done).messages;
    const [, topic, payload, user, contentType, responseTopic, correlation, expiry, format] = line!.split('|');
    assert.deepEqual(
      [topic, payload, user, contentType, responseTopic, correlation, format],
      ['v5/props/t', '{"t":21.5}', 'unit:celsius site:nord', 'application/json', 'v5/reply/1', 'req-42', '1'],
    );
    // The remaining interval is sent on delivery (section 3.3.2.3.3).
    assert.ok(Number(expiry) <= 300 && Number(expiry) >= 298, `message expiry ${expiry}`);
  });

  it('a persistent session: the QoS 1 messages published while mosquitto_sub is away are delivered on its return with -c -i ID', async () => {
    const id = 'mosq-v5-persistent';
    // First visit: clean start with a Session Expiry Interval, set with -D connect; exit after the SUBACK.
    const first = await sub('-u', 'u', '-P', token, '-i', id, '-q', '1', '-t', 'v5/queue/#', '-D', 'connect', 'session-expiry-interval', '300', '-E');
    assert.equal(first.code, 0, first.stderr);
    for (let i = 1; i <= 3; i++) {
      const p = await pub('-u', 'u', '-P', token, '-t', `v5/queue/${i}`, '-m', `m${i}`, '-q', '1', '-D', 'publish', 'user-property', 'n', String(i));
      assert.equal(p.code, 0, p.stderr);
    }
    // The return: -c (Clean Start 0). -c already sets a Session Expiry Interval (-x, default
    // never), so libmosquitto 2.0.11 refuses a -D connect session-expiry-interval beside it.
    const clash = await sub('-u', 'u', '-P', token, '-i', id, '-c', '-t', 'v5/queue/#', '-D', 'connect', 'session-expiry-interval', '300', '-E');
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /Error in CONNECT properties: Duplicate property in property list/);
    const back = await sub('-u', 'u', '-P', token, '-i', id, '-c', '-x', '300', '-q', '1', '-t', 'v5/queue/#', '-C', '3', '-W', '5', '-F', 'MSG|%t|%p|%q|%P');
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(messages(back.stdout).sort(), ['MSG|v5/queue/1|m1|1|n:1', 'MSG|v5/queue/2|m2|1|n:2', 'MSG|v5/queue/3|m3|1|n:3']);
  });

  it('enhanced authentication: -D connect authentication-method JWT (or OAUTH2-JWT) with the token as authentication-data, no -u/-P', async () => {
    const auth = (method: string, data: string): string[] => ['-D', 'connect', 'authentication-method', method, '-D', 'connect', 'authentication-data', data];
    const s = await subscriber(...auth('JWT', token), '-t', 'v5/enhanced', '-C', '2', '-F', 'MSG|%p');
    for (const method of ['JWT', 'OAUTH2-JWT']) {
      const p = await pub(...auth(method, token), '-t', 'v5/enhanced', '-m', method, '-q', '1');
      assert.equal(p.code, 0, p.stderr);
    }
    assert.deepEqual((await s.done).messages, ['MSG|JWT', 'MSG|OAUTH2-JWT']);
    // Refusals, as the exit code (the CONNACK reason code) and the message libmosquitto prints.
    const bad = await pub(...auth('JWT', await hsToken('another-secret-0123456789', { sub: 'x' })), '-t', 'v5/enhanced', '-m', 'x');
    assert.deepEqual([bad.code, bad.stderr], [0x86, BAD_PASSWORD + PUB_PROTOCOL_ERROR]);
    const other = await pub(...auth('SCRAM-SHA-256', token), '-t', 'v5/enhanced', '-m', 'x');
    assert.deepEqual([other.code, other.stderr], [0x8c, 'Connection error: Bad authentication method\n' + PUB_PROTOCOL_ERROR]);
  });

  it(
    'a bad token: CONNACK 0x86, so exit code 134 and "Bad User Name or Password" ' + '(under 3.1.1: exit 4, "Connection Refused: bad user name or password.")',
    async () => {
      for (const password of ['not-a-token', await hsToken('another-secret-0123456789', { sub: 'x' }), await mint({ exp: nowSec() - 3600 })]) {
        const p = await pub('-u', 'u', '-P', password, '-t', 'v5/x', '-m', 'x', '-q', '1');
        assert.deepEqual([p.code, p.stderr], [134, BAD_PASSWORD + PUB_PROTOCOL_ERROR]);
        const s = await sub('-u', 'u', '-P', password, '-t', 'v5/x', '-W', '3');
        assert.deepEqual([s.code, s.stderr], [134, BAD_PASSWORD]);
      }
    },
  );

  it(
    'ACL: a denied subscription is SUBACK 0x87 ("All subscription requests were ' +
      'denied.", exit 0); a denied QoS 1 publish prints PUBACK 0x87 and its Reason String',
    async () => {
      const limited = await mint({ acl: { pub: ['v5/acl/ok/#'], sub: ['v5/acl/ok/#'] } });
      const denied = await sub('-u', 'u', '-P', limited, '-t', 'v5/other/#', '-W', '5');
      assert.deepEqual([denied.code, denied.stderr, denied.stdout], [0, 'All subscription requests were denied.\n', '']);
      const mixed = await sub('-u', 'u', '-P', limited, '-t', 'v5/other/#', '-t', 'v5/acl/ok/#', '-q', '1', '-d', '-E');
      assert.match(mixed.stdout, /Subscribed \(mid: 1\): 135, 1\n/);
      const p = await pub('-u', 'u', '-P', limited, '-t', 'v5/other/x', '-m', 'x', '-q', '1', '-d');
      assert.equal(p.code, 0, 'the connection stays and the client ends normally');
      assert.match(p.stdout, /received PUBACK \(Mid: 1, RC:135\)/);
      assert.equal(p.stderr, 'Warning: Publish 1 failed: Not authorized.\npublish denied by the token ACL\n');
    },
  );

  it('-D connect maximum-packet-size: a message larger than the subscriber accepts is not sent to it [MQTT-3.1.2-25]', async () => {
    const s = await subscriber(
      '-u',
      'u',
      '-P',
      token,
      '-t',
      'v5/mps/#',
      '-q',
      '1',
      '-C',
      '1',
      '-D',
      'connect',
      'maximum-packet-size',
      '100',
      '-F',
      'MSG|%t|%l',
    );
    for (const [topic, size] of [
      ['v5/mps/big', 300],
      ['v5/mps/small', 5],
    ] as const) {
      const p = await pub('-u', 'u', '-P', token, '-t', topic, '-m', 'x'.repeat(size), '-q', '1');
      assert.equal(p.code, 0, p.stderr);
    }
    assert.deepEqual((await s.done).messages, ['MSG|v5/mps/small|5']);
  });
});

// End to end over real pseudo-terminals (socat): a real in-process daemon opens one
// side of each pair, the test plays the device on the other, and a real mqtt.js
// client with a token watches the broker. Unplugging is killing socat.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { PublishOrigin } from '../../src/broker/broker.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { Device, SocatPair, unplugAll } from './support/socat.js';

const SECRET = 'serial-test-secret-0123456789abcdef';
const REOPEN = { minSec: 0.05, maxSec: 0.2 };
const token = (acl: Record<string, unknown>): Promise<string> => hsToken(SECRET, { sub: 'tester', exp: nowSec() + 600, acl });

interface PortStatus {
  name: string;
  state: string;
  path: string;
  lines: { published: number; invalid: number; oversized: number };
  commands: { written: number; dropped: number };
  errors: number;
  lastError: { code: string } | null;
}

describe('serial ports end to end over socat PTYs', function () {
  this.timeout(30_000);
  let dir: string;
  const pairs: Record<string, SocatPair> = {};
  const devices: Record<string, Device> = {};
  let d: TestDaemon;
  let watcher: MqttClient;
  let inbox: ReturnType<typeof collector>;
  const clients: MqttClient[] = [];
  const origins: PublishOrigin[] = [];

  const status = (name: string): PortStatus => {
    const ports = (d.daemon.status.snapshot().serial as { ports: PortStatus[] }).ports;
    return ports.find((p) => p.name === name)!;
  };
  const counts = new Map<string, number>();
  const count = (topic: string): number => counts.get(topic) ?? 0;
  const onTopic = (topic: string): string[] => inbox.messages.filter((m) => m.topic === topic).map((m) => m.payload);
  const waitForOn = (topic: string, n: number, ms = 5000): Promise<void> =>
    waitUntil(() => count(topic) >= n, { timeoutMs: ms, what: `${n} messages on ${topic} (have ${count(topic)})` });
  const plugDevice = async (name: string): Promise<void> => {
    await pairs[name]!.plug();
    await waitUntil(() => status(name).state === 'open', { what: `${name} to open` });
    devices[name] = await Device.open(pairs[name]!.deviceSide);
  };

  before(async () => {
    dir = SocatPair.tempDir();
    for (const name of ['js', 'kv', 'tx', 'late']) pairs[name] = new SocatPair(dir, name);
    const notTty = join(dir, 'plain-file');
    writeFileSync(notTty, 'not a tty\n');
    await Promise.all(['js', 'kv', 'tx'].map((n) => pairs[n]!.plug()));
    d = await startDaemon({
      auth: { jwt: { secret: SECRET } },
      serial: {
        ports: [
          { name: 'js', path: pairs.js!.daemonSide, format: 'json', qos: 1, commandTopic: 'cmd/%n', reopen: REOPEN },
          { name: 'kv', path: pairs.kv!.daemonSide, format: 'kv', reopen: REOPEN },
          { name: 'tx', path: pairs.tx!.daemonSide, format: 'text', topic: 'text/%n', retain: true, reopen: REOPEN },
          // Its device is not there at start-up.
          { name: 'late', path: pairs.late!.daemonSide, format: 'kv', reopen: REOPEN },
          // Not a serial device at all.
          { name: 'notty', path: notTty, reopen: REOPEN },
        ],
      },
    } as never);
    d.daemon.broker!.addPublishInterceptor((_packet, origin) => void (origin.kind === 'internal' && origins.length < 10 && origins.push(origin)));
    for (const n of ['js', 'kv', 'tx']) {
      await waitUntil(() => status(n).state === 'open', { what: `${n} to open` });
      devices[n] = await Device.open(pairs[n]!.deviceSide);
    }
    watcher = await connectOk(d.port, { username: 'watch', password: await token({ sub: ['#'] }), clientId: 'serial-watch' });
    inbox = collector(watcher);
    watcher.on('message', (topic) => counts.set(topic, count(topic) + 1));
    assert.deepEqual(await subscribe(watcher, ['sensors/#', 'text/#'], 1), [1, 1]);
  });

  after(async () => {
    await end(watcher, ...clients);
    await Promise.all(Object.values(devices).map((dev) => dev.close().catch(() => undefined)));
    await d?.stop();
    await unplugAll(dir);
  });

  it('delivers JSON (compact), kv (typed) and text lines to MQTT subscribers', async () => {
    await devices.js!.write('{ "t": 21.5, "unit": "C" }\r\n');
    await devices.kv!.write('t=21.5 h=40 ok=true\n');
    await devices.tx!.write('hello serial world\n');
    await waitForOn('sensors/js/data', 1);
    await waitForOn('sensors/kv/data', 1);
    await waitForOn('text/tx', 1);
    assert.deepEqual(onTopic('sensors/js/data'), ['{"t":21.5,"unit":"C"}']);
    assert.deepEqual(onTopic('sensors/kv/data'), ['{"t":21.5,"h":40,"ok":true}']);
    assert.deepEqual(onTopic('text/tx'), ['hello serial world']);
    assert.deepEqual(
      origins.find((o) => o.kind === 'internal' && o.source === 'serial:js'),
      { kind: 'internal', source: 'serial:js' },
      'publish interceptors (the bridge) see serial messages',
    );
  });

  it('retains a retain:true port message for later subscribers', async () => {
    const late = await connectOk(d.port, { username: 'late', password: await token({ sub: ['text/#'] }), clientId: 'serial-late-sub' });
    clients.push(late);
    const got = collector(late);
    await subscribe(late, 'text/tx', 0);
    await got.waitFor(1);
    assert.deepEqual(got.messages[0], { topic: 'text/tx', payload: 'hello serial world', retain: true });
  });

  it('drops invalid JSON between valid lines, counts it and never publishes a partial message', async () => {
    const before = onTopic('sensors/js/data').length;
    const invalid = status('js').lines.invalid;
    await devices.js!.write('{"seq":1}\n{"seq":\nnot json at all\n{"seq":2}\n');
    await waitForOn('sensors/js/data', before + 2);
    assert.deepEqual(onTopic('sensors/js/data').slice(before), ['{"seq":1}', '{"seq":2}']);
    assert.equal(status('js').lines.invalid, invalid + 2);
    assert.ok(
      d.logs.some((l) => l.port === 'js' && l.reason === 'SERIAL_INVALID_JSON'),
      'logged with the port name',
    );
  });

  it('survives 100 KB of noise without a delimiter and publishes the next valid line', async () => {
    const before = onTopic('sensors/kv/data').length;
    const noise = randomBytes(100 * 1024);
    for (let i = 0; i < noise.length; i++) if (noise[i] === 0x0a) noise[i] = 0x41;
    await devices.kv!.write(noise);
    await devices.kv!.write('\nafter=1 noise=true\n');
    await waitForOn('sensors/kv/data', before + 1);
    assert.deepEqual(onTopic('sensors/kv/data').slice(before), ['{"after":1,"noise":true}']);
    assert.equal(status('kv').lines.oversized, 1);
    assert.equal(status('kv').state, 'open');
  });

  it('writes a command published to MQTT to the device; a token whose ACL denies the topic gets nothing through', async () => {
    const denied = await connectOk(d.port, { username: 'other', password: await token({ pub: ['other/#'] }), clientId: 'serial-denied' });
    const allowed = await connectOk(d.port, { username: 'ctl', password: await token({ pub: ['cmd/js'] }), clientId: 'serial-ctl' });
    clients.push(denied, allowed);
    // QoS 1: the PUBACK means the broker has handled (here: rerouted) the denied publish.
    await publish(denied, 'cmd/js', 'SPOOFED', { qos: 1 });
    await publish(allowed, 'cmd/js', 'LED ON', { qos: 1 });
    await waitUntil(() => devices.js!.received.includes('\n'), { what: 'the command on the device' });
    assert.equal(devices.js!.received, 'LED ON\n');
    assert.equal(status('js').commands.written, 1);
    devices.js!.received = '';
  });

  it('an unplugged device (socat killed) is reopened once plugged back, without affecting other ports', async () => {
    const errors = status('js').errors;
    await devices.js!.close();
    await pairs.js!.unplug();
    await waitUntil(() => status('js').state === 'waiting', { what: 'js to notice the unplug' });
    // Other ports keep working.
    const kvBefore = onTopic('sensors/kv/data').length;
    await devices.kv!.write('during=unplug\n');
    await waitForOn('sensors/kv/data', kvBefore + 1);
    // A command while unplugged is dropped and counted, not buffered.
    const ctl = await connectOk(d.port, { username: 'ctl', password: await token({ pub: ['cmd/js'] }), clientId: 'serial-ctl-2' });
    clients.push(ctl);
    await publish(ctl, 'cmd/js', 'WHILE UNPLUGGED', { qos: 1 });
    await waitUntil(() => status('js').commands.dropped === 1, { timeoutMs: 2000, what: 'the dropped command to be counted' });

    await plugDevice('js');
    assert.ok(status('js').errors > errors);
    const before = onTopic('sensors/js/data').length;
    await devices.js!.write('{"replugged":true}\n');
    await waitForOn('sensors/js/data', before + 1);
    assert.deepEqual(onTopic('sensors/js/data').slice(before), ['{"replugged":true}']);
    await publish(ctl, 'cmd/js', 'AGAIN', { qos: 1 });
    await waitUntil(() => devices.js!.received.includes('\n'), { what: 'the command after replug' });
    assert.equal(devices.js!.received, 'AGAIN\n', 'the command sent while unplugged never arrives');
    const closedLogs = d.logs.filter((l) => l.port === 'js' && l.msg === 'serial port closed; reopening with backoff');
    assert.equal(closedLogs.length, 1, 'the unplug is logged once');
    const missingLogs = d.logs.filter((l) => l.port === 'js' && l.msg === 'serial port unavailable; retrying with backoff');
    assert.ok(missingLogs.length <= 1, 'the retries while the link is gone are not logged one by one');
  });

  it('a device missing at start-up is opened when it appears, with one warning for all the retries', async () => {
    assert.equal(status('late').state, 'waiting');
    assert.equal(status('late').lastError?.code, 'ENOENT');
    await plugDevice('late');
    await devices.late!.write('x=1\n');
    await waitForOn('sensors/late/data', 1);
    assert.deepEqual(onTopic('sensors/late/data'), ['{"x":1}']);
    assert.equal(d.logs.filter((l) => l.port === 'late' && l.msg === 'serial port unavailable; retrying with backoff').length, 1);
    assert.ok(status('late').errors > 1, 'it was retried');
  });

  it('a path that is not a serial device is retried and reported (ENOTTY), logged once', async () => {
    await waitUntil(() => status('notty').errors >= 3, { what: 'a few retries' });
    assert.equal(status('notty').state, 'waiting');
    assert.equal(status('notty').lastError?.code, 'ENOTTY');
    assert.equal(d.logs.filter((l) => l.port === 'notty' && l.level === 40).length, 1);
    assert.equal(d.daemon.status.healthy(), true, 'a serial port never makes the gateway unhealthy');
  });

  it('carries many lines per second from three ports at once without loss', async () => {
    const N = 2000;
    const ports = ['js', 'kv', 'tx'] as const;
    const topics = { js: 'sensors/js/data', kv: 'sensors/kv/data', tx: 'text/tx' };
    const before = Object.fromEntries(ports.map((p) => [p, count(topics[p])]));
    const line = (p: string, i: number): string => (p === 'js' ? `{"i":${i}}` : p === 'kv' ? `i=${i}` : `line ${i}`);
    const started = process.hrtime.bigint();
    await Promise.all(ports.map((p) => devices[p]!.write(Array.from({ length: N }, (_, i) => line(p, i)).join('\n') + '\n')));
    await waitUntil(() => ports.every((p) => count(topics[p]) >= before[p]! + N), { timeoutMs: 20_000, what: `${3 * N} lines` });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    for (const p of ports) {
      const got = onTopic(topics[p]).slice(before[p]);
      const want = Array.from({ length: N }, (_, i) => (p === 'kv' ? `{"i":${i}}` : line(p, i)));
      assert.deepEqual(got, want, `${p}: every line, in order`);
    }
    const metrics = await d.daemon.metrics.registry.metrics();
    for (const p of ports) assert.match(metrics, new RegExp(`edgegate_serial_lines_total\\{port="${p}",result="published"\\} \\d+`));
    assert.match(metrics, /edgegate_serial_port_open\{port="js"\} 1/);
    assert.match(metrics, /edgegate_serial_port_open\{port="late"\} 1/);
    assert.match(metrics, /edgegate_serial_port_open\{port="notty"\} 0/);
    assert.match(metrics, /edgegate_serial_commands_total\{port="js",result="dropped"\} 1/);
    assert.match(metrics, /edgegate_serial_lines_total\{port="notty",result="invalid"\} 0/, 'series exist from the start');
    // Information, not an assertion (docs/serial.md quotes it).
    console.log(`      ${3 * N} lines from 3 PTY ports delivered to an MQTT subscriber in ${ms.toFixed(0)} ms (${Math.round((3 * N) / (ms / 1000))} lines/s)`);
  });
});

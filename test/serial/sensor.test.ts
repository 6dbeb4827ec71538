// SerialSensor over @serialport/binding-mock with a hand-moved clock: framing,
// formats, reopen backoff, once-per-state-change logging, commands and counters.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { AedesPublishPacket } from 'aedes';
import { pino } from 'pino';
import type { InternalPacket } from '../../src/broker/broker.js';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { buildConfig } from '../../src/config/load.js';
import type { SerialPortConfig } from '../../src/config/types.js';
import { Metrics } from '../../src/metrics.js';
import { type SerialBroker, SerialSensor } from '../../src/serial/serialSensor.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { MockPorts } from './support/mockPorts.js';

const settle = async (rounds = 10): Promise<void> => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

class RecordingBroker implements SerialBroker {
  published: Array<{ message: InternalPacket; source: string }> = [];
  private subs: Array<{ filter: string; handler: (p: AedesPublishPacket) => void }> = [];
  delay?: Promise<void>;
  async publishInternal(message: InternalPacket, source: string): Promise<void> {
    if (this.delay) await this.delay;
    this.published.push({ message, source });
  }
  subscribeInternal(filter: string, handler: (p: AedesPublishPacket) => void): () => void {
    const sub = { filter, handler };
    this.subs.push(sub);
    return () => (this.subs = this.subs.filter((s) => s !== sub));
  }
  command(topic: string, payload: string): void {
    for (const s of this.subs)
      if (s.filter === topic)
        s.handler({
          cmd: 'publish',
          topic,
          payload: Buffer.from(payload),
          qos: 0,
          retain: false,
          dup: false,
          messageId: 0,
          brokerId: 'x',
          brokerCounter: 0,
        } as unknown as AedesPublishPacket);
  }
  subscriptions(): number {
    return this.subs.length;
  }
  payloads(): string[] {
    return this.published.map((p) => p.message.payload.toString());
  }
}

function portConfig(port: Record<string, unknown>): SerialPortConfig {
  return buildConfig({ serial: { ports: [{ name: 'p1', path: '/dev/mock1', reopen: { minSec: 1, maxSec: 8 }, ...port }] } } as never).serial.ports[0]!;
}

describe('serial sensor over binding-mock', () => {
  let time: FakeTimeSource;
  let clock: GatewayClock;
  let metrics: Metrics;
  let logs: Array<Record<string, unknown>>;
  let broker: RecordingBroker;
  let mocks: MockPorts;
  let sensor: SerialSensor | undefined;

  const make = (port: Record<string, unknown> = {}): SerialSensor => {
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        for (const l of c.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l));
        cb();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    sensor = new SerialSensor(portConfig(port), { broker, clock, logger, metrics, factory: mocks.factory });
    return sensor;
  };
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const m = (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
    return m?.value ?? 0;
  };
  const warnings = (msg: string): number => logs.filter((l) => l.level === 40 && l.msg === msg).length;

  beforeEach(() => {
    time = new FakeTimeSource(Date.UTC(2026, 0, 1));
    clock = new GatewayClock(time);
    metrics = new Metrics({ processMetrics: false });
    logs = [];
    broker = new RecordingBroker();
    mocks = new MockPorts();
    sensor = undefined;
  });
  afterEach(async () => {
    await sensor?.stop();
  });

  it('publishes json lines compact, in order, on the expanded topic as serial:<name>', async () => {
    mocks.create('/dev/mock1');
    const s = make({ topic: 'site/%n/reading', qos: 1, retain: true });
    await s.start();
    await settle();
    assert.equal(s.status().state, 'open');
    assert.equal(await metric('edgegate_serial_port_open', { port: 'p1' }), 1);
    mocks.binding('/dev/mock1').emitData('{ "t": 1 }\r\n{"t":2}\nnot json\n{"t"');
    await settle();
    mocks.binding('/dev/mock1').emitData(':3}\n');
    await settle();
    assert.deepEqual(broker.payloads(), ['{"t":1}', '{"t":2}', '{"t":3}']);
    assert.deepEqual(broker.published[0], {
      message: { topic: 'site/p1/reading', payload: Buffer.from('{"t":1}'), qos: 1, retain: true },
      source: 'serial:p1',
    });
    assert.equal(await metric('edgegate_serial_lines_total', { port: 'p1', result: 'published' }), 3);
    assert.equal(await metric('edgegate_serial_lines_total', { port: 'p1', result: 'invalid' }), 1);
    const drop = logs.find((l) => l.reason === 'SERIAL_INVALID_JSON');
    assert.ok(drop, 'the invalid line is logged');
    assert.equal(drop.sample, 'not json');
  });

  it('logs parse failures rate-limited, counts every one', async () => {
    mocks.create('/dev/mock1');
    const s = make({ format: 'kv' });
    await s.start();
    await settle();
    mocks.binding('/dev/mock1').emitData('bad\n'.repeat(50) + 't=1\n');
    await settle();
    assert.equal(await metric('edgegate_serial_lines_total', { port: 'p1', result: 'invalid' }), 50);
    assert.equal(logs.filter((l) => l.reason === 'SERIAL_INVALID_KV').length, 1);
    time.advance(10_000);
    mocks.binding('/dev/mock1').emitData('bad\n');
    await settle();
    const second = logs.filter((l) => l.reason === 'SERIAL_INVALID_KV');
    assert.equal(second.length, 2);
    assert.equal(second[1]!.suppressed, 49);
    assert.deepEqual(broker.payloads(), ['{"t":1}']);
  });

  it('counts an over-long line and publishes the next one', async () => {
    mocks.create('/dev/mock1');
    const s = make({ format: 'text', maxLineBytes: 16 });
    await s.start();
    await settle();
    mocks.binding('/dev/mock1').emitData('x'.repeat(5000));
    await settle();
    mocks.binding('/dev/mock1').emitData('more noise\nhello\n');
    await settle();
    assert.deepEqual(broker.payloads(), ['hello']);
    assert.equal(await metric('edgegate_serial_lines_total', { port: 'p1', result: 'oversized' }), 1);
    assert.deepEqual(s.status().lines as Record<string, number>, { published: 1, invalid: 0, oversized: 1 });
  });

  it("reports when the last line came and (for the status page's expander) its first 256 bytes", async () => {
    mocks.create('/dev/mock1');
    const s = make({ format: 'text' });
    await s.start();
    await settle();
    assert.equal(s.status().lastLineAt, null);
    assert.equal(s.status(true).lastLine, null);
    mocks.binding('/dev/mock1').emitData(`${'y'.repeat(300)}\n`);
    await settle();
    assert.equal(s.status().lastLineAt, new Date(clock.now()).toISOString());
    assert.equal(s.status(true).lastLine, 'y'.repeat(256));
    assert.equal('lastLine' in s.status(), false, 'the content is for the status page only, not /healthz');
  });

  it('a device absent at start is retried with doubling backoff, logged once, and opens when it appears', async () => {
    mocks.remove('/dev/mock1');
    const s = make();
    await s.start();
    await settle();
    assert.equal(s.status().state, 'waiting');
    assert.equal(mocks.opens, 1);
    // Backoff 1, 2, 4, 8, 8 s (maxSec 8).
    for (const [advance, opens] of [
      [999, 1],
      [1, 2],
      [1999, 2],
      [1, 3],
      [4000, 4],
      [8000, 5],
      [8000, 6],
    ] as const) {
      time.advance(advance);
      await settle();
      assert.equal(mocks.opens, opens, `after +${advance} ms`);
    }
    assert.equal(warnings('serial port unavailable; retrying with backoff'), 1, 'one warning, not one per retry');
    assert.equal((s.status().lastError as { code: string }).code, 'ENOENT');
    assert.equal(s.status().errors, 6);
    mocks.plug('/dev/mock1');
    time.advance(8000);
    await settle();
    assert.equal(s.status().state, 'open');
    assert.equal(logs.filter((l) => l.msg === 'serial port open').length, 1);
    mocks.binding('/dev/mock1').emitData('{"back":1}\n');
    await settle();
    assert.deepEqual(broker.payloads(), ['{"back":1}']);
  });

  it('names the reason of a failed open from bindings-cpp messages, logging again only when it changes', async () => {
    mocks.create('/dev/mock1');
    const s = make({ reopen: { minSec: 1, maxSec: 1 } });
    const steps: Array<[string, string]> = [
      ['Error: Permission denied, cannot open /dev/mock1', 'EACCES'],
      ['Error: Permission denied, cannot open /dev/mock1', 'EACCES'],
      ['Error Resource temporarily unavailable Cannot lock port', 'EBUSY'],
      ['Error: Inappropriate ioctl for device setting custom baud rate of 9600', 'ENOTTY'],
      ['Error: No such file or directory, cannot open /dev/mock1', 'ENOENT'],
      ['something else entirely', 'ERROR'],
    ];
    mocks.failWith('/dev/mock1', steps[0]![0]);
    await s.start();
    for (const [i, [message, code]] of steps.entries()) {
      mocks.failWith('/dev/mock1', message);
      if (i > 0) time.advance(1000);
      await settle();
      assert.equal((s.status().lastError as { code: string }).code, code, message);
    }
    const warned = logs.filter((l) => l.msg === 'serial port unavailable; retrying with backoff');
    assert.deepEqual(
      warned.map((l) => l.code),
      ['EACCES', 'EBUSY', 'ENOTTY', 'ENOENT', 'ERROR'],
    );
    assert.equal(warned[0]!.hint, 'add the user running edgegate to the dialout group');
    mocks.failWith('/dev/mock1', undefined);
    time.advance(1000);
    await settle();
    assert.equal(s.status().state, 'open');
  });

  it('an open that never completes is abandoned after 10 s and retried', async () => {
    mocks.create('/dev/mock1');
    mocks.hanging.add('/dev/mock1');
    const s = make();
    await s.start();
    await settle();
    time.advance(9999);
    await settle();
    assert.equal(mocks.opens, 1);
    time.advance(1);
    await settle();
    assert.equal((s.status().lastError as { code: string }).code, 'ETIMEDOUT');
    mocks.hanging.delete('/dev/mock1');
    time.advance(1000);
    await settle();
    assert.equal(mocks.opens, 2);
    assert.equal(s.status().state, 'open');
  });

  it('an unplugged device is closed, reopened with backoff, and delivers again; a partial line is dropped', async () => {
    mocks.create('/dev/mock1');
    const s = make();
    await s.start();
    await settle();
    time.advance(60_000); // open long enough: the backoff starts afresh after the unplug
    mocks.binding('/dev/mock1').emitData('{"a":1}\n{"partial":');
    await settle();
    mocks.unplug('/dev/mock1');
    await settle();
    assert.equal(s.status().state, 'waiting');
    assert.equal(await metric('edgegate_serial_port_open', { port: 'p1' }), 0);
    assert.equal(warnings('serial port closed; reopening with backoff'), 1);
    assert.equal(logs.find((l) => l.msg === 'serial port closed; reopening with backoff')!.disconnected, true);
    time.advance(1000);
    time.advance(2000);
    await settle();
    assert.equal(s.status().state, 'waiting');
    mocks.plug('/dev/mock1');
    time.advance(4000);
    await settle();
    assert.equal(s.status().state, 'open');
    mocks.binding('/dev/mock1').emitData('1}\n{"b":2}\n');
    await settle();
    // "1}" alone is not JSON: the half line from before the unplug never joins it.
    assert.deepEqual(broker.payloads(), ['{"a":1}', '{"b":2}']);
    assert.equal(warnings('serial port closed; reopening with backoff'), 1);
  });

  it('writes commands followed by the delimiter; drops and counts them while closed', async () => {
    mocks.create('/dev/mock1');
    const s = make({ commandTopic: 'cmd/%n', delimiter: '\r\n' });
    await s.start();
    await settle();
    broker.command('cmd/p1', 'LED ON');
    await settle();
    assert.equal(mocks.binding('/dev/mock1').recording.toString(), 'LED ON\r\n');
    mocks.unplug('/dev/mock1');
    await settle();
    broker.command('cmd/p1', 'LED OFF');
    mocks.plug('/dev/mock1');
    time.advance(1000);
    await settle();
    assert.equal(s.status().state, 'open');
    await settle();
    assert.equal(mocks.binding('/dev/mock1').recording.toString(), '', 'the command sent while unplugged is not replayed');
    assert.equal(await metric('edgegate_serial_commands_total', { port: 'p1', result: 'written' }), 1);
    assert.equal(await metric('edgegate_serial_commands_total', { port: 'p1', result: 'dropped' }), 1);
    assert.deepEqual(s.status().commands, { written: 1, dropped: 1 });
  });

  it('pauses reading while the broker is slow and loses nothing', async () => {
    mocks.create('/dev/mock1');
    const s = make({ format: 'text' });
    await s.start();
    await settle();
    let release!: () => void;
    broker.delay = new Promise((r) => (release = r));
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i}`);
    mocks.binding('/dev/mock1').emitData(lines.join('\n') + '\n');
    await settle(50);
    assert.equal(broker.published.length, 0);
    broker.delay = undefined;
    release();
    for (let i = 0; i < 200 && broker.published.length < 3000; i++) await settle();
    assert.deepEqual(broker.payloads(), lines);
  });

  for (const format of ['json', 'kv', 'text'] as const) {
    it(`garbage never crashes a ${format} port; the line after it is published whole`, async () => {
      mocks.create('/dev/mock1');
      const s = make({ format, maxLineBytes: 64 });
      await s.start();
      await settle();
      let seed = 7;
      const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      let lines = 0;
      for (let chunk = 0; chunk < 200; chunk++) {
        const bytes = Buffer.alloc(1 + Math.floor(rand() * 300));
        for (let i = 0; i < bytes.length; i++) bytes[i] = rand() < 0.03 ? 0x0a : Math.floor(rand() * 256);
        lines += bytes.filter((b) => b === 0x0a).length;
        mocks.binding('/dev/mock1').emitData(bytes);
        await settle(2);
      }
      const last = { json: ['{"end":1}', '{"end":1}'], kv: ['end=1', '{"end":1}'], text: ['END', 'END'] }[format];
      mocks.binding('/dev/mock1').emitData(`\n${last[0]}\n`);
      await settle();
      assert.equal(s.status().state, 'open');
      const c = s.status().lines as { published: number; invalid: number; oversized: number };
      assert.ok(c.published + c.invalid + c.oversized <= lines + 2, JSON.stringify(c));
      assert.equal(broker.payloads().at(-1), last[1], 'the line after the garbage is published whole');
      if (format === 'json') for (const p of broker.payloads()) JSON.parse(p);
    });
  }

  it('an error event on the open stream closes it and reopens, without crashing', async () => {
    mocks.create('/dev/mock1');
    const s = make();
    await s.start();
    await settle();
    mocks.streams.at(-1)!.emit('error', new Error('EIO: input/output error'));
    await settle();
    assert.equal(s.status().state, 'waiting');
    time.advance(1000);
    await settle();
    assert.equal(s.status().state, 'open');
    assert.equal((s.status().lastError as { code: string }).code, 'EIO');
  });

  it('stop() closes the port, unsubscribes and leaves no timer behind', async () => {
    mocks.remove('/dev/mock1');
    const s = make({ commandTopic: 'cmd/%n' });
    await s.start();
    await settle();
    assert.equal(broker.subscriptions(), 1);
    assert.ok(time.pendingTimers() >= 1);
    await s.stop();
    assert.equal(time.pendingTimers(), 0);
    assert.equal(broker.subscriptions(), 0);
    assert.equal(s.status().state, 'closed');
    mocks.create('/dev/mock1');
    const t = make();
    await t.start();
    await settle();
    assert.ok(mocks.isOpen('/dev/mock1'));
    await t.stop();
    assert.ok(!mocks.isOpen('/dev/mock1'));
  });
});

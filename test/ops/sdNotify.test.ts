// systemd notification: READY=1, WATCHDOG=1, STOPPING=1 received on a real
// AF_UNIX datagram socket given as NOTIFY_SOCKET, from the real daemon.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { systemTimeSource } from '../../src/clock/timeSource.js';
import { SdNotifier, statusAssignment, systemdNotifySender, watchdogIntervalMs } from '../../src/ops/sdNotify.js';
import { tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { waitUntil } from '../helpers/wait.js';
import { spawnDaemon } from './support/childDaemon.js';
import { count, haveCommand, type NotifyReceiver, startNotifyReceiver } from './support/notifyReceiver.js';

function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

describe('sd_notify', () => {
  describe('watchdog interval (sd_watchdog_enabled rules)', () => {
    it('is half of WATCHDOG_USEC, in ms', () => {
      assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '60000000' }, 42), 30_000);
      assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42), 30_000);
    });
    it('is off when WATCHDOG_PID names another process', () => {
      assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '7' }, 42), null);
    });
    it('is off for a missing, zero or malformed WATCHDOG_USEC', () => {
      for (const v of [undefined, '', '0', '-5', '1e6', '12abc', '99999999999999999999']) {
        assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: v }, 42), null, String(v));
      }
    });
    it('never pings faster than every 100 ms', () => {
      assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '1000' }, 42), 100);
    });
    it('keeps STATUS= on one line', () => {
      assert.equal(statusAssignment('a\nb\r\nc'), 'STATUS=a b c');
    });
  });

  describe('notifier with an injected sender and a hand-moved clock', () => {
    function setup(env: NodeJS.ProcessEnv, alive = () => true) {
      const time = new FakeTimeSource();
      const sent: string[][] = [];
      const { logger, lines } = captureLogger();
      let status = 'serving: tcp 127.0.0.1:1883; 0 clients';
      const notifier = new SdNotifier({
        clock: new GatewayClock(time),
        logger,
        env,
        pid: 42,
        send: async (a) => void sent.push(a),
        alive,
        statusText: () => status,
      });
      return { time, sent, lines, notifier, setStatus: (s: string) => (status = s) };
    }

    it('sends nothing without NOTIFY_SOCKET', async () => {
      const { notifier, sent, time } = setup({ WATCHDOG_USEC: '1000000' });
      await notifier.ready();
      time.advance(5000);
      await notifier.stopping();
      assert.equal(notifier.enabled, false);
      assert.deepEqual(sent, []);
    });

    it('READY=1 with the status, WATCHDOG=1 every half period, STATUS only on change, STOPPING=1 last', async () => {
      const { notifier, sent, time, setStatus } = setup({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000' });
      await notifier.ready();
      assert.deepEqual(sent, [['READY=1', 'STATUS=serving: tcp 127.0.0.1:1883; 0 clients']]);
      time.advance(999);
      await Promise.resolve();
      assert.equal(sent.length, 1, 'no ping before WATCHDOG_USEC/2');
      time.advance(1);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(sent[1], ['WATCHDOG=1']);
      setStatus('serving: tcp 127.0.0.1:1883; 1 client');
      time.advance(1000);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(sent[2], ['WATCHDOG=1', 'STATUS=serving: tcp 127.0.0.1:1883; 1 client']);
      await notifier.stopping();
      assert.deepEqual(sent.at(-1), ['STOPPING=1', 'STATUS=stopping']);
      const n = sent.length;
      time.advance(10_000);
      await new Promise((r) => setImmediate(r));
      assert.equal(sent.length, n, 'no ping after STOPPING=1');
    });

    it('withholds the watchdog ping while the broker is not serving (systemd then restarts it)', async () => {
      let serving = true;
      const { notifier, sent, time, lines } = setup({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000' }, () => serving);
      await notifier.ready();
      serving = false;
      time.advance(3000);
      await new Promise((r) => setImmediate(r));
      assert.equal(count(sent, 'WATCHDOG=1'), 0);
      assert.ok(lines.some((l) => String(l.msg).includes('not sending the watchdog ping')));
      serving = true;
      time.advance(1000);
      await new Promise((r) => setImmediate(r));
      assert.equal(count(sent, 'WATCHDOG=1'), 1);
      await notifier.stopping();
    });

    it('does not arm the watchdog when WATCHDOG_PID is another process', async () => {
      const { notifier, sent, time } = setup({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '7' });
      await notifier.ready();
      time.advance(10_000);
      await new Promise((r) => setImmediate(r));
      assert.equal(count(sent, 'WATCHDOG=1'), 0);
      assert.equal(count(sent, 'READY=1'), 1);
      await notifier.stopping();
    });

    it('does not hold up the shutdown when STOPPING=1 cannot be delivered', async () => {
      const time = new FakeTimeSource();
      const { logger } = captureLogger();
      let sent = 0;
      const notifier = new SdNotifier({
        clock: new GatewayClock(time),
        logger,
        env: { NOTIFY_SOCKET: '/run/x' },
        send: (a) => (a[0] === 'STOPPING=1' ? new Promise<void>(() => void sent++) : Promise.resolve()),
      });
      await notifier.ready();
      let done = false;
      const stopping = notifier.stopping().then(() => (done = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(sent, 1);
      assert.equal(done, false);
      time.advance(1500);
      await stopping;
      assert.equal(done, true);
    });

    it('logs a failing sender once and never throws', async () => {
      const time = new FakeTimeSource();
      const { logger, lines } = captureLogger();
      let calls = 0;
      const notifier = new SdNotifier({
        clock: new GatewayClock(time),
        logger,
        env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '200000' },
        send: async () => {
          calls++;
          throw new Error('boom');
        },
      });
      await notifier.ready();
      for (let i = 0; i < 5; i++) {
        time.advance(100);
        await new Promise((r) => setImmediate(r));
      }
      await notifier.stopping();
      assert.ok(calls >= 5);
      assert.equal(lines.filter((l) => l.msg === 'systemd notification failed').length, 1);
    });
  });

  describe('through systemd-notify to a real datagram socket', () => {
    let receiver: NotifyReceiver | undefined;
    let dir: string;

    before(function () {
      if (!haveCommand('systemd-notify') || !haveCommand('perl')) {
        // eslint-disable-next-line no-console
        console.log('      skipped: needs systemd-notify (apt-get install systemd) and perl');
        this.skip();
      }
      dir = tempDir('edgegate-notify-');
    });
    afterEach(() => receiver?.close());
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('delivers to an abstract socket name (@...)', async () => {
      receiver = await startNotifyReceiver(`@edgegate-test-${randomUUID()}`);
      const env = { ...process.env, NOTIFY_SOCKET: receiver.address };
      const { logger } = captureLogger();
      const notifier = new SdNotifier({ clock: new GatewayClock(new FakeTimeSource()), logger, env, send: systemdNotifySender('systemd-notify', env) });
      await notifier.ready();
      // READY=1 is not awaited (start-up does not wait for systemd); each message is its own
      // systemd-notify process, so back-to-back calls could arrive in either order.
      await receiver.waitFor((n) => count(n, 'READY=1') === 1, 'READY=1');
      await notifier.stopping();
      await receiver.waitFor((n) => count(n, 'STOPPING=1') === 1, 'STOPPING=1');
      assert.deepEqual(receiver.notifications(), [['READY=1'], ['STOPPING=1', 'STATUS=stopping']]);
    });

    it('keeps pinging when the receiver holds the barrier descriptors (socat as NOTIFY_SOCKET)', async function () {
      if (!haveCommand('socat')) return this.skip();
      // socat keeps the file descriptor systemd-notify passes with BARRIER=1, so every
      // confirmation times out (5 s); the messages themselves must still flow.
      const path = join(dir, 'socat.sock');
      const socat = spawn('socat', ['-u', `UNIX-RECV:${path}`, '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let received = '';
      socat.stdout.on('data', (d: Buffer) => (received += d.toString()));
      try {
        await waitUntil(() => existsSync(path), { what: 'socat to bind its socket' });
        const env = { ...process.env, NOTIFY_SOCKET: path, WATCHDOG_USEC: '1000000' };
        const { logger } = captureLogger();
        const notifier = new SdNotifier({ clock: new GatewayClock(systemTimeSource), logger, env, send: systemdNotifySender('systemd-notify', env) });
        await notifier.ready();
        const occurrences = (a: string): number => received.split(a).length - 1;
        await waitUntil(() => occurrences('WATCHDOG=1') >= 2, { timeoutMs: 10_000, what: 'two WATCHDOG=1' });
        await notifier.stopping();
        await waitUntil(() => occurrences('STOPPING=1') >= 1, { what: 'STOPPING=1' });
        assert.equal(occurrences('READY=1'), 1, received);
        assert.ok(occurrences('WATCHDOG=1') >= 2, received);
        assert.equal(occurrences('STOPPING=1'), 1, received);
        assert.ok(received.indexOf('READY=1') < received.indexOf('WATCHDOG=1'));
      } finally {
        socat.kill('SIGTERM');
      }
    });

    it('the daemon sends READY=1 once it accepts connections, WATCHDOG=1 at WATCHDOG_USEC/2, STOPPING=1 on SIGTERM', async () => {
      receiver = await startNotifyReceiver(join(dir, 'notify.sock'));
      const daemon = spawnDaemon(
        {
          dataDir: join(dir, 'data'),
          log: { level: 'info' },
          listeners: { tcp: { host: '127.0.0.1', port: 0 } },
          http: { enabled: true, host: '127.0.0.1', port: 0 },
        },
        { NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: '400000' },
      );
      try {
        await receiver.waitFor((n) => count(n, 'READY=1') === 1, 'READY=1');
        const ready = receiver.notifications().find((n) => n.includes('READY=1'))!;
        // The STATUS= line sent with READY=1 names the bound MQTT port: it must accept right away.
        const status = ready.find((a) => a.startsWith('STATUS='));
        const port = Number(/tcp 127\.0\.0\.1:(\d+)/.exec(status ?? '')?.[1]);
        assert.ok(port > 0, `READY=1 came with ${JSON.stringify(ready)}`);
        await new Promise<void>((resolve, reject) => {
          const s = tcpConnect(port, '127.0.0.1', () => (s.destroy(), resolve()));
          s.once('error', reject);
        });

        // The default process metrics are on in the real daemon.
        const http = await daemon.waitForLog((l) => l.msg === 'health and metrics endpoint listening', 'http listening');
        const metrics = await (await fetch(`http://127.0.0.1:${String(http.port)}/metrics`)).text();
        for (const name of [
          'process_resident_memory_bytes',
          'process_cpu_seconds_total',
          'nodejs_eventloop_lag_seconds',
          'nodejs_heap_size_used_bytes',
          'edgegate_build_info',
        ]) {
          assert.match(metrics, new RegExp(`^${name}`, 'm'), name);
        }

        await receiver.waitFor((n) => count(n, 'WATCHDOG=1') >= 2, 'two WATCHDOG=1');
        daemon.kill('SIGTERM');
        assert.equal(await daemon.exited, 0, daemon.stderr());
        await receiver.waitFor((n) => count(n, 'STOPPING=1') === 1, 'STOPPING=1');
        const n = receiver.notifications();
        const stoppingAt = n.findIndex((m) => m.includes('STOPPING=1'));
        assert.equal(
          n.findIndex((m) => m.includes('READY=1')),
          0,
          'READY=1 first',
        );
        assert.ok(
          n.slice(stoppingAt + 1).every((m) => !m.includes('WATCHDOG=1')),
          'no WATCHDOG=1 after STOPPING=1',
        );
        assert.ok(daemon.logs.some((l) => l.msg === 'systemd watchdog enabled' && l.intervalMs === 200));
        assert.ok(!daemon.logs.some((l) => l.msg === 'systemd notification failed'), 'every notification went through');
      } finally {
        daemon.kill('SIGKILL');
        await daemon.exited;
      }
    });
  });
});

// Serial port states in /healthz and /metrics, with a real socat PTY pair as the
// sensor and a configured port whose device is missing.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/wait.js';
import { SocatPair, unplugAll } from '../serial/support/socat.js';
import { haveCommand } from './support/notifyReceiver.js';

async function healthz(d: TestDaemon): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`http://127.0.0.1:${d.httpPort}/healthz`);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function metrics(d: TestDaemon): Promise<string> {
  return (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text();
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('serial port states in health and metrics', function () {
  this.timeout(30_000);
  let dir: string;
  let pair: SocatPair;
  let d: TestDaemon;
  const port = (body: Record<string, any>, name: string): Record<string, any> =>
    (body.serial.ports as Array<Record<string, any>>).find((p) => p.name === name)!;

  before(async function () {
    if (!haveCommand('socat')) {
      // eslint-disable-next-line no-console
      console.log('      skipped: socat not found (apt-get install socat)');
      return this.skip();
    }
    dir = SocatPair.tempDir();
    pair = new SocatPair(dir, 'probe');
    await pair.plug();
    d = await startDaemon({
      http: { enabled: true },
      serial: {
        ports: [
          { name: 'probe', path: pair.daemonSide, format: 'json' },
          { name: 'absent', path: join(dir, 'no-such-device'), format: 'json' },
        ],
      } as never,
    });
  });
  after(async () => {
    await d?.stop();
    await unplugAll(dir);
  });

  it('shows an open port with its line counts and a missing one, and stays healthy', async () => {
    await waitUntil(async () => port((await healthz(d)).body, 'probe').state === 'open', { timeoutMs: 10_000, what: 'probe open' });
    appendFileSync(pair.deviceSide, '{"t":21.5}\n');
    await waitUntil(async () => port((await healthz(d)).body, 'probe').lines?.published === 1, { timeoutMs: 10_000, what: 'one line published' });
    const { status, body } = await healthz(d);
    assert.equal(status, 200, 'a missing sensor does not make the gateway unhealthy');
    assert.equal(port(body, 'probe').path, pair.daemonSide);
    assert.notEqual(port(body, 'absent').state, 'open');
    const m = await metrics(d);
    assert.equal(sample(m, 'edgegate_serial_lines_total{port="probe",result="published"}'), 1);
    assert.equal(sample(m, 'edgegate_serial_port_open{port="probe"}'), 1);
    assert.equal(sample(m, 'edgegate_serial_port_open{port="absent"}'), 0);
  });

  it('follows an unplugged device', async () => {
    await pair.unplug();
    await waitUntil(async () => port((await healthz(d)).body, 'probe').state !== 'open', { timeoutMs: 10_000, what: 'probe no longer open' });
    assert.equal(sample(await metrics(d), 'edgegate_serial_port_open{port="probe"}'), 0);
  });
});

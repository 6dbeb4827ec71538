// GET /healthz and GET /metrics of a real daemon after real MQTT connections
// and refusals; 503 when not serving; garbage requests.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { type Socket, connect as tcpConnect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';

const SECRET = 'ops-test-secret-0123456789abcdef';
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function get(d: TestDaemon, path: string, init: RequestInit = {}): Promise<{ status: number; type: string; text: string; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${d.httpPort}${path}`, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
}

/** Sample value of one metric line (exact name and labels as the registry prints them). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Sends raw bytes and resolves with whatever the server answered before closing. */
function raw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s: Socket = tcpConnect(port, '127.0.0.1', () => s.write(bytes));
    s.on('data', (d) => (got += d.toString()));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(got) : reject(err)));
    s.on('close', () => resolve(got));
    s.setTimeout(5000, () => s.destroy());
  });
}

describe('health and metrics endpoint', () => {
  let d: TestDaemon;
  const clients: MqttClient[] = [];

  before(async () => {
    d = await startDaemon({ auth: { jwt: { secret: SECRET } }, http: { enabled: true } });
    assert.ok(d.httpPort && d.httpPort > 0, 'the bound HTTP port is known');
    // Two accepted sensors that stay connected, three refusals with different reasons.
    for (const sub of ['sensor-a', 'sensor-b']) {
      const out = await connect(d.port, { username: sub, password: await hsToken(SECRET, { sub }), clientId: sub });
      assert.equal(out.returnCode, 0);
      clients.push(out.client!);
    }
    const refusals: Array<[string | undefined, string]> = [
      [await hsToken('another-secret-0123456789abcdef', { sub: 'x' }), 'bad signature'],
      [await hsToken(SECRET, { sub: 'y', exp: nowSec() - 3600 }), 'expired'],
      [undefined, 'no password'],
    ];
    for (const [password, what] of refusals) {
      const out = await connect(d.port, { username: 'u', password, clientId: `refused-${what.replace(/ /g, '-')}` });
      assert.equal(out.returnCode, 4, what);
    }
  });
  after(async () => {
    await end(...clients);
    await d?.stop();
  });

  it('GET /healthz: 200 with listeners, clients, bridge, clock, serial and storage', async () => {
    const res = await get(d, '/healthz');
    assert.equal(res.status, 200);
    assert.match(res.type, /^application\/json/);
    const body = JSON.parse(res.text) as Record<string, any>;
    assert.equal(body.status, 'ok');
    assert.equal(body.healthy, true);
    assert.equal(body.version, VERSION);
    assert.equal(body.pid, process.pid);
    assert.equal(typeof body.uptimeSec, 'number');
    assert.deepEqual(body.listeners, { tcp: { host: '127.0.0.1', port: d.port } });
    assert.equal(body.clientsConnected, 2);
    assert.equal(typeof body.bridge, 'object');
    assert.equal(typeof body.serial, 'object');
    assert.equal(body.clock.status, 'synced');
    assert.equal(typeof body.clock.offsetSec, 'number');
    assert.equal(body.storage.persistent, true);
    assert.deepEqual(body.http, { enabled: true, host: '127.0.0.1', port: d.httpPort });
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('GET /metrics: edgegate_ series with accepted/refused counts by reason and connected clients', async () => {
    const res = await get(d, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const m = res.text;
    for (const name of [
      'edgegate_clients_connected',
      'edgegate_auth_attempts_total',
      'edgegate_auth_cache_hits_total',
      'edgegate_bridge_connected',
      'edgegate_bridge_queue_messages',
      'edgegate_bridge_dropped_total',
      'edgegate_serial_lines_total',
      'edgegate_clock_offset_seconds',
      'edgegate_healthy',
      'edgegate_build_info',
    ]) {
      assert.match(m, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name);
    }
    assert.equal(sample(m, 'edgegate_clients_connected'), 2);
    assert.equal(sample(m, 'edgegate_auth_attempts_total{result="accepted",reason="VERIFIED"}'), 2);
    assert.equal(sample(m, 'edgegate_auth_attempts_total{result="refused",reason="JWT_SIGNATURE"}'), 1);
    assert.equal(sample(m, 'edgegate_auth_attempts_total{result="refused",reason="JWT_EXPIRED"}'), 1);
    assert.equal(sample(m, 'edgegate_auth_attempts_total{result="refused",reason="JWT_MISSING"}'), 1);
    assert.equal(sample(m, 'edgegate_clock_offset_seconds'), 0);
    assert.equal(sample(m, 'edgegate_healthy'), 1);
    assert.equal(sample(m, `edgegate_build_info{version="${VERSION}",node="${process.versions.node}"}`), 1);
    // Every metric of ours carries the prefix.
    const names = [...m.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1]);
    assert.ok(names.length > 10 && names.every((n) => n.startsWith('edgegate_')), names.join(' '));
  });

  it('counts a reconnection answered from the token cache', async () => {
    const token = await hsToken(SECRET, { sub: 'sensor-c' });
    for (let i = 0; i < 2; i++) {
      const out = await connect(d.port, { username: 'sensor-c', password: token, clientId: 'sensor-c' });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    }
    const m = (await get(d, '/metrics')).text;
    assert.equal(sample(m, 'edgegate_auth_cache_hits_total'), 1);
    assert.equal(sample(m, 'edgegate_auth_attempts_total{result="accepted",reason="CACHED"}'), 1);
    assert.equal(sample(m, 'edgegate_auth_attempts_total{result="accepted",reason="VERIFIED"}'), 3);
  });

  it('follows disconnects in clients_connected and /healthz', async () => {
    const gone = clients.pop()!;
    await end(gone);
    await waitUntil(async () => sample((await get(d, '/metrics')).text, 'edgegate_clients_connected') === 1, { what: 'clients_connected 1' });
    assert.equal((JSON.parse((await get(d, '/healthz')).text) as { clientsConnected: number }).clientsConnected, 1);
  });

  it('503 while a component is unhealthy, 200 again after', async () => {
    d.daemon.status.register(
      'test-probe',
      () => ({ ok: false }),
      () => false,
    );
    try {
      const res = await get(d, '/healthz');
      assert.equal(res.status, 503);
      const body = JSON.parse(res.text) as Record<string, unknown>;
      assert.equal(body.status, 'unhealthy');
      assert.equal(body.healthy, false);
      assert.deepEqual(body['test-probe'], { ok: false });
      assert.equal(sample((await get(d, '/metrics')).text, 'edgegate_healthy'), 0);
    } finally {
      d.daemon.status.unregister('test-probe');
    }
    assert.equal((await get(d, '/healthz')).status, 200);
  });

  it('404 for other paths, 405 for other methods; HEAD, query strings and a trailing slash work', async () => {
    // (GET / is the status page: test/ops/statusPageApi.test.ts.)
    for (const path of ['/health', '/metricsx', '/healthz/x', '/%zz', '//healthz/..']) {
      assert.equal((await get(d, path)).status, 404, path);
    }
    const post = await get(d, '/healthz', { method: 'POST', body: 'x'.repeat(10_000) });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await get(d, '/metrics', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await get(d, '/healthz?verbose=1')).status, 200);
    assert.equal((await get(d, '/healthz/')).status, 200);
  });

  it('survives garbage: not HTTP, oversized headers, a flood of idle connections', async () => {
    const port = d.httpPort!;
    assert.match(await raw(port, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10])), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
    const idle: Socket[] = [];
    for (let i = 0; i < 40; i++) idle.push(tcpConnect(port, '127.0.0.1').on('error', () => undefined));
    // All of them connected at once (beyond the server's connection limit), then gone.
    await waitUntil(() => idle.every((s) => !s.connecting), { what: 'the idle connections to be established' });
    for (const s of idle) s.destroy();
    await waitUntil(async () => (await get(d, '/healthz').catch(() => ({ status: 0 }))).status === 200, { what: 'healthz answers again' });
    assert.equal((await get(d, '/healthz')).status, 200);
  });
});

describe('health endpoint when not serving', () => {
  it('answers 503 once the broker has stopped serving', async () => {
    const d = await startDaemon({ http: { enabled: true } });
    try {
      assert.equal((await get(d, '/healthz')).status, 200);
      await d.daemon.broker!.stop();
      const res = await get(d, '/healthz');
      assert.equal(res.status, 503);
      const body = JSON.parse(res.text) as Record<string, any>;
      assert.equal(body.status, 'unhealthy');
      assert.equal(body.broker.serving, false);
      assert.deepEqual(body.listeners, {});
      assert.equal(body.clientsConnected, 0);
    } finally {
      await d.stop();
    }
  });

  it('is absent when http.enabled is false', async () => {
    const d = await startDaemon({ http: { enabled: false } });
    try {
      assert.equal(d.httpPort, undefined);
      assert.equal(d.daemon.status.snapshot().http, undefined);
    } finally {
      await d.stop();
    }
  });

  it('fails the start when its port is taken', async () => {
    const first = await startDaemon({ http: { enabled: true } });
    const dataDir = tempDir();
    try {
      await assert.rejects(startDaemon({ http: { enabled: true, port: first.httpPort } }, { dataDir }), /EADDRINUSE/);
    } finally {
      await first.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

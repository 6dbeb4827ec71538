// The status page's server side against a real daemon: the JSON the page reads,
// its security headers, the CSRF and same-origin defences of its actions, the
// admin login (http.pageAuth), http.metricsAuth, the start-up refusal without an
// admin key, and that its code is loaded only on the first request.
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { mintToken } from '../../src/cli/token.js';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { runCli } from '../cli/support.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { closed, connect, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { adminToken, httpRequest, PAGE_SECRET, PageSessionClient, pageDaemon, sensorToken } from './support/pageClient.js';

type Json = Record<string, any>;

function httpComponent(d: TestDaemon): { pageServer?: Promise<unknown> } {
  const started = (d.daemon as unknown as { started: Array<{ name: string }> }).started;
  return started.find((c) => c.name === 'http') as unknown as { pageServer?: Promise<unknown> };
}

describe('status page API (loopback, no login)', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  beforeEach(async () => (d = await pageDaemon()));
  afterEach(async () => d.stop());

  it('loads its code only on the first request for the page', async () => {
    assert.equal((await httpRequest(d.httpPort!, '/healthz')).status, 200);
    assert.equal(httpComponent(d).pageServer, undefined, 'not loaded by /healthz');
    assert.equal((await httpRequest(d.httpPort!, '/')).status, 200);
    assert.ok(httpComponent(d).pageServer, 'loaded by GET /');
  });

  it('serves the page with a strict CSP, no inline script, and its assets from the gateway', async () => {
    const r = await httpRequest(d.httpPort!, '/');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    for (const tag of r.text.match(/<script[^>]*>/g) ?? []) assert.match(tag, /src="\/assets\//, `inline script: ${tag}`);
    assert.doesNotMatch(r.text, /\son[a-z]+=/i, 'no inline event handlers');
    assert.doesNotMatch(r.text, /https?:\/\/(?!127\.)/, 'nothing from elsewhere (no CDN)');
    for (const [path, type] of [
      ['/assets/app.js', 'text/javascript'],
      ['/assets/uPlot.iife.min.js', 'text/javascript'],
      ['/assets/uPlot.min.css', 'text/css'],
      ['/assets/app.css', 'text/css'],
    ] as const) {
      const a = await httpRequest(d.httpPort!, path);
      assert.equal(a.status, 200, path);
      assert.ok(String(a.headers['content-type']).startsWith(type), path);
    }
    assert.equal((await httpRequest(d.httpPort!, '/assets/../package.json')).status, 404);
    assert.equal((await httpRequest(d.httpPort!, '/assets/nothing.js')).status, 404);
  });

  it('gives a session cookie (HttpOnly, SameSite=Strict) and a CSRF token', async () => {
    const r = await httpRequest(d.httpPort!, '/api/session');
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, /^edgegate_session=[\w-]{40,};/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    const body = r.json<Json>();
    assert.equal(body.authRequired, false);
    assert.equal(body.loggedIn, false);
    assert.match(body.csrf, /^[\w-]{40,}$/);
  });

  it('lists connected sensors with their session facts, never a token or its hash', async () => {
    const token = await sensorToken('sensor-a', 'jti-a');
    const s = await connectOk(d.port, { clientId: 'probe-1', username: 'alice', password: token });
    try {
      await subscribe(s, 'cmd/probe-1/#', 0);
      await publish(s, 'sensors/a', 'x', { qos: 1 });
      await publish(s, 'sensors/a', 'y', { qos: 1 });
      const status = (await httpRequest(d.httpPort!, '/api/status')).json<Json>();
      assert.equal(status.overview.healthy, true);
      assert.equal(status.overview.version.length > 0, true);
      assert.equal(status.overview.storage.persistent, true);
      assert.ok(status.overview.listeners.tcp.port > 0);
      assert.deepEqual(status.bridge, { enabled: false });
      assert.deepEqual(status.serial, { ports: [] });
      assert.equal(status.sensors.length, 1);
      const row = status.sensors[0];
      assert.equal(row.clientId, 'probe-1');
      assert.equal(row.username, 'alice');
      assert.equal(row.subject, 'sensor-a');
      assert.equal(row.jti, 'jti-a');
      assert.equal(row.address, '127.0.0.1');
      assert.equal(row.subscriptions, 1);
      assert.equal(row.messagesIn, 2);
      assert.ok(Date.parse(row.connectedAt) <= Date.now());
      assert.ok(Math.abs(Date.parse(row.expiresAt) - (decodeJwt(token).exp! + 30) * 1000) < 1000, 'expiry = exp + tolerance');
      const text = JSON.stringify(status);
      assert.ok(!text.includes(token), 'no token');
      assert.ok(!/tokenHash|payload/.test(text), 'no token hash, no claims set');
      const samples = (await httpRequest(d.httpPort!, '/api/samples')).json<Json>();
      assert.equal(samples.intervalSec, 5);
      assert.equal(samples.capacity, 720);
      assert.ok(Array.isArray(samples.series.queueDepth));
    } finally {
      await end(s);
    }
  });

  it('refuses actions without the CSRF token, from another origin, or not as JSON; performs them with it', async () => {
    const s = await connectOk(d.port, { clientId: 'victim', username: 'v', password: await sensorToken('v') });
    const page = new PageSessionClient(d.httpPort!);
    await page.open();
    const noCsrf = await httpRequest(d.httpPort!, '/api/clients/disconnect', { body: { clientId: 'victim' }, headers: { Cookie: page.cookie } });
    assert.equal(noCsrf.status, 403);
    assert.equal((await page.post('/api/clients/disconnect', { clientId: 'victim' }, { 'X-CSRF-Token': 'wrong'.padEnd(43, 'x') })).status, 403);
    assert.equal((await page.post('/api/clients/disconnect', { clientId: 'victim' }, { Origin: 'http://evil.example' })).status, 403);
    assert.equal((await page.post('/api/clients/disconnect', { clientId: 'victim' }, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.equal((await page.post('/api/clients/disconnect', { clientId: 'victim' }, { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal(s.connected, true, 'none of those did anything');
    const ok = await page.post(
      '/api/clients/disconnect',
      { clientId: 'victim' },
      { Origin: `http://127.0.0.1:${d.httpPort}`, 'Sec-Fetch-Site': 'same-origin' },
    );
    assert.equal(ok.status, 200);
    await closed(s);
    assert.equal((await page.post('/api/clients/disconnect', { clientId: 'victim' })).status, 404, 'gone');
    await end(s);
  });

  it('answers only loopback Host names without a login (no DNS rebinding)', async () => {
    assert.equal((await httpRequest(d.httpPort!, '/api/status', { headers: { Host: `rebind.example:${d.httpPort}` } })).status, 403);
    assert.equal((await httpRequest(d.httpPort!, '/api/status', { headers: { Host: `localhost:${d.httpPort}` } })).status, 200);
    assert.equal((await httpRequest(d.httpPort!, '/healthz', { headers: { Host: `rebind.example:${d.httpPort}` } })).status, 200, '/healthz as before');
  });

  it('revokes a token by jti: stored where `edgegate token revocations` lists it, the client disconnected and refused', async () => {
    const token = await sensorToken('sensor-r', 'jti-revoke-me');
    const s = await connectOk(d.port, { clientId: 'to-revoke', username: 'r', password: token });
    const page = new PageSessionClient(d.httpPort!);
    await page.open();
    assert.equal((await page.post('/api/revoke', { kind: 'jwt', value: 'x' })).status, 400);
    assert.equal((await page.post('/api/revoke', { kind: 'jti', value: '' })).status, 400);
    const r = await page.post('/api/revoke', { kind: 'jti', value: 'jti-revoke-me' });
    assert.equal(r.status, 200);
    assert.equal(r.json<Json>().disconnected, 1);
    await closed(s);
    await end(s);
    const cli = await runCli(['token', 'revocations'], { NODE_CONFIG: JSON.stringify({ dataDir: d.dataDir }) });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^jti\tjti-revoke-me\trevoked .*reason: from the status page/m);
    // Refused at once, not only after the watcher's next poll of the store.
    const again = await connect(d.port, { clientId: 'to-revoke', username: 'r', password: token, reconnectPeriod: 0 });
    await end(again.client);
    assert.equal(again.returnCode, 4);
    assert.ok(d.logs.some((l) => l.msg === 'authentication refused' && l.reason === 'JWT_REVOKED'));
  });

  it('keeps /healthz and /metrics as they were', async () => {
    assert.equal((await httpRequest(d.httpPort!, '/healthz')).status, 200);
    const m = await httpRequest(d.httpPort!, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /^edgegate_messages_delivered_total \d+$/m);
  });
});

describe('status page API with a login (http.pageAuth "always")', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  beforeEach(async () => (d = await pageDaemon({ pageAuth: 'always' })));
  afterEach(async () => d.stop());

  it('demands an admin token, refuses a sensor token, and logs neither', async () => {
    const page = new PageSessionClient(d.httpPort!);
    const session = await page.open();
    assert.equal(session.authRequired, true);
    assert.equal(session.loggedIn, false);
    for (const path of ['/api/status', '/api/samples', '/api/events']) assert.equal((await page.get(path)).status, 401, path);
    assert.equal((await page.post('/api/revoke', { kind: 'sub', value: 'x' })).status, 401);
    const sensor = await sensorToken('sensor-x');
    const refused = await page.login(sensor);
    assert.equal(refused.status, 403);
    assert.equal(refused.json<Json>().reason, 'NOT_ADMIN');
    assert.equal((await page.login('not.a.token')).status, 401);
    const wrongKey = await (await import('../helpers/tokens.js')).hsToken('another-secret', {
      sub: 'ops',
      exp: Math.floor(Date.now() / 1000) + 60,
      edgegate: { admin: true },
    });
    assert.equal((await page.login(wrongKey)).json<Json>().reason, 'JWT_SIGNATURE');
    const anonymousCookie = page.cookie;
    const admin = await adminToken('ops');
    const ok = await page.login(admin);
    assert.equal(ok.status, 200);
    assert.notEqual(page.cookie, anonymousCookie, 'a new session id at login');
    assert.match(String(ok.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    assert.equal((await page.get('/api/status')).status, 200);
    assert.equal((await page.get('/api/session')).json<Json>().subject, 'ops');
    const logs = d.logText();
    for (const secret of [admin, sensor, page.cookie.split('=')[1]!, page.csrf]) assert.ok(!logs.includes(secret), 'no token or session secret in the logs');
    assert.ok(d.logs.some((l) => l.msg === 'status page login refused' && l.reason === 'NOT_ADMIN'));
  });

  it('applies auth.jwt.verifyClaims without its %u / %c entries (a login has no MQTT user name or client id)', async () => {
    const v = await startDaemon({
      auth: { jwt: { secret: PAGE_SECRET, verifyClaims: { sub: '%u', iss: 'ops-ca' } } },
      http: { enabled: true, pageAuth: 'always' },
    } as never);
    try {
      const page = new PageSessionClient(v.httpPort!);
      await page.open();
      assert.equal((await page.login(await adminToken('ops'))).json<Json>().reason, 'JWT_CLAIM_MISMATCH', 'the literal iss claim still applies');
      assert.equal((await page.login(await adminToken('ops', { iss: 'ops-ca' }))).status, 200);
    } finally {
      await v.stop();
    }
  });

  it('ends an admin session when its token is revoked', async () => {
    const page = new PageSessionClient(d.httpPort!);
    await page.open();
    assert.equal((await page.login(await adminToken('ops2'))).status, 200);
    assert.equal((await page.get('/api/status')).status, 200);
    assert.equal((await page.post('/api/revoke', { kind: 'jti', value: 'admin-ops2' })).status, 200);
    assert.equal((await page.get('/api/status')).status, 401);
    const again = new PageSessionClient(d.httpPort!);
    await again.open();
    assert.equal((await again.login(await adminToken('ops2'))).json<Json>().reason, 'JWT_REVOKED');
  });
});

describe('http.metricsAuth', function () {
  this.timeout(20_000);

  it('requires an admin Bearer token for /metrics; /healthz stays open', async () => {
    const d = await pageDaemon({ metricsAuth: true });
    try {
      const none = await httpRequest(d.httpPort!, '/metrics');
      assert.equal(none.status, 401);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      assert.equal((await httpRequest(d.httpPort!, '/metrics', { headers: { Authorization: `Bearer ${await sensorToken()}` } })).status, 401);
      const ok = await httpRequest(d.httpPort!, '/metrics', { headers: { Authorization: `Bearer ${await adminToken()}` } });
      assert.equal(ok.status, 200);
      assert.match(ok.text, /edgegate_healthy 1/);
      assert.equal((await httpRequest(d.httpPort!, '/healthz')).status, 200);
    } finally {
      await d.stop();
    }
  });
});

describe('status page: no admin key', function () {
  this.timeout(20_000);
  // JWKS only: no local key could sign an admin token. (Nothing listens off loopback:
  // the check runs before any listener; 192.0.2.1 is TEST-NET, not on this machine.)
  const jwksOnly = { jwt: { secret: '', jwks: { url: 'http://127.0.0.1:9/jwks.json' } } };

  it('refuses to start with a non-loopback http.host, naming the key', async () => {
    await assert.rejects(
      startDaemon({ auth: jwksOnly, http: { enabled: true, host: '192.0.2.1', port: 0 } }),
      (err: unknown) => err instanceof ConfigError && err.problems[0]!.path === 'http.host' && /auth\.jwt\.secret or auth\.jwt\.pubkey/.test(err.message),
    );
  });

  it('starts with a non-loopback http.host when the status page is off and /metrics open', () => {
    // Only the check: starting would bind 192.0.2.1.
    const config = buildConfig({ auth: jwksOnly, http: { enabled: true, host: '192.0.2.1', statusPage: false } });
    return import('../../src/ops/pageAuthPolicy.js').then((m) => assert.doesNotThrow(() => m.checkPageAuth(config.http, [])));
  });

  it('`edgegate run` exits 2 naming http.host (http.pageAuth "always", JWKS only)', async () => {
    const dataDir = tempDir();
    const r = await runCli(['run'], {
      NODE_CONFIG: JSON.stringify({
        dataDir,
        log: { level: 'silent' },
        listeners: { tcp: { host: '127.0.0.1', port: 0 } },
        auth: jwksOnly,
        http: { host: '127.0.0.1', port: 0, pageAuth: 'always' },
      }),
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /http\.host: http\.pageAuth is "always", so the status page requires an admin token/);
  });
});

describe('edgegate token mint --admin', () => {
  it('adds "edgegate": {"admin": true}, keeping other edgegate claims', async () => {
    const config = buildConfig({ dataDir: tempDir(), auth: { jwt: { secret: PAGE_SECRET } } });
    const plain = decodeJwt(await mintToken(config, { sub: 'a', ttl: '1h' }));
    assert.equal(plain.edgegate, undefined);
    const admin = decodeJwt(await mintToken(config, { sub: 'a', ttl: '1h', admin: true, claim: ['edgegate={"site":"x"}'] }));
    assert.deepEqual(admin.edgegate, { site: 'x', admin: true });
  });
});

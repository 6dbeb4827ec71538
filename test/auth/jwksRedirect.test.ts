// JWKS redirects: up to 3 are followed, over https only once on https (never
// https -> http; a configured http URL, as on loopback in tests, may stay on http),
// against local redirecting servers (http and https with a test CA).
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fetchJwksDocument } from '../../src/auth/jwksFetch.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { makeTestPki } from '../helpers/pki.js';
import { nowSec } from '../helpers/tokens.js';
import { JwksServer, makeKey, signWith } from '../offline/jwksServer.js';

/** Answers each path from `routes`: a redirect (status + Location) or, for unknown paths, 404. */
class Redirector {
  routes = new Map<string, { status: number; location?: string }>();
  requests: string[] = [];
  private server?: Server;
  port = 0;
  constructor(private readonly tls?: { key: string; cert: string }) {}
  base(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const handler: RequestListener = (req, res) => {
      this.requests.push(req.url ?? '');
      const r = this.routes.get(req.url ?? '');
      if (!r) return void res.writeHead(404).end();
      res.writeHead(r.status, r.location !== undefined ? { location: r.location } : {}).end();
    };
    this.server = this.tls ? createHttpsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('JWKS redirects (auth.jwt.jwks.url)', function () {
  this.timeout(30_000);
  const dir = tempDir('edgegate-jwks-redirect-');
  const key = makeKey('redir-k', 'ES256');
  let ca: string;
  let tls: { key: string; cert: string };
  let httpsJwks: JwksServer;
  let httpJwks: JwksServer;
  let httpsHop: Redirector;
  let httpHop: Redirector;
  const opts = (): { timeoutMs: number; caPem: string } => ({ timeoutMs: 3000, caPem: ca });

  before(async () => {
    const pki = makeTestPki(dir);
    ca = readFileSync(pki.caFile, 'utf8');
    tls = { key: readFileSync(pki.keyFile, 'utf8'), cert: readFileSync(pki.certFile, 'utf8') };
    httpsJwks = new JwksServer(tls);
    httpJwks = new JwksServer();
    for (const s of [httpsJwks, httpJwks]) {
      s.keys = [key];
      await s.start();
    }
    httpsHop = new Redirector(tls);
    httpHop = new Redirector();
    await httpsHop.start();
    await httpHop.start();
    const h = httpsHop.routes;
    h.set('/one', { status: 302, location: httpsJwks.url });
    h.set('/three', { status: 301, location: '/two' }); // relative Location
    h.set('/two', { status: 307, location: `${httpsHop.base()}/one-more` });
    h.set('/one-more', { status: 308, location: httpsJwks.url });
    h.set('/four', { status: 303, location: '/three' });
    h.set('/to-http', { status: 302, location: httpJwks.url });
    h.set('/via-https-then-http', { status: 302, location: `${httpsHop.base()}/to-http` });
    h.set('/no-location', { status: 302 });
    httpHop.routes.set('/to-http', { status: 302, location: httpJwks.url });
    httpHop.routes.set('/to-https', { status: 302, location: `${httpsHop.base()}/one` });
    httpHop.routes.set('/to-https-then-http', { status: 302, location: `${httpsHop.base()}/to-http` });
  });
  after(async () => {
    for (const s of [httpsJwks, httpJwks]) await s.stop();
    await httpsHop.stop();
    await httpHop.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const keysOf = (body: string): string[] => (JSON.parse(body) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);

  it('follows https -> https redirects, up to 3 (301, 302, 307, 308, relative Location)', async () => {
    assert.deepEqual(keysOf((await fetchJwksDocument(`${httpsHop.base()}/one`, opts())).body), ['redir-k']);
    assert.deepEqual(keysOf((await fetchJwksDocument(`${httpsHop.base()}/three`, opts())).body), ['redir-k']);
  });

  it('refuses a 4th redirect', async () => {
    await assert.rejects(fetchJwksDocument(`${httpsHop.base()}/four`, opts()), /more than 3 redirects/);
  });

  it('never follows https -> http, not even after an http -> https hop', async () => {
    const before = httpJwks.requests;
    await assert.rejects(fetchJwksDocument(`${httpsHop.base()}/to-http`, opts()), /refusing a redirect from https: to http:/);
    await assert.rejects(fetchJwksDocument(`${httpsHop.base()}/via-https-then-http`, opts()), /from https: to http:/);
    await assert.rejects(fetchJwksDocument(`${httpHop.base()}/to-https-then-http`, opts()), /from https: to http:/);
    assert.equal(httpJwks.requests, before, 'the http endpoint was never asked');
  });

  it('a configured http URL may redirect to http (loopback tests) or up to https', async () => {
    assert.deepEqual(keysOf((await fetchJwksDocument(`${httpHop.base()}/to-http`, opts())).body), ['redir-k']);
    assert.deepEqual(keysOf((await fetchJwksDocument(`${httpHop.base()}/to-https`, opts())).body), ['redir-k']);
  });

  it('a redirect without Location fails clearly', async () => {
    await assert.rejects(fetchJwksDocument(`${httpsHop.base()}/no-location`, opts()), /HTTP 302 without a Location header/);
  });

  it('the daemon verifies tokens with keys reached through redirects; refuses the set behind an https -> http redirect', async () => {
    const caFile = `${dir}/ca.pem`;
    const d = await startDaemon({ auth: { jwt: { jwks: { url: `${httpsHop.base()}/three`, caFile, timeoutSec: 2 } } } });
    try {
      const out = await connect(d.port, { clientId: 'redir', username: 'u', password: await signWith(key, { sub: 's', exp: nowSec() + 600 }) });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    } finally {
      await d.stop();
    }
    const bad = await startDaemon({ auth: { jwt: { jwks: { url: `${httpsHop.base()}/to-http`, caFile, timeoutSec: 2 } } } });
    try {
      const out = await connect(bad.port, { clientId: 'redir-bad', username: 'u', password: await signWith(key, { sub: 's', exp: nowSec() + 600 }) });
      assert.equal(out.returnCode, 4);
      assert.ok(bad.logText().includes('refusing a redirect from https: to http:'), 'the reason is logged');
    } finally {
      await bad.stop();
    }
  });
});

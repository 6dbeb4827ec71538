import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { makeTestPki } from '../helpers/pki.js';
import { JwksServer, makeKey, signWith } from './jwksServer.js';
import { logsWith, nowSecOf } from './util.js';

/** The CA file, and the server key and certificate as text (node:https wants them inline). */
function makePki(dir: string): { caFile: string; key: string; cert: string } {
  const pki = makeTestPki(dir);
  return { caFile: pki.caFile, key: readFileSync(pki.keyFile, 'utf8'), cert: readFileSync(pki.certFile, 'utf8') };
}

describe('offline: JWKS over https with auth.jwt.jwks.caFile', function () {
  this.timeout(30_000);
  const dir = tempDir('edgegate-pki-');
  const key = makeKey('tls-k', 'ES256');
  const time = new FakeTimeSource(Date.now());
  let pki: ReturnType<typeof makePki>;
  let server: JwksServer;

  before(async () => {
    pki = makePki(dir);
    server = new JwksServer({ key: pki.key, cert: pki.cert });
    server.keys = [key];
    server.dateMs = () => time.systemNow();
    await server.start();
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trusts the endpoint through caFile and verifies its keys', async () => {
    const d = await startDaemon({ auth: { jwt: { jwks: { url: server.url, caFile: pki.caFile, timeoutSec: 2 } } } }, { timeSource: time });
    try {
      const out = await connect(d.port, { clientId: 'tls', username: 'u', password: await signWith(key, { sub: 's', exp: nowSecOf(time.systemNow()) + 600 }) });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    } finally {
      await d.stop();
    }
  });

  it('without caFile the endpoint is not trusted: no keys, tokens refused, a clear log line', async () => {
    const d = await startDaemon({ auth: { jwt: { jwks: { url: server.url, timeoutSec: 2 } } } }, { timeSource: time });
    try {
      const failure = logsWith(d, 'JWKS refresh failed; keeping the last good key set')[0];
      assert.ok(failure, 'refresh failure logged');
      assert.match(String(failure.err), /certificate|self.signed|issuer/i);
      const out = await connect(d.port, {
        clientId: 'tls2',
        username: 'u',
        password: await signWith(key, { sub: 's', exp: nowSecOf(time.systemNow()) + 600 }),
      });
      assert.equal(out.returnCode, 4);
    } finally {
      await d.stop();
    }
  });
});

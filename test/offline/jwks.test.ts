import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { JwksServer, makeKey, signWith } from './jwksServer.js';
import { lastAuthCached, logsWith, nowSecOf } from './util.js';

describe('offline: JWKS keys', function () {
  this.timeout(30_000);
  const k1 = makeKey('k1', 'ES256');
  const k2 = makeKey('k2', 'EdDSA');
  const k3 = makeKey('k3', 'RS256');
  let server: JwksServer;
  let dataDir: string;
  let time: FakeTimeSource;
  let d: TestDaemon | undefined;
  const jwksConfig = (url: string) => ({ auth: { jwt: { jwks: { url, refreshIntervalSec: 60, timeoutSec: 2 } } } });
  const token = (key = k1, extra: Record<string, unknown> = {}) => signWith(key, { sub: 'sensor-1', exp: nowSecOf(time.systemNow()) + 3600, ...extra });
  const refreshFailures = () => logsWith(d!, 'JWKS refresh failed; keeping the last good key set').length;

  before(async () => {
    server = new JwksServer();
    server.keys = [k1];
    time = new FakeTimeSource(Date.now());
    server.dateMs = () => time.systemNow(); // the endpoint agrees with the (fake) system clock
    await server.start();
    dataDir = tempDir();
  });
  after(async () => {
    await d?.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies a token signed by a JWKS key (selected by kid)', async () => {
    d = await startDaemon(jwksConfig(server.url), { timeSource: time, dataDir });
    const out = await connect(d.port, { clientId: 'c1', username: 'u', password: await token() });
    assert.equal(out.returnCode, 0);
    await end(out.client);
    // A token naming a kid the set does not have is refused.
    const other = makeKey('k1', 'ES256'); // same kid, different key: signature fails
    assert.equal((await connect(d.port, { clientId: 'c1b', username: 'u', password: await token(other) })).returnCode, 4);
  });

  it('keeps verifying while the endpoint is down (failed refresh keeps the last good set)', async () => {
    await server.stop();
    const before = refreshFailures();
    time.advance(61_000); // periodic refresh fires and fails
    await waitUntil(() => refreshFailures() > before, { what: 'a failed refresh' });
    const out = await connect(d!.port, { clientId: 'c2', username: 'u', password: await token() });
    assert.equal(out.returnCode, 0, 'a never-seen token still verifies');
    assert.equal(lastAuthCached(d!, 'c2'), false);
    await end(out.client);
  });

  it('after a restart with the endpoint still down, a never-seen token verifies from the persisted set', async () => {
    await d!.stop();
    d = await startDaemon(jwksConfig(server.url), { timeSource: time, dataDir });
    assert.equal(logsWith(d, 'loaded the persisted JWKS').length, 1);
    const out = await connect(d.port, { clientId: 'c3', username: 'u', password: await token() });
    assert.equal(out.returnCode, 0);
    assert.equal(lastAuthCached(d, 'c3'), false, 'verified by signature, not from the cache');
    await end(out.client);
    // `edgegate token verify` uses the persisted set too (the endpoint is still down).
    const neverSeen = await token();
    const cli = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'token', 'verify', neverSeen],
        { env: { ...process.env, NODE_CONFIG: JSON.stringify({ dataDir, auth: { jwt: { jwks: { url: server.url } } } }) }, timeout: 20_000 },
        (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      ),
    );
    assert.equal(cli.code, 0, cli.stdout);
    assert.match(cli.stdout, /^valid/);
  });

  it('kid rotation: an unknown kid triggers one out-of-cycle refresh, at most once per 30 s', async () => {
    server.keys = [k1, k2];
    await server.start(server.port);
    const requests = server.requests;
    const out = await connect(d!.port, { clientId: 'c4', username: 'u', password: await token(k2) });
    assert.equal(out.returnCode, 0, 'new kid accepted after the out-of-cycle refresh');
    await end(out.client);
    assert.equal(server.requests, requests + 1);

    server.keys = [k1, k2, k3];
    const refused = await connect(d!.port, { clientId: 'c5', username: 'u', password: await token(k3) });
    assert.equal(refused.returnCode, 4, 'within 30 s of the last out-of-cycle refresh: no new fetch');
    assert.equal(server.requests, requests + 1);
    assert.ok(logsWith(d!, 'authentication refused', { clientId: 'c5', reason: 'JWT_NO_KEY' }).length > 0);

    time.advance(30_000);
    const accepted = await connect(d!.port, { clientId: 'c6', username: 'u', password: await token(k3) });
    assert.equal(accepted.returnCode, 0);
    await end(accepted.client);
  });

  it('a key removed from the JWKS invalidates its cached verifications', async () => {
    const t = await token(k1);
    const first = await connect(d!.port, { clientId: 'c7', username: 'u', password: t });
    assert.equal(first.returnCode, 0);
    await end(first.client);
    const again = await connect(d!.port, { clientId: 'c7', username: 'u', password: t });
    assert.equal(again.returnCode, 0);
    assert.equal(lastAuthCached(d!, 'c7'), true, 'second connect answered from the cache');
    await end(again.client);

    server.keys = [k2, k3];
    time.advance(61_000);
    await waitUntil(() => logsWith(d!, 'JWKS refreshed').some((l) => Array.isArray(l.kids) && !(l.kids as string[]).includes('k1')), {
      what: 'refresh without k1',
    });
    const refused = await connect(d!.port, { clientId: 'c7', username: 'u', password: t });
    assert.equal(refused.returnCode, 4);
    assert.ok(logsWith(d!, 'authentication refused', { clientId: 'c7', reason: 'JWT_NO_KEY' }).length > 0);
  });

  it('never trusts symmetric or private keys from a JWKS, and survives garbage responses', async () => {
    const secret = Buffer.from('a-shared-secret-that-must-not-be-trusted');
    server.body = JSON.stringify({ keys: [{ kty: 'oct', kid: 'hs', k: secret.toString('base64url'), alg: 'HS256' }, k2.jwk] });
    time.advance(61_000);
    await waitUntil(() => logsWith(d!, 'JWKS entries skipped').length > 0, { what: 'skipped entries logged' });
    const { SignJWT } = await import('jose');
    const hs = await new SignJWT({ sub: 'x', exp: nowSecOf(time.systemNow()) + 60 }).setProtectedHeader({ alg: 'HS256', kid: 'hs' }).sign(secret);
    assert.equal((await connect(d!.port, { clientId: 'c8', username: 'u', password: hs })).returnCode, 4);

    for (const garbage of ['not json', '{"keys": 5}', '{"keys": []}', '[1,2,3]']) {
      server.body = garbage;
      const before = refreshFailures();
      time.advance(61_000);
      await waitUntil(() => refreshFailures() > before, { what: `refresh of ${garbage} fails` });
    }
    server.body = undefined;
    const out = await connect(d!.port, { clientId: 'c9', username: 'u', password: await token(k2) });
    assert.equal(out.returnCode, 0, 'last good set (k2) still trusted after garbage');
    await end(out.client);
  });

  it('stops trusting the persisted set after maxStaleSec without a successful refresh, and recovers', async () => {
    const refreshed = logsWith(d!, 'JWKS refreshed').length;
    server.keys = [k2];
    time.advance(61_000); // a successful refresh (the previous test left only failures)
    await waitUntil(() => logsWith(d!, 'JWKS refreshed').length > refreshed, { what: 'a successful refresh' });
    await d!.stop();
    await server.stop();
    const cfg = { auth: { jwt: { jwks: { url: server.url, refreshIntervalSec: 60, timeoutSec: 2, maxStaleSec: 150 } } } };
    d = await startDaemon(cfg, { timeSource: time, dataDir });
    const ok = await connect(d.port, { clientId: 's1', username: 'u', password: await token(k2) });
    assert.equal(ok.returnCode, 0, 'still fresh enough');
    await end(ok.client);
    const failures = refreshFailures();
    time.advance(180_000);
    await waitUntil(
      () => logsWith(d!, 'the JWKS has not been refreshed for longer than auth.jwt.jwks.maxStaleSec; its keys are no longer trusted').length === 1,
      { what: 'stale error' },
    );
    assert.ok(refreshFailures() > failures);
    assert.equal((await connect(d.port, { clientId: 's2', username: 'u', password: await token(k2) })).returnCode, 4);
    await server.start(server.port);
    time.advance(60_000);
    await waitUntil(() => logsWith(d!, 'JWKS refreshed').length > 0, { what: 'refresh after the endpoint came back' });
    const back = await connect(d.port, { clientId: 's3', username: 'u', password: await token(k2) });
    assert.equal(back.returnCode, 0);
    await end(back.client);
  });
});

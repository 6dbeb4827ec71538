// The real `edgegate` CLI in child processes: first start (generated secret 0600,
// data dir 0700, how-to-mint log line), `token mint` output against the running
// daemon, `token verify` exit codes, refusal log lines, SIGTERM/SIGINT exit 0
// within 5 s, `keys generate`.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { freePort } from '../../scripts/bench/lib/freePort.js';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { connect, end, publish } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { exitOf, logLines, runCli, startCli, waitForOutput } from './support.js';

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('edgegate run / token / keys (real CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = tempDir('edgegate-cli-')));
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('first start with no key configured', () => {
    let dataDir: string;
    let env: NodeJS.ProcessEnv;
    let daemon: ReturnType<typeof startCli>;
    let port: number;
    let token: string;
    before(async () => {
      dataDir = join(dir, 'fresh', 'data');
      port = await freePort();
      env = {
        EDGEGATE_DATA_DIR: dataDir,
        EDGEGATE_PORT: String(port),
        EDGEGATE_LOG_LEVEL: 'debug',
        NODE_CONFIG: JSON.stringify({ listeners: { tcp: { host: '127.0.0.1' } }, http: { enabled: false } }),
      };
      daemon = startCli(['run'], env, dir);
      await waitForOutput(daemon, (s) => s.includes('edgegate started'));
    });
    after(() => {
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    });

    it('creates the data dir 0700 and a generated secret 0600, and says how to mint a token', () => {
      assert.equal(mode(dataDir), 0o700);
      const secretFile = join(dataDir, 'jwt-secret');
      assert.equal(mode(secretFile), 0o600);
      assert.ok(Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'base64url').length >= 32);
      const line = logLines(daemon.out.stderr).find((l) => String(l.msg).includes('edgegate token mint'));
      assert.ok(line, 'a log line tells how to mint a token');
      assert.equal(line.file, secretFile);
    });

    it('token mint prints only the JWT on stdout, and it connects to the running daemon', async () => {
      const r = await runCli(
        ['token', 'mint', '--sub', 'sensor-1', '--ttl', '15m', '--acl-pub', 'sensors/%c/#', '--acl-sub', 'cmd/%c/#', '--claim', 'site=plant-7'],
        env,
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      token = r.stdout.trim();
      assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      assert.ok(!r.stderr.includes(token));
      const claims = decodeJwt(token);
      assert.equal(decodeProtectedHeader(token).alg, 'HS256');
      assert.equal(claims.sub, 'sensor-1');
      assert.equal(claims.site, 'plant-7');
      assert.equal((claims.exp as number) - (claims.iat as number), 900);
      assert.ok(typeof claims.jti === 'string');
      assert.deepEqual(claims.acl, { pub: ['sensors/%c/#'], sub: ['cmd/%c/#'] });
      const out = await connect(port, { username: 'sensor-1', password: token, clientId: 'c1' });
      assert.equal(out.returnCode, 0);
      await publish(out.client!, 'sensors/c1/t', '1', { qos: 1 });
      await end(out.client);
    });

    it('token verify: exit 0 valid with the claims; exit 1 with the reason otherwise', async () => {
      const [ok, malformed, forged, expired] = await Promise.all([
        runCli(['token', 'verify', token, '--username', 'sensor-1', '--client-id', 'c1'], env, dir),
        runCli(['token', 'verify', 'not-a-token'], env, dir),
        runCli(['token', 'verify', await hsToken('another-secret', { sub: 'x' })], env, dir),
        runCli(
          [
            'token',
            'verify',
            await hsToken(Buffer.from(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim(), 'base64url'), { sub: 'x', exp: nowSec() - 3600 }),
          ],
          env,
          dir,
        ),
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^valid\nexpires: \d{4}-\d\d-\d\dT[\d:.]+Z \(exp \+ auth\.jwt\.clockToleranceSec\)\n\{/);
      assert.equal(JSON.parse(ok.stdout.slice(ok.stdout.indexOf('{'))).sub, 'sensor-1');
      assert.equal(malformed.code, 1);
      assert.match(malformed.stdout, /^invalid JWT_MALFORMED/);
      assert.equal(forged.code, 1);
      assert.match(forged.stdout, /^invalid JWT_SIGNATURE/);
      assert.equal(expired.code, 1);
      assert.match(expired.stdout, /^invalid JWT_EXPIRED/);
      assert.match(expired.stdout, /claims \(NOT verified\):\n\{\n {2}"sub": "x"/, "the refused token's claims are shown, marked unverified");
    });

    it('a refusal is logged with reason code, client id and address; no token or secret ever appears', async () => {
      const bad = await hsToken('another-secret', { sub: 'x' });
      const out = await connect(port, { username: 'u', password: bad, clientId: 'bad-client' });
      assert.equal(out.returnCode, 4);
      await waitForOutput(daemon, (s) => s.includes('bad-client'));
      const line = logLines(daemon.out.stderr).find((l) => l.clientId === 'bad-client' && l.msg === 'authentication refused');
      assert.ok(line);
      assert.equal(line.reason, 'JWT_SIGNATURE');
      assert.equal(line.address, '127.0.0.1');
      const secret = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
      for (const s of [bad, token, secret]) assert.ok(!daemon.out.stderr.includes(s));
    });

    it('SIGTERM with a client connected: exit 0 within 5 s; the restarted daemon keeps the secret (SIGINT also exits 0)', async () => {
      const client = await connect(port, { username: 'u', password: token, clientId: 'c1' });
      assert.equal(client.returnCode, 0);
      const t0 = Date.now();
      daemon.kill('SIGTERM');
      const r = await exitOf(daemon, 5000);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(Date.now() - t0 < 5000);
      assert.ok(logLines(r.stderr).some((l) => l.msg === 'edgegate stopped'));
      await end(client.client);

      const again = startCli(['run'], env, dir);
      try {
        await waitForOutput(again, (s) => s.includes('edgegate started'));
        assert.ok(logLines(again.out.stderr).some((l) => String(l.msg).includes('using the generated JWT secret')));
        const out = await connect(port, { username: 'sensor-1', password: token, clientId: 'c1' });
        assert.equal(out.returnCode, 0, 'a token minted before the restart still works');
        await end(out.client);
        again.kill('SIGINT');
        assert.equal((await exitOf(again, 5000)).code, 0);
      } finally {
        if (again.exitCode === null) again.kill('SIGKILL');
      }
    });
  });

  describe('token mint / verify with a configured secret and verifyClaims', () => {
    it('EDGEGATE_JWT_SECRET signs; verify applies %u and literals', async () => {
      const secret = 'configured-secret-for-cli-test-000';
      const env = {
        EDGEGATE_DATA_DIR: join(dir, 'cfg-secret'),
        EDGEGATE_JWT_SECRET: secret,
        NODE_CONFIG: '{"auth":{"jwt":{"verifyClaims":{"sub":"%u","site":"plant-7"}}}}',
      };
      const mint = await runCli(['token', 'mint', '--sub', 'dev-9', '--alg', 'HS512', '--claim', 'site=plant-7', '--ttl', '0'], env, dir);
      assert.equal(mint.code, 0, mint.stderr);
      const token = mint.stdout.trim();
      assert.equal(decodeProtectedHeader(token).alg, 'HS512');
      assert.equal(decodeJwt(token).exp, undefined, '--ttl 0: no exp');
      const [good, wrongUser] = await Promise.all([
        runCli(['token', 'verify', token, '--username', 'dev-9'], env, dir),
        runCli(['token', 'verify', token, '--username', 'dev-8'], env, dir),
      ]);
      assert.equal(good.code, 0, good.stdout + good.stderr);
      assert.equal(wrongUser.code, 1);
      assert.match(wrongUser.stdout, /^invalid JWT_CLAIM_MISMATCH/);
      const d = await startDaemon({ auth: { jwt: { secret } } });
      try {
        const out = await connect(d.port, { username: 'dev-9', password: token });
        assert.equal(out.returnCode, 0);
        await end(out.client);
      } finally {
        await d.stop();
      }
    });
  });

  describe('keys generate', () => {
    it('writes private.pem 0600 and public.pem; tokens signed with the private key verify with the public one', async () => {
      const algs = ['ES256', 'EdDSA'] as const;
      const gens = await Promise.all(
        algs.map((alg) => runCli(['keys', 'generate', '--alg', alg, '--out', join(dir, 'keys', alg)], { EDGEGATE_DATA_DIR: join(dir, 'kd') }, dir)),
      );
      for (const [i, alg] of algs.entries()) {
        assert.equal(gens[i]!.code, 0, gens[i]!.stderr);
        const out = join(dir, 'keys', alg);
        assert.equal(mode(join(out, 'private.pem')), 0o600);
        assert.match(readFileSync(join(out, 'public.pem'), 'utf8'), /BEGIN PUBLIC KEY/);
      }
      const minted = await Promise.all(
        algs.map((alg) =>
          runCli(['token', 'mint', '--sub', `k-${alg}`, '--key', join(dir, 'keys', alg, 'private.pem')], { EDGEGATE_DATA_DIR: join(dir, 'kd') }, dir),
        ),
      );
      for (const [i, alg] of algs.entries()) {
        assert.equal(minted[i]!.code, 0, minted[i]!.stderr);
        assert.equal(decodeProtectedHeader(minted[i]!.stdout.trim()).alg, alg);
      }
      const verified = await runCli(
        ['token', 'verify', minted[1]!.stdout.trim()],
        { EDGEGATE_DATA_DIR: join(dir, 'kd'), EDGEGATE_JWT_PUBKEY: join(dir, 'keys', 'EdDSA', 'public.pem') },
        dir,
      );
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      // The ES256 token against a running daemon configured with the public key.
      const d = await startDaemon({ auth: { jwt: { pubkey: join(dir, 'keys', 'ES256', 'public.pem') } } });
      try {
        const out = await connect(d.port, { username: 'u', password: minted[0]!.stdout.trim() });
        assert.equal(out.returnCode, 0);
        await end(out.client);
      } finally {
        await d.stop();
      }
    });

    it('refuses an unknown --alg with exit 1', async () => {
      const r = await runCli(['keys', 'generate', '--alg', 'HS256', '--out', join(dir, 'keys', 'bad')], {}, dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /--alg must be one of/);
    });
  });
});

// Bad configuration makes the real CLI exit with code 2 and a message naming the
// key path; the environment mapping, NODE_CONFIG_DIR, NODE_ENV files and
// NODE_CONFIG all reach the effective configuration (`edgegate config check`).
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../cli/support.js';
import { tempDir } from '../helpers/daemon.js';

describe('configuration through the real CLI', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => (dir = tempDir('edgegate-cfg-')));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const check = (env: NodeJS.ProcessEnv) => runCli(['config', 'check'], { EDGEGATE_DATA_DIR: join(dir, 'data'), ...env }, dir);

  describe('exit code 2 naming the key path', () => {
    // Each problem set is one CLI run (started together: a CLI start costs ~1 s here).
    const cases: Record<string, { env: NodeJS.ProcessEnv; messages: RegExp[] }> = {
      'wrong type, out of range, unknown key, bad enum, alg none (all reported at once)': {
        env: {
          NODE_CONFIG: '{"listeners":{"tcp":{"port":"1883"}},"auth":{"jwt":{"clockToleranceSec":-1,"secrett":"x","from":"header","algorithms":["none"]}}}',
        },
        messages: [
          /listeners\.tcp\.port: must be a number/,
          /auth\.jwt\.clockToleranceSec: must be >= 0/,
          /auth\.jwt\.secrett: is not a known key/,
          /auth\.jwt\.from: must be one of/,
          /auth\.jwt\.algorithms\[0\]/,
        ],
      },
      'missing key file and missing TLS certificate': {
        env: { NODE_CONFIG: '{"auth":{"jwt":{"pubkey":"/nonexistent/key.pem"}},"listeners":{"tls":{"enabled":true,"keyFile":"/nonexistent/k.pem"}}}' },
        messages: [/auth\.jwt\.pubkey: cannot read \/nonexistent\/key\.pem/, /listeners\.tls\.certFile: is required/, /listeners\.tls\.keyFile: cannot read/],
      },
      'environment variable of the wrong type': {
        env: { EDGEGATE_PORT: 'eighteen' },
        messages: [/listeners\.tcp\.port: must be a number, got "eighteen" from EDGEGATE_PORT/],
      },
      'bad log level from the environment': { env: { EDGEGATE_LOG_LEVEL: 'loud' }, messages: [/log\.level: must be one of/] },
      'NODE_CONFIG that is not JSON': { env: { NODE_CONFIG: '{"listeners":' }, messages: [/NODE_CONFIG: is not valid JSON/] },
    };
    const results = new Map<string, Awaited<ReturnType<typeof check>>>();
    before(async () => {
      await Promise.all(Object.entries(cases).map(async ([name, c]) => results.set(name, await check(c.env))));
    });
    for (const [name, c] of Object.entries(cases)) {
      it(`${name}: config check exits 2`, () => {
        const r = results.get(name)!;
        assert.equal(r.code, 2, r.stderr);
        for (const m of c.messages) assert.match(r.stderr, m);
        assert.equal(r.stdout, '');
      });
    }

    it('run exits 2 too, and for a key file that is not a key (auth.jwt.pubkey)', async () => {
      const notAKey = join(dir, 'not-a-key.pem');
      writeFileSync(notAKey, 'hello\n');
      const [wrongType, badKey] = await Promise.all([
        runCli(['run'], { EDGEGATE_DATA_DIR: join(dir, 'd1'), NODE_CONFIG: '{"listeners":{"tcp":{"port":true}}}' }, dir),
        runCli(
          ['run'],
          { EDGEGATE_DATA_DIR: join(dir, 'd2'), EDGEGATE_PORT: '0', EDGEGATE_JWT_PUBKEY: notAKey, NODE_CONFIG: '{"http":{"enabled":false}}' },
          dir,
        ),
      ]);
      assert.equal(wrongType.code, 2, wrongType.stderr);
      assert.match(wrongType.stderr, /listeners\.tcp\.port/);
      assert.equal(badKey.code, 2, badKey.stderr);
      assert.match(badKey.stderr, /auth\.jwt\.pubkey: .*not-a-key\.pem is not a usable public key/);
    });

    it('a config file node-config cannot parse exits 2', async () => {
      const cfg = join(dir, 'broken-config');
      mkdirSync(cfg);
      writeFileSync(join(cfg, 'local.json'), '{"listeners": ');
      const r = await check({ NODE_CONFIG_DIR: cfg });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /NODE_CONFIG_DIR/);
    });
  });

  describe('sources of configuration', () => {
    it('EDGEGATE_PORT, EDGEGATE_DATA_DIR, EDGEGATE_JWT_SECRET, EDGEGATE_LOG_LEVEL map to their keys; secrets are redacted', async () => {
      const secret = 'env-secret-value-that-must-not-print';
      const r = await check({
        EDGEGATE_PORT: '18830',
        EDGEGATE_DATA_DIR: join(dir, 'envdata'),
        EDGEGATE_JWT_SECRET: secret,
        EDGEGATE_LOG_LEVEL: 'debug',
        EDGEGATE_BRIDGE_PASSWORD: 'bridge-pass-value',
      });
      assert.equal(r.code, 0, r.stderr);
      const c = JSON.parse(r.stdout);
      assert.equal(c.listeners.tcp.port, 18830);
      assert.equal(c.dataDir, join(dir, 'envdata'));
      assert.equal(c.log.level, 'debug');
      assert.equal(c.auth.jwt.secret, '[redacted]');
      assert.equal(c.bridge.password, '[redacted]');
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
      assert.ok(!r.stdout.includes('bridge-pass-value'));
    });

    it('NODE_CONFIG_DIR and NODE_ENV files are read over the embedded defaults; NODE_CONFIG and env vars win', async () => {
      const cfg = join(dir, 'site-config');
      mkdirSync(cfg, { recursive: true });
      writeFileSync(join(cfg, 'default.json'), JSON.stringify({ listeners: { tcp: { port: 2001 } }, auth: { jwt: { clockToleranceSec: 5 } } }));
      writeFileSync(join(cfg, 'production.json'), JSON.stringify({ auth: { jwt: { maxAgeSec: 600 } } }));
      const [plain, prod, over] = await Promise.all([
        check({ NODE_CONFIG_DIR: cfg }),
        check({ NODE_CONFIG_DIR: cfg, NODE_ENV: 'production' }),
        check({ NODE_CONFIG_DIR: cfg, NODE_CONFIG: '{"auth":{"jwt":{"clockToleranceSec":7}}}', EDGEGATE_PORT: '2002' }),
      ]);
      for (const r of [plain, prod, over]) assert.equal(r.code, 0, r.stderr);
      const [a, b, c] = [plain, prod, over].map((r) => JSON.parse(r.stdout));
      assert.equal(a.listeners.tcp.port, 2001);
      assert.equal(a.auth.jwt.clockToleranceSec, 5);
      assert.equal(a.auth.jwt.maxAgeSec, 0);
      assert.equal(a.auth.jwt.maxTokenBytes, 8192, 'embedded defaults fill the rest');
      assert.equal(b.auth.jwt.maxAgeSec, 600);
      assert.equal(c.auth.jwt.clockToleranceSec, 7);
      assert.equal(c.listeners.tcp.port, 2002);
    });
  });
});

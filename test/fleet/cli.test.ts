// `edgegate fleet ...` and the gateway's fleet configuration through the real CLI:
// start-up refuses a revocation topic without keys (exit 2 naming the key), a
// snapshot over the size limit is refused (exit 1, nothing published or saved),
// Ed25519 keys work, an unreachable cloud is exit 1 for `fleet status` (with the reason), and the
// retained health summary carries what the issue lists.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fleetKeyId } from '../../src/auth/fleetProtocol.js';
import { bridgeStatus, cloudSubscriber } from '../bridge/support.js';
import { runCli } from '../cli/support.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { connectOk, end } from '../helpers/mqtt.js';
import { makeTestPki } from '../helpers/pki.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { gatewayConfig, makeFleetKey, SECRET } from './support.js';

describe('fleet: command line and gateway configuration', function () {
  this.timeout(60_000);
  let dir: string;
  let cloud: Mosquitto;
  before(async () => {
    dir = tempDir('edgegate-fleet-cli-');
    cloud = await Mosquitto.start();
  });
  after(async () => {
    await cloud?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = () => `mqtt://127.0.0.1:${cloud.port}`;

  it('start-up with auth.revocation.topic, requireSigned and no keys exits 2 naming auth.revocation.keys; a bad key file too', async () => {
    const notAKey = join(dir, 'not-a-key.pem');
    writeFileSync(notAKey, 'hello\n');
    const [noKeys, badKey, checkOk] = await Promise.all([
      runCli(
        ['run'],
        {
          EDGEGATE_DATA_DIR: join(dir, 'd1'),
          EDGEGATE_PORT: '0',
          NODE_CONFIG: JSON.stringify({ http: { enabled: false }, auth: { revocation: { topic: 'edgegate/revocations' } } }),
        },
        dir,
      ),
      runCli(
        ['run'],
        {
          EDGEGATE_DATA_DIR: join(dir, 'd2'),
          EDGEGATE_PORT: '0',
          NODE_CONFIG: JSON.stringify({ http: { enabled: false }, auth: { revocation: { topic: 'r', keys: [notAKey] } } }),
        },
        dir,
      ),
      runCli(
        ['config', 'check'],
        { EDGEGATE_DATA_DIR: join(dir, 'd3'), NODE_CONFIG: JSON.stringify({ auth: { revocation: { topic: 'r', requireSigned: false } } }) },
        dir,
      ),
    ]);
    assert.equal(noKeys.code, 2, noKeys.stderr);
    assert.match(noKeys.stderr, /auth\.revocation\.keys: is empty while auth\.revocation\.topic is set/);
    assert.equal(badKey.code, 2, badKey.stderr);
    assert.match(badKey.stderr, /auth\.revocation\.keys\[0\]: .*not-a-key\.pem is not a usable fleet public key/);
    assert.equal(checkOk.code, 0, checkOk.stderr);
    assert.equal(JSON.parse(checkOk.stdout).auth.revocation.requireSigned, false);
  });

  it('refuses (does not truncate) a change whose snapshot would exceed 128 KiB: exit 1, nothing published or saved', async () => {
    const key = makeFleetKey(dir, 'big');
    const kid = await fleetKeyId(createPrivateKey(readFileSync(key.privateKey)));
    const revocations = Array.from({ length: 1500 }, (_, i) => ({
      kind: 'jti',
      value: `${'x'.repeat(80)}-${i}`,
      reason: '',
      revokedAt: new Date().toISOString(),
    }));
    const stateFile = `${key.privateKey}.fleet-state.json`;
    writeFileSync(stateFile, JSON.stringify({ version: 1, kid, seq: 7, updatedAt: new Date().toISOString(), revocations }));
    const r = await runCli(['fleet', 'revoke', '--cloud', url(), '--key', key.privateKey, '--sub', 'one-more', '--topic', 'big/revocations']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /over the limit of 131072 bytes: nothing was published or changed/);
    assert.equal(JSON.parse(readFileSync(stateFile, 'utf8')).seq, 7, 'the seq was not used');
    const list = await runCli(['fleet', 'revocations', '--cloud', url(), '--topic', 'big/revocations']);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /no retained snapshot on big\/revocations\/snapshot/);
  });

  it('an Ed25519 (EdDSA) key signs, the state file beside it keeps seq, bad usage exits non-zero', async () => {
    const key = makeFleetKey(dir, 'ed', 'ed25519');
    const args = ['--cloud', url(), '--key', key.privateKey, '--topic', 'ed/revocations'];
    assert.equal((await runCli(['fleet', 'revoke', ...args, '--jti', 'a'])).code, 0);
    const second = await runCli(['fleet', 'unrevoke', ...args, '--jti', 'a']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /unrevoked: jti a \(seq 2, 0 in the fleet list/);
    const state = JSON.parse(readFileSync(`${key.privateKey}.fleet-state.json`, 'utf8')) as { seq: number };
    assert.equal(state.seq, 2);
    const both = await runCli(['fleet', 'revoke', ...args, '--jti', 'a', '--sub', 'b']);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /exactly one of --jti ID or --sub NAME/);
    const noCloud = await runCli(['fleet', 'revoke', '--key', key.privateKey, '--sub', 'b']);
    assert.notEqual(noCloud.code, 0);
    assert.match(noCloud.stderr, /--cloud/);
  });

  it('connects over TLS (mqtts:// with --ca); an unverified certificate is refused', async () => {
    const pkiDir = tempDir('edgegate-fleet-pki-');
    const pki = makeTestPki(pkiDir);
    const tlsCloud = await Mosquitto.start({ tls: pki });
    try {
      const key = makeFleetKey(dir, 'tls');
      const args = ['fleet', 'revoke', '--cloud', `mqtts://127.0.0.1:${tlsCloud.port}`, '--key', key.privateKey, '--sub', 'x'];
      const [ok, untrusted] = [await runCli([...args, '--ca', pki.caFile]), await runCli([...args, '--timeout', '3'])];
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /cannot connect to mqtts:\/\/127\.0\.0\.1:\d+: .*(certificate|self.signed)/i);
      const list = await runCli(['fleet', 'revocations', '--cloud', `mqtts://127.0.0.1:${tlsCloud.port}`, '--ca', pki.caFile, '--key', key.publicKey]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^sub\tx$/m);
    } finally {
      await tlsCloud.dispose();
      rmSync(pkiDir, { recursive: true, force: true });
    }
  });

  it('fleet status: exit 1 when the cloud is unreachable (saying so), 1 when no gateway is found', async () => {
    const [down, empty] = await Promise.all([
      runCli(['fleet', 'status', '--cloud', `mqtt://127.0.0.1:${await freePort()}`, '--timeout', '3']),
      runCli(['fleet', 'status', '--cloud', url(), '--prefix', 'nobody/', '--wait', '0.2']),
    ]);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, /cannot connect/);
    assert.equal(empty.code, 1);
    assert.match(empty.stdout, /no gateways found/);
  });

  describe('the retained health summary', () => {
    let d: TestDaemon;
    after(() => d?.stop());

    it('carries version, state, uptime, clients, queue, clock, serial and time, beside the state topic; fleet status reads it', async () => {
      const key = makeFleetKey(dir, 'health');
      const watcher = await cloudSubscriber(cloud, 'edgegate/+/health', 'health-watcher');
      d = await startDaemon(gatewayConfig('gw-health', cloud.port, [key.publicKey], { healthIntervalSec: 1 }));
      await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { timeoutMs: 10_000, what: 'connected' });
      const sensor = await connectOk(d.port, { clientId: 's', username: 'u', password: await hsToken(SECRET, { sub: 's', exp: nowSec() + 600 }) });
      const health = () =>
        watcher.inbox.messages.filter((m) => m.topic === 'edgegate/gw-health/health').map((m) => JSON.parse(m.payload) as Record<string, unknown>);
      await waitUntil(() => health().some((h) => h.clients === 1), { timeoutMs: 10_000, what: 'a summary with the sensor counted' });
      const h = health().find((x) => x.clients === 1)!;
      assert.equal(h.clientId, 'gw-health');
      assert.equal(h.state, 'online');
      assert.equal(h.status, 'ok');
      assert.equal(typeof h.version, 'string');
      assert.equal(typeof h.uptimeSec, 'number');
      assert.deepEqual(Object.keys(h.queue as object).sort(), ['bytes', 'messages', 'oldestAgeSec']);
      assert.equal(typeof (h.clock as { status: unknown }).status, 'string');
      assert.deepEqual(h.serial, []);
      assert.ok(Math.abs(Date.parse(h.time as string) - Date.now()) < 60_000);
      assert.equal(h.intervalSec, 1);
      await waitUntil(() => health().length >= 3, { timeoutMs: 10_000, what: 'published again every interval' });
      const status = await runCli(['fleet', 'status', '--cloud', url(), '--json', '--wait', '0.3']);
      const row = (JSON.parse(status.stdout) as { gateways: Array<Record<string, unknown>> }).gateways.find((g) => g.clientId === 'gw-health')!;
      assert.equal(row.online, true);
      assert.equal(row.fresh, true);
      assert.equal(row.clients, 1);
      await end(sensor, watcher.client);
    });
  });
});

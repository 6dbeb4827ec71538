// Uplink security: self-signed JWT credentials (checked by a second edgegate
// acting as the cloud) and TLS to a Mosquitto TLS listener (test CA by openssl).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, importSPKI, jwtVerify, SignJWT } from 'jose';
import mqtt from 'mqtt';
import { UplinkCredentialSource } from '../../src/bridge/uplinkCredentials.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { waitUntil } from '../helpers/wait.js';
import { bridgeConfig, bridgeStatus, rule, sensor } from './support.js';

describe('bridge uplink credentials and TLS', function () {
  this.timeout(30_000);
  let dir: string;
  let privFile: string;
  let pubFile: string;
  let otherPrivFile: string;

  before(() => {
    dir = tempDir('edgegate-bridge-keys-');
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    privFile = join(dir, 'bridge.key');
    pubFile = join(dir, 'bridge.pub');
    writeFileSync(privFile, pair.privateKey.export({ type: 'sec1', format: 'pem' }));
    writeFileSync(pubFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    otherPrivFile = join(dir, 'other.key');
    writeFileSync(otherPrivFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('mints a fresh JWT (iat/exp/aud/sub/claims) for each connect', async () => {
    let now = 1_800_000_000_000;
    const source = new UplinkCredentialSource(
      { username: '', password: '', jwt: { privateKeyFile: privFile, alg: 'ES256', ttlSec: 600, audience: 'my-project', claims: { site: 'north' } } },
      'gw-1',
      () => now,
    );
    source.load();
    const first = await source.next();
    now += 5_000;
    const second = await source.next();
    assert.notEqual(first.password!.toString(), second.password!.toString());
    const key = await importSPKI(readFileSync(pubFile, 'utf8'), 'ES256');
    const { payload } = await jwtVerify(second.password!.toString(), key, { audience: 'my-project', currentDate: new Date(now) });
    assert.equal(payload.sub, 'gw-1');
    assert.equal(payload.site, 'north');
    assert.equal(payload.iat, 1_800_000_005);
    assert.equal(payload.exp, 1_800_000_605);
    assert.equal(decodeJwt(first.password!.toString()).iat, 1_800_000_000);
  });

  describe('self-signed JWT accepted by a second edgegate acting as the cloud', () => {
    let cloud: TestDaemon;
    before(async () => {
      cloud = await startDaemon({ auth: { jwt: { pubkey: pubFile, algorithms: ['ES256'] } } });
    });
    after(() => cloud.stop());

    const cloudToken = async (): Promise<string> => {
      const { createPrivateKey } = await import('node:crypto');
      return new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject('cloud-app')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(createPrivateKey(readFileSync(privFile)));
    };

    it('connects with the JWT and forwards', async () => {
      const watcher = await connectOk(cloud.port, { clientId: 'cloud-app', username: 'cloud-app', password: await cloudToken() });
      const inbox = collector(watcher);
      await subscribe(watcher, 'fleet/#', 1);
      const gw = await startDaemon(
        bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'fleet/')], {
          jwt: { privateKeyFile: privFile, alg: 'ES256', ttlSec: 3600 },
        }),
      );
      try {
        await waitUntil(() => bridgeStatus(gw.daemon).state === 'connected', { what: 'bridge connected' });
        const s = await sensor(gw.port);
        await publish(s, 'data/t', '42', { qos: 1 });
        await waitUntil(() => inbox.messages.some((m) => m.topic === 'fleet/data/t' && m.payload === '42'), { what: 'forwarded message' });
        assert.ok(!gw.logText().includes(readFileSync(privFile, 'utf8').split('\n')[1]), 'private key never logged');
        await end(s);
      } finally {
        await gw.stop();
        await end(watcher);
      }
    });

    it('is refused when signed with a key the cloud does not trust', async () => {
      const gw = await startDaemon(
        bridgeConfig(`mqtt://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'fleet/')], {
          jwt: { privateKeyFile: otherPrivFile, alg: 'ES256', ttlSec: 3600 },
        }),
      );
      try {
        await waitUntil(() => /[Bb]ad user ?name or password|Not authorized/.test(bridgeStatus(gw.daemon).lastError ?? ''), { what: 'refusal' });
        assert.notEqual(bridgeStatus(gw.daemon).state, 'connected');
      } finally {
        await gw.stop();
      }
    });
  });

  describe('TLS uplink (mqtts://)', () => {
    let tlsDir: string;
    let pki: TestPki;
    let cloud: Mosquitto;
    before(async () => {
      tlsDir = tempDir('edgegate-bridge-tls-');
      pki = makeTestPki(tlsDir);
      cloud = await Mosquitto.start({ tls: pki });
    });
    after(async () => {
      await cloud?.dispose();
      rmSync(tlsDir, { recursive: true, force: true });
    });

    it('connects over TLS with the test CA and forwards', async () => {
      const watcher = mqtt.connect(`mqtts://127.0.0.1:${cloud.port}`, { ca: readFileSync(pki.caFile), reconnectPeriod: 0 });
      await new Promise<void>((resolve, reject) => (watcher.once('connect', () => resolve()), watcher.once('error', reject)));
      const inbox = collector(watcher);
      await subscribe(watcher, 'tls/#', 1);
      const gw = await startDaemon(
        bridgeConfig(`mqtts://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'tls/')], { tls: { caFile: pki.caFile, rejectUnauthorized: true } }),
      );
      try {
        await waitUntil(() => bridgeStatus(gw.daemon).state === 'connected', { what: 'bridge connected over TLS' });
        const s = await sensor(gw.port);
        await publish(s, 'data/secure', 'ok', { qos: 1 });
        await waitUntil(() => inbox.messages.some((m) => m.topic === 'tls/data/secure'), { what: 'message over TLS' });
        await end(s);
      } finally {
        await gw.stop();
        await end(watcher);
      }
    });

    it('refuses a server certificate it cannot verify (no caFile)', async () => {
      const gw = await startDaemon(bridgeConfig(`mqtts://127.0.0.1:${cloud.port}`, [rule('data/#', 'out', 1, '', 'tls/')]));
      try {
        await waitUntil(() => /certificate/i.test(bridgeStatus(gw.daemon).lastError ?? ''), { what: 'certificate error' });
        assert.notEqual(bridgeStatus(gw.daemon).state, 'connected');
      } finally {
        await gw.stop();
      }
    });
  });
});

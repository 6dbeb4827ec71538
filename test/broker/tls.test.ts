// The TLS listener (TLS 1.2+), with a self-signed certificate made by the test:
// mqtt.js and mosquitto_pub connect over TLS with a token; TLS 1.1 and plain
// MQTT on the TLS port are refused; client certificates when requested.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { connectPacket } from '../../scripts/bench/lib/mqttWire.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitForLog } from './support/expect.js';
import { keyPair, selfSignedCert } from './support/keys.js';
import { mosquittoPub } from './support/mosquitto.js';

const SECRET = 'tls-test-secret-0123456789abcdef';

describe('TLS listener', () => {
  let dir: string;
  let server: { certFile: string; keyFile: string };
  let d: TestDaemon;
  let token: string;
  before(async () => {
    dir = tempDir('edgegate-tls-');
    server = selfSignedCert(dir, 'server', keyPair('ec-p256'));
    d = await startDaemon({ auth: { jwt: { secret: SECRET } }, listeners: { tls: { enabled: true, certFile: server.certFile, keyFile: server.keyFile } } });
    token = await hsToken(SECRET, { sub: 'tls', exp: nowSec() + 600 });
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts mqtt.js over TLS with a valid token, refuses a bad one with CONNACK 4', async () => {
    const ca = readFileSync(server.certFile);
    const ok = await connect(d.tlsPort!, { protocol: 'mqtts', ca, rejectUnauthorized: true, username: 'u', password: token });
    assert.equal(ok.returnCode, 0);
    await end(ok.client);
    const bad = await connect(d.tlsPort!, { protocol: 'mqtts', ca, rejectUnauthorized: true, username: 'u', password: 'x.y.z' });
    assert.equal(bad.returnCode, 4);
  });

  it('accepts mosquitto_pub over TLS (--cafile)', async () => {
    const r = await mosquittoPub(d.tlsPort!, { username: 'u', password: token, topic: 't/tls', message: 'hi', qos: 1, extra: ['--cafile', server.certFile] });
    assert.equal(r.code, 0, r.stderr);
  });

  it('refuses TLS 1.1', async () => {
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: d.tlsPort!,
        ca: readFileSync(server.certFile),
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      });
      s.once('secureConnect', () => (s.destroy(), resolve(undefined)));
      s.once('error', (e) => resolve(e));
    });
    assert.ok(err, 'a TLS 1.1 handshake must fail');
    await waitForLog(d, (l) => l.msg === 'TLS handshake failed');
  });

  it('accepts TLS 1.2 and 1.3', async () => {
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const version = await new Promise<string | null>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: d.tlsPort!, ca: readFileSync(server.certFile), minVersion: v, maxVersion: v });
        s.once('secureConnect', () => {
          const p = s.getProtocol();
          s.destroy();
          resolve(p);
        });
        s.once('error', reject);
      });
      assert.equal(version, v);
    }
  });

  it('plain MQTT on the TLS port does not get through, and the daemon keeps serving', async () => {
    const closedWithoutConnack = await new Promise<boolean>((resolve) => {
      const s = netConnect({ port: d.tlsPort!, host: '127.0.0.1' });
      let connack = false;
      s.on('data', (b) => (connack ||= b[0] === 0x20));
      s.on('error', () => undefined);
      s.on('close', () => resolve(!connack));
      s.write(connectPacket({ clientId: 'plain-on-tls', username: 'u', password: token }));
    });
    assert.ok(closedWithoutConnack);
    const ok = await connect(d.port, { username: 'u', password: token });
    assert.equal(ok.returnCode, 0);
    await end(ok.client);
  });

  it('requestClientCert: a client certificate signed by caFile is required, and the token still is', async () => {
    const client = selfSignedCert(dir, 'client', keyPair('ec-p256'), 'sensor-9');
    const m = await startDaemon({
      auth: { jwt: { secret: SECRET } },
      listeners: { tls: { enabled: true, certFile: server.certFile, keyFile: server.keyFile, caFile: client.certFile, requestClientCert: true } },
    });
    try {
      const ca = readFileSync(server.certFile);
      const withCert = { protocol: 'mqtts' as const, ca, rejectUnauthorized: true, cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) };
      const ok = await connect(m.tlsPort!, { ...withCert, username: 'u', password: token });
      assert.equal(ok.returnCode, 0);
      await end(ok.client);
      const noToken = await connect(m.tlsPort!, { ...withCert, username: 'u', password: 'nope' });
      assert.equal(noToken.returnCode, 4);
      await assert.rejects(connect(m.tlsPort!, { protocol: 'mqtts', ca, rejectUnauthorized: true, username: 'u', password: token, connectTimeout: 2000 }));
    } finally {
      await m.stop();
    }
  });
});

// MQTT over WebSocket (listeners.ws) and WebSocket with TLS (listeners.wss) against
// the real daemon: mqtt.js over ws:// and wss:// (a CA made by openssl here), a
// browser-style client sending Origin, raw WebSocket clients sending hand-built
// MQTT bytes (half a packet, several packets per message), and the rules that hold
// on TCP: CONNACK codes, ACL, expiry, revocation, rate limit by the TCP peer
// address, packet size limit, $SYS, routing between WebSocket and TCP clients.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet, request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { IClientOptions } from 'mqtt';
import WebSocket from 'ws';
import { connackCode, connectPacket, encodeRemainingLength, subscribePacket } from '../../scripts/bench/lib/mqttWire.js';
import { buildConfig } from '../../src/config/load.js';
import type { ConfigOverrides } from '../../src/config/types.js';
import type { ConfigError } from '../../src/errors.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { closed, collector, connect, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { waitForLog } from './support/expect.js';

const SECRET = 'websocket-test-secret-0123456789abcdef';
const ORIGIN = 'https://dash.example.com';
const REVOCATIONS = 'cloud/revocations';
const MAX_PACKET = 4096;

const PINGREQ = Buffer.from([0xc0, 0x00]);
const PINGRESP = Buffer.from([0xd0, 0x00]);

/** A raw WebSocket client collecting every byte the broker sends. */
interface RawWs {
  ws: WebSocket;
  received(): Buffer;
  /** Resolves once the received bytes contain `needle`. */
  waitFor(needle: Buffer, ms?: number): Promise<void>;
  /** A WebSocket ping and its pong: the server has parsed every message sent before it. */
  pong(): Promise<void>;
  closed: Promise<number>;
}

function rawWs(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const { protocols = ['mqtt'], ...rest } = options;
    const ws = new WebSocket(url, protocols, rest);
    const chunks: Buffer[] = [];
    const closedP = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('message', (m: Buffer) => chunks.push(m));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined);
      resolve({
        ws,
        received: () => Buffer.concat(chunks),
        closed: closedP,
        waitFor: (needle, ms = 5000) => waitUntil(() => Buffer.concat(chunks).includes(needle), { timeoutMs: ms, what: `bytes ${needle.toString('hex')}` }),
        pong: () => new Promise<void>((r) => (ws.once('pong', () => r()), ws.ping())),
      });
    });
  });
}

/** The HTTP status an upgrade gets (101 when it succeeds). */
function upgradeStatus(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol': 'mqtt',
        ...headers,
      },
    });
    req.once('upgrade', (res, socket) => (socket.destroy(), resolve(res.statusCode ?? 0)));
    req.once('response', (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    req.once('error', reject);
    req.end();
  });
}

describe('WebSocket listeners (ws, wss)', function () {
  this.timeout(20_000);
  let dir: string;
  let pki: TestPki;
  let d: TestDaemon;
  let time: FakeTimeSource;
  let wsPort: number;
  let wssPort: number;
  let token: string;
  const mint = (claims: Record<string, unknown> = {}): Promise<string> => hsToken(SECRET, { sub: 'ws-sensor', exp: nowSec() + 3600, ...claims });
  const wsOpts = (o: IClientOptions = {}): IClientOptions => ({ protocol: 'ws', path: '/mqtt', username: 'u', password: token, ...o });

  before(async () => {
    dir = tempDir('edgegate-ws-');
    pki = makeTestPki(dir);
    time = new FakeTimeSource(Date.now());
    d = await startDaemon(
      {
        auth: { jwt: { secret: SECRET, clockToleranceSec: 0 }, revocation: { topic: REVOCATIONS, requireSigned: false } },
        broker: { maxPacketBytes: MAX_PACKET },
        http: { enabled: true },
        listeners: {
          ws: { enabled: true, host: '127.0.0.1', port: 0, allowedOrigins: [ORIGIN, 'http://localhost:3000'] },
          wss: { enabled: true, host: '127.0.0.1', port: 0, certFile: pki.certFile, keyFile: pki.keyFile },
        },
      },
      { timeSource: time },
    );
    const a = d.daemon.broker!.addresses();
    wsPort = a.ws!.port;
    wssPort = a.wss!.port;
    token = await mint();
  });
  after(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds port 0 and reports the ports in addresses() and the health report', async () => {
    assert.ok(wsPort > 0 && wssPort > 0 && wsPort !== wssPort);
    const line = await waitForLog(d, (l) => l.msg === 'listening' && l.listener === 'ws');
    assert.equal(line.port, wsPort);
    assert.equal(line.path, '/mqtt');
    const health = await new Promise<{ listeners: Record<string, { host: string; port: number }> }>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: d.httpPort!, path: '/healthz' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(JSON.parse(body) as { listeners: Record<string, { host: string; port: number }> }));
      }).once('error', reject);
    });
    assert.deepEqual(health.listeners.ws, { host: '127.0.0.1', port: wsPort });
    assert.deepEqual(health.listeners.wss, { host: '127.0.0.1', port: wssPort });
  });

  it('mqtt.js over ws:// is accepted with a valid token; a bad signature gets CONNACK 4, as on TCP', async () => {
    const ok = await connect(wsPort, wsOpts());
    assert.equal(ok.returnCode, 0);
    await end(ok.client);
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.alloc(32, 7).toString('base64url')}`;
    const overWs = await connect(wsPort, wsOpts({ clientId: 'ws-forged', password: forged }));
    const overTcp = await connect(d.port, { username: 'u', password: forged });
    assert.equal(overTcp.returnCode, 4);
    assert.equal(overWs.returnCode, overTcp.returnCode);
    const line = await waitForLog(d, (l) => l.msg === 'authentication refused' && l.clientId === 'ws-forged');
    assert.equal(line.reason, 'JWT_SIGNATURE');
    assert.equal(line.address, '127.0.0.1', 'the TCP peer address of the WebSocket, not "unknown"');
  });

  it('mqtt.js over wss:// with the test CA; TLS 1.1 refused, TLS 1.2 accepted', async () => {
    const ca = readFileSync(pki.caFile);
    const ok = await connect(wssPort, wsOpts({ protocol: 'wss', ca, rejectUnauthorized: true }));
    assert.equal(ok.returnCode, 0);
    await end(ok.client);
    const bad = await connect(wssPort, wsOpts({ protocol: 'wss', ca, rejectUnauthorized: true, password: 'x.y.z' }));
    assert.equal(bad.returnCode, 4);
    const handshake = (min: 'TLSv1' | 'TLSv1.2', max: 'TLSv1.1' | 'TLSv1.2'): Promise<string | Error> =>
      new Promise((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: wssPort, ca, minVersion: min, maxVersion: max, ciphers: 'DEFAULT@SECLEVEL=0' });
        s.once('secureConnect', () => (resolve(s.getProtocol() ?? ''), s.destroy()));
        s.once('error', (e) => resolve(e));
      });
    assert.ok((await handshake('TLSv1', 'TLSv1.1')) instanceof Error, 'TLS 1.1 must fail');
    assert.equal(await handshake('TLSv1.2', 'TLSv1.2'), 'TLSv1.2');
  });

  it('a publish over WebSocket reaches a TCP subscriber, and the other way round', async () => {
    const tcp = await connectOk(d.port, { username: 'u', password: token });
    const ws = await connectOk(wsPort, wsOpts());
    const wssClient = await connectOk(wssPort, wsOpts({ protocol: 'wss', ca: readFileSync(pki.caFile) }));
    const atTcp = collector(tcp);
    const atWs = collector(ws);
    const atWss = collector(wssClient);
    assert.deepEqual(await subscribe(tcp, 'to-tcp/#', 1), [1]);
    assert.deepEqual(await subscribe(ws, 'to-ws/#', 1), [1]);
    assert.deepEqual(await subscribe(wssClient, 'to-wss/#', 1), [1]);
    await publish(ws, 'to-tcp/a', 'from ws', { qos: 1 });
    await publish(tcp, 'to-ws/b', 'from tcp', { qos: 1 });
    await publish(tcp, 'to-wss/c', 'from tcp to wss', { qos: 1 });
    await Promise.all([atTcp.waitFor(1), atWs.waitFor(1), atWss.waitFor(1)]);
    assert.deepEqual(atTcp.messages[0], { topic: 'to-tcp/a', payload: 'from ws', retain: false });
    assert.deepEqual(atWs.messages[0], { topic: 'to-ws/b', payload: 'from tcp', retain: false });
    assert.equal(atWss.messages[0]!.payload, 'from tcp to wss');
    await end(tcp, ws, wssClient);
  });

  it('applies the token ACL: a denied subscription gets SUBACK 0x80; $SYS status is readable where allowed', async () => {
    const limited = await mint({ acl: { sub: ['cmd/ws-sensor/#', '$SYS/edgegate/#'], pub: ['sensors/ws-sensor/#'] } });
    const c = await connectOk(wsPort, wsOpts({ password: limited }));
    assert.deepEqual(await subscribe(c, 'cmd/other/#'), [0x80]);
    assert.deepEqual(await subscribe(c, 'cmd/ws-sensor/#'), [0]);
    const sys = collector(c);
    assert.deepEqual(await subscribe(c, '$SYS/edgegate/version'), [0]);
    await sys.waitFor(1);
    assert.equal(sys.messages[0]!.topic, '$SYS/edgegate/version');
    await end(c);
  });

  it('disconnects at token expiry and at revocation', async () => {
    const expiring = await connectOk(wsPort, wsOpts({ password: await hsToken(SECRET, { sub: 'short', exp: Math.floor(time.systemNow() / 1000) + 60 }) }));
    const revoked = await connectOk(wsPort, wsOpts({ password: await mint({ jti: 'ws-leaked' }) }));
    time.advance(61_000);
    await closed(expiring);
    await d.daemon.broker!.publishInternal({ topic: REVOCATIONS, payload: Buffer.from(JSON.stringify({ jti: 'ws-leaked' })), qos: 1 }, 'bridge');
    await closed(revoked);
    const again = await connect(wsPort, wsOpts({ password: await mint({ jti: 'ws-leaked' }) }));
    assert.equal(again.returnCode, 4);
  });

  it('negotiates the subprotocol mqtt, accepts mqttv3.1', async () => {
    for (const p of ['mqtt', 'mqttv3.1']) {
      const c = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`, { protocols: [p] });
      assert.equal(c.ws.protocol, p);
      c.ws.close();
    }
  });

  it('a message may carry half a packet or several packets: it is a byte stream', async () => {
    const c = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`);
    const connect = connectPacket({ clientId: 'raw-ws', username: 'u', password: token, keepaliveSec: 60 });
    // CONNECT in three messages: inside the fixed header, inside the payload, the rest.
    c.ws.send(connect.subarray(0, 1));
    c.ws.send(connect.subarray(1, 20));
    await c.pong(); // the first two reached the server on their own, before the rest
    c.ws.send(connect.subarray(20));
    await waitUntil(() => connackCode(c.received()) !== undefined, { what: 'CONNACK' });
    assert.equal(connackCode(c.received()), 0);
    // SUBSCRIBE + PINGREQ + PINGREQ in one message.
    c.ws.send(Buffer.concat([subscribePacket(7, 'raw/#', 0), PINGREQ, PINGREQ]));
    await c.waitFor(Buffer.from([0x90, 0x03, 0x00, 0x07, 0x00]));
    await waitUntil(() => c.received().toString('hex').split(PINGRESP.toString('hex')).length - 1 >= 2, { what: 'two PINGRESP' });
    c.ws.close();
    await c.closed;
  });

  it('CONNECT and SUBSCRIBE in one message (before the token is verified) work too', async () => {
    const c = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`);
    c.ws.send(Buffer.concat([connectPacket({ clientId: 'raw-ws-2', username: 'u', password: token }), subscribePacket(9, 'raw2/#', 1)]));
    await c.waitFor(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    await c.waitFor(Buffer.from([0x90, 0x03, 0x00, 0x09, 0x01]));
    c.ws.close();
  });

  it('an oversized packet closes the connection as soon as its header arrives', async () => {
    const c = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`);
    c.ws.send(connectPacket({ clientId: 'raw-big', username: 'u', password: token }));
    await c.waitFor(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    const topic = Buffer.from([0x00, 0x01, 0x74]);
    c.ws.send(Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(MAX_PACKET + 1), topic]));
    await c.closed;
    const line = await waitForLog(d, (l) => l.msg === 'connection closed: packet too large' && l.announcedBytes === MAX_PACKET + 1);
    assert.equal(line.address, '127.0.0.1');
  });

  it('a WebSocket message larger than any packet the broker accepts closes the connection (1009)', async () => {
    const c = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`);
    c.ws.send(connectPacket({ clientId: 'raw-huge', username: 'u', password: token }));
    await c.waitFor(Buffer.from([0x20, 0x02, 0x00, 0x00]));
    c.ws.send(Buffer.alloc(MAX_PACKET + 5 + 65_536 + 1));
    assert.equal(await c.closed, 1009);
  });

  it('Origin: a listed one is accepted, an unlisted one gets HTTP 403, none at all is let through', async () => {
    for (const origin of [ORIGIN, 'HTTPS://DASH.example.com', 'http://localhost:3000']) {
      const c = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`, { origin });
      c.ws.send(connectPacket({ clientId: 'browser', username: 'u', password: token }));
      await c.waitFor(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      c.ws.close();
    }
    await assert.rejects(rawWs(`ws://127.0.0.1:${wsPort}/mqtt`, { origin: 'https://evil.example.com' }), { status: 403 });
    assert.equal(await upgradeStatus(wsPort, '/mqtt', { Origin: 'null' }), 403);
    await waitForLog(d, (l) => l.msg === 'WebSocket upgrade refused: origin not allowed' && l.origin === 'https://evil.example.com');
    assert.equal(await upgradeStatus(wsPort, '/mqtt'), 101);
    // wss has no allow-list: any Origin.
    const any = await rawWs(`wss://127.0.0.1:${wssPort}/mqtt`, { origin: 'https://evil.example.com', ca: readFileSync(pki.caFile) });
    any.ws.close();
  });

  it('an upgrade on another path gets HTTP 404; the query string does not count; plain HTTP gets 426 or 404', async () => {
    assert.equal(await upgradeStatus(wsPort, '/'), 404);
    assert.equal(await upgradeStatus(wsPort, '/mqtt/x'), 404);
    assert.equal(await upgradeStatus(wsPort, '/MQTT'), 404);
    assert.equal(await upgradeStatus(wsPort, '/mqtt?client=1'), 101);
    await assert.rejects(rawWs(`ws://127.0.0.1:${wsPort}/other`), { status: 404 });
    const plain = (path: string): Promise<number> =>
      new Promise((resolve, reject) =>
        httpGet({ host: '127.0.0.1', port: wsPort, path }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).once('error', reject),
      );
    assert.equal(await plain('/mqtt'), 426);
    assert.equal(await plain('/index.html'), 404);
  });

  it('garbage on the WebSocket port does not hurt the listener', async () => {
    await new Promise<void>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: wsPort });
      s.on('error', () => undefined);
      s.on('close', () => resolve());
      s.write(connectPacket({ clientId: 'not-http', username: 'u', password: token }));
    });
    const ok = await connect(wsPort, wsOpts());
    assert.equal(ok.returnCode, 0);
    await end(ok.client);
  });
});

describe('WebSocket listener: rate limiting by the TCP peer address', function () {
  this.timeout(20_000);
  let d: TestDaemon;
  before(async () => {
    d = await startDaemon({
      auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 3, windowSec: 60, banSec: 300 } },
      listeners: { ws: { enabled: true, host: '127.0.0.1', port: 0 } },
    });
  });
  after(() => d.stop());

  it('failures over WebSocket ban the address; the banned one gets the code TCP gives, on both', async () => {
    const wsPort = d.daemon.broker!.addresses().ws!.port;
    for (let i = 0; i < 3; i++) {
      const bad = await connect(wsPort, { protocol: 'ws', path: '/mqtt', username: 'u', password: 'bad.token.here' });
      assert.equal(bad.returnCode, 4);
    }
    const good = await hsToken(SECRET, { sub: 'rl', exp: nowSec() + 600 });
    const overTcp = await connect(d.port, { username: 'u', password: good, clientId: 'rl-tcp' });
    const overWs = await connect(wsPort, { protocol: 'ws', path: '/mqtt', username: 'u', password: good, clientId: 'rl-ws' });
    assert.notEqual(overTcp.returnCode, 0, 'the address 127.0.0.1 is banned (the ws failures counted against it)');
    assert.equal(overWs.returnCode, overTcp.returnCode);
    const line = await waitForLog(d, (l) => l.msg === 'authentication refused' && l.clientId === 'rl-ws');
    assert.equal(line.reason, 'RATE_LIMITED');
    assert.equal(line.address, '127.0.0.1');
  });
});

describe('WebSocket listener: stopping the daemon', function () {
  this.timeout(20_000);

  it('closes the ws server and its clients', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET } }, listeners: { ws: { enabled: true, host: '127.0.0.1', port: 0 } } });
    const wsPort = d.daemon.broker!.addresses().ws!.port;
    const token = await hsToken(SECRET, { sub: 'stop', exp: nowSec() + 600 });
    const c = await connectOk(wsPort, { protocol: 'ws', path: '/mqtt', username: 'u', password: token });
    const idle = await rawWs(`ws://127.0.0.1:${wsPort}/mqtt`); // upgraded, never sent CONNECT
    const lingering = netConnect({ host: '127.0.0.1', port: wsPort }); // HTTP connection, never upgraded
    lingering.on('error', () => undefined);
    const lingeringClosed = new Promise<void>((r) => lingering.once('close', () => r()));
    await new Promise<void>((r) => lingering.once('connect', () => r()));
    await d.stop();
    await closed(c);
    await idle.closed;
    await lingeringClosed;
    const refused = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: wsPort });
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens on the ws port any more');
  });
});

describe('WebSocket listener configuration', () => {
  const problems = (listeners: Record<string, unknown>): string[] => {
    try {
      buildConfig({ listeners } as ConfigOverrides);
      return [];
    } catch (err) {
      return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('defaults: ws on 8083 and wss on 8084, path /mqtt, off, no Origin list', () => {
    const c = buildConfig({});
    assert.deepEqual(c.listeners.ws, { enabled: false, host: '0.0.0.0', port: 8083, path: '/mqtt', allowedOrigins: [] });
    assert.deepEqual(c.listeners.wss, {
      enabled: false,
      host: '0.0.0.0',
      port: 8084,
      path: '/mqtt',
      allowedOrigins: [],
      certFile: '',
      keyFile: '',
      caFile: '',
    });
  });

  it('names the key: wss without certificate, a path without "/", a bad origin list', () => {
    assert.deepEqual(problems({ wss: { enabled: true } }), [
      'listeners.wss.certFile: is required when listeners.wss.enabled is true',
      'listeners.wss.keyFile: is required when listeners.wss.enabled is true',
    ]);
    assert.deepEqual(problems({ ws: { path: 'mqtt' } }), ['listeners.ws.path: must start with "/", got "mqtt"']);
    assert.equal(problems({ ws: { allowedOrigins: 'https://a.example' } }).length, 1);
    assert.match(problems({ wss: { allowedOrigins: [''] } })[0]!, /^listeners\.wss\.allowedOrigins\[0\]/);
  });
});

describe('WebSocket listener: not enabled', () => {
  it('no ws/wss listener by default', async () => {
    const d = await startDaemon({ auth: { jwt: { secret: SECRET } } });
    try {
      const a = d.daemon.broker!.addresses();
      assert.equal(a.ws, undefined);
      assert.equal(a.wss, undefined);
    } finally {
      await d.stop();
    }
  });

  it('the ws package is reached only through a dynamic import (idle memory budget)', () => {
    // Only websocket.ts imports `ws`, and only listeners.ts imports websocket.ts, with import().
    const src = (f: string): string => readFileSync(new URL(`../../src/broker/${f}`, import.meta.url), 'utf8');
    // Every file of src/broker/, its subfolders (the store) too.
    for (const f of readdirSync(new URL('../../src/broker/', import.meta.url), { recursive: true })
      .map(String)
      .filter((p) => p.endsWith('.ts'))) {
      if (f === 'websocket.ts') continue;
      assert.doesNotMatch(src(f), /from '(ws|\.\/websocket\.js)'/, f);
    }
    assert.match(src('listeners.ts'), /await import\('\.\/websocket\.js'\)/);
  });
});

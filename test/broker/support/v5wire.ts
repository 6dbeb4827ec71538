// MQTT 5 packets built byte by byte, for what an encoder will not write (misplaced or
// wrongly sized properties, lengths running past the packet, reserved bits), a raw
// connection over TCP, TLS or WebSocket that records every byte the server sends,
// and FuzzTarget: the daemon under abuse and what must never happen to it. Used by
// mqtt5Fuzz*.test.ts (and homeAssistant.test.ts). Layouts: MQTT 5.0 sections 1.5
// (data types), 2.1 (fixed header), 2.2.2 (properties), 3.x (each packet).
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
/** Variable Byte Integer (MQTT 5 section 1.5.5; the remaining length's encoding). */
import { encodeRemainingLength as vbi } from '../../../scripts/bench/lib/mqttWire.js';
import { startDaemon, type TestDaemon, tempDir } from '../../helpers/daemon.js';
import { collector, end, subscribe } from '../../helpers/mqtt.js';
import { makeTestPki } from '../../helpers/pki.js';
import { hsToken, nowSec } from '../../helpers/tokens.js';
import { waitUntil } from '../../helpers/wait.js';
import { connect5Ok } from './mqtt5.js';

export { vbi };

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
/** UTF-8 string / Binary Data: two-byte length, then the bytes (sections 1.5.4, 1.5.6). */
export const str = (s: string | Buffer): Buffer => Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s)]);

/** One property (identifier, then the value in the type of table 2-4). */
export const prop = {
  byte: (id: number, v: number): Buffer => Buffer.from([id, v]),
  two: (id: number, v: number): Buffer => Buffer.concat([Buffer.from([id]), u16(v)]),
  four: (id: number, v: number): Buffer => Buffer.concat([Buffer.from([id]), u32(v)]),
  vbi: (id: number, v: number): Buffer => Buffer.concat([Buffer.from([id]), vbi(v)]),
  str: (id: number, s: string | Buffer): Buffer => Buffer.concat([Buffer.from([id]), str(s)]),
  pair: (k: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(k), str(v)]),
};
/** Property identifiers used here (table 2-4). */
export const P = {
  payloadFormat: 0x01,
  messageExpiry: 0x02,
  contentType: 0x03,
  responseTopic: 0x08,
  correlationData: 0x09,
  subscriptionId: 0x0b,
  sessionExpiry: 0x11,
  authMethod: 0x15,
  authData: 0x16,
  requestProblemInfo: 0x17,
  requestResponseInfo: 0x19,
  receiveMaximum: 0x21,
  topicAliasMaximum: 0x22,
  topicAlias: 0x23,
  maximumPacketSize: 0x27,
} as const;
/** A properties block: its Variable Byte Integer length, then the properties (section 2.2.2.1). */
export const props = (...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([vbi(body.length), body]);
};

/** Fixed header (type and flags byte, remaining length) + body (section 2.1). */
export const packet = (first: number, ...body: Buffer[]): Buffer => {
  const b = Buffer.concat(body);
  return Buffer.concat([Buffer.from([first]), vbi(b.length), b]);
};

export interface ConnectFields {
  clientId: string;
  password?: string;
  /** The properties block, already encoded (default: empty). */
  properties?: Buffer;
  /** Overrides the computed connect flags byte (section 3.1.2.3). */
  flags?: number;
  level?: number;
  will?: { properties?: Buffer; topic: string; payload: string };
}

/** CONNECT (section 3.1): "MQTT", level, flags, keep alive 30, properties, client id, [will], user name "u", [password]. */
export function connectV5(f: ConnectFields): Buffer {
  const level = f.level ?? 5;
  let flags = 0x02 | 0x80 | (f.password !== undefined ? 0x40 : 0) | (f.will ? 0x04 : 0);
  if (f.flags !== undefined) flags = f.flags;
  const willPart = f.will ? [...(level === 5 ? [f.will.properties ?? props()] : []), str(f.will.topic), str(f.will.payload)] : [];
  return packet(
    0x10,
    str('MQTT'),
    Buffer.from([level, flags]),
    u16(30),
    ...(level === 5 ? [f.properties ?? props()] : []),
    str(f.clientId),
    ...willPart,
    str('u'),
    ...(f.password !== undefined ? [str(f.password)] : []),
  );
}

/** PUBLISH (section 3.3); `first` overrides the fixed header byte (0x30 | dup<<3 | qos<<1 | retain). */
export function publishV5(topic: string, payload: string | Buffer, o: { qos?: number; id?: number; properties?: Buffer; first?: number } = {}): Buffer {
  const qos = o.qos ?? 0;
  const first = o.first ?? 0x30 | (qos << 1);
  return packet(first, str(topic), ...(qos > 0 || o.id !== undefined ? [u16(o.id ?? 1)] : []), o.properties ?? props(), Buffer.from(payload));
}

/** SUBSCRIBE (section 3.8): packet id, properties, then (filter, options byte) pairs; fixed header 0x82. */
export function subscribeV5(id: number, filters: Array<[string, number]>, properties = props(), first = 0x82): Buffer {
  return packet(first, u16(id), properties, ...filters.map(([t, o]) => Buffer.concat([str(t), Buffer.from([o])])));
}

/** AUTH (section 3.15): reason code and properties. */
export const authV5 = (reasonCode: number, properties = props()): Buffer => packet(0xf0, Buffer.from([reasonCode]), properties);

export type Transport = 'tcp' | 'tls' | 'ws';
export interface Endpoints {
  tcp: number;
  tls: number;
  ws: number;
  ca: Buffer;
}

/** What the server did with one raw connection: every byte it sent, whether it closed, and those bytes as packets. */
export interface Outcome {
  closed: boolean;
  bytes: Buffer;
  packets: Array<Packet & Record<string, any>>;
  /** Set when the server's bytes are not valid MQTT 5 (mqtt-packet's complaint). */
  parseError?: string;
}

/** A raw client connection on any listener: write bytes, read back everything. */
export class RawConn {
  private readonly got: Buffer[] = [];
  private closedFlag = false;
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly writeFn: (b: Buffer) => void,
    private readonly destroyFn: () => void,
    private readonly level: number,
  ) {}

  /** `level`: the protocol level the server's bytes are read with (4: MQTT 3.1.1, 5: MQTT 5). */
  static open(via: Transport, ep: Endpoints, level = 5): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      if (via === 'ws') {
        const ws = new WebSocket(`ws://127.0.0.1:${ep.ws}/mqtt`, 'mqtt');
        const c = new RawConn(
          (b) => ws.readyState === WebSocket.OPEN && ws.send(b),
          () => ws.terminate(),
          level,
        );
        ws.on('message', (d: Buffer) => c.data(d));
        ws.on('close', () => c.close());
        ws.on('error', (e) => (c.closedFlag ? undefined : reject(e)));
        ws.on('open', () => resolve(c));
        return;
      }
      const s =
        via === 'tcp' ? tcpConnect({ host: '127.0.0.1', port: ep.tcp }) : tlsConnect({ host: '127.0.0.1', port: ep.tls, ca: ep.ca, servername: 'localhost' });
      const c = new RawConn(
        (b) => void (s.destroyed || s.write(b)),
        () => s.destroy(),
        level,
      );
      s.setNoDelay(true);
      s.on('data', (d: Buffer) => c.data(d));
      s.on('close', () => c.close());
      s.once('error', (e) => (c.closedFlag ? undefined : reject(e)));
      s.once(via === 'tcp' ? 'connect' : 'secureConnect', () => (s.removeAllListeners('error'), s.on('error', () => undefined), resolve(c)));
    });
  }

  write(b: Buffer): void {
    this.writeFn(b);
  }

  /** Waits until the server closed, or its bytes satisfy `until`, or `ms` passed; then the outcome so far. */
  async settle(ms: number, until: (o: Outcome) => boolean = () => false): Promise<Outcome> {
    const deadline = Date.now() + ms;
    for (;;) {
      const o = this.outcome();
      if (o.closed || until(o) || Date.now() >= deadline) return o;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  outcome(): Outcome {
    const bytes = Buffer.concat(this.got);
    const packets: Outcome['packets'] = [];
    const parser = mqttPacket.parser({ protocolVersion: this.level });
    let parseError: string | undefined;
    parser.on('packet', (p: Packet) => packets.push(p as Outcome['packets'][number]));
    parser.on('error', (e: Error) => {
      // mqtt-packet 9 refuses DISCONNECT 0x8C (Bad authentication method), which MQTT 5.0
      // Table 3-10 lets a server send: keep the packet it had read (as RawV5 does).
      const p = (parser as unknown as { packet?: Outcome['packets'][number] }).packet;
      if (p?.cmd === 'disconnect' && /disconnect reason code/.test(e.message))
        packets.push({ cmd: 'disconnect', reasonCode: p.reasonCode } as Outcome['packets'][number]);
      else parseError ??= e.message;
    });
    parser.parse(bytes);
    return { closed: this.closedFlag, bytes, packets, parseError };
  }

  end(): void {
    this.destroyFn();
  }

  private data(d: Buffer): void {
    this.got.push(d);
    this.notify();
  }

  private close(): void {
    this.closedFlag = true;
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Seeded PRNG (mulberry32): the same mutations on every run. */
export { mulberry32 as prng } from '../../helpers/prng.js';

/** Largest remaining length a client may send to the fuzz daemon (broker.maxPacketBytes): small, so "near the limit" is cheap. */
export const FUZZ_MAX_PACKET_BYTES = 65_536;

/**
 * The daemon under abuse (tcp, tls and ws listeners), a bystander subscribed to
 * everything, and a record of what must never happen: an uncaught exception, an
 * unhandled rejection, an error-level log line.
 */
export class FuzzTarget {
  readonly failures: string[] = [];
  /** Every message the bystander (subscribed to #) received. */
  readonly received: Array<{ topic: string; payload: Buffer; properties?: Record<string, unknown> }> = [];
  private readonly onUncaught = (err: Error): void => void this.failures.push(`uncaught exception: ${err.stack ?? err.message}`);
  private readonly onRejection = (err: unknown): void => void this.failures.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`);
  private logsChecked = 0;
  private serial = 0;
  private constructor(
    readonly d: TestDaemon,
    readonly ep: Endpoints,
    readonly token: string,
    readonly bystander: MqttClient,
    private readonly dir: string,
  ) {
    process.on('uncaughtException', this.onUncaught);
    process.on('unhandledRejection', this.onRejection);
    bystander.on('message', (topic, payload, p) => this.received.push({ topic, payload, properties: p.properties as Record<string, unknown> | undefined }));
    // Whatever reached the bystander must not cost it its connection.
    bystander.on('error', (err) => this.failures.push(`bystander error: ${err.message}`));
    bystander.on('disconnect', (p) => this.failures.push(`bystander got DISCONNECT 0x${(p.reasonCode ?? 0).toString(16)}`));
    bystander.on('close', () => this.failures.push('bystander connection closed'));
  }

  static async start(secret: string): Promise<FuzzTarget> {
    const dir = tempDir('edgegate-fuzz-');
    const pki = makeTestPki(dir);
    const d = await startDaemon({
      auth: { jwt: { secret }, rateLimit: { maxFailures: 0 } },
      broker: { maxPacketBytes: FUZZ_MAX_PACKET_BYTES },
      listeners: { tls: { enabled: true, certFile: pki.certFile, keyFile: pki.keyFile }, ws: { enabled: true, host: '127.0.0.1', port: 0 } },
    });
    const a = d.daemon.broker!.addresses();
    const token = await hsToken(secret, { sub: 'fuzz', exp: nowSec() + 3600 });
    const bystander = await connect5Ok(d.port, { username: 'u', password: token, clientId: 'bystander' });
    await subscribe(bystander, '#', 1);
    return new FuzzTarget(d, { tcp: d.port, tls: a.tls!.port, ws: a.ws!.port, ca: readFileSync(pki.caFile) }, token, bystander, dir);
  }

  /** edgegate_packets_rejected_total for one reason. */
  async rejectedCount(reason: string): Promise<number> {
    const m = await this.d.daemon.metrics.packetsRejected.get();
    return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
  }

  /** A client id nobody else uses. */
  id(prefix: string): string {
    return `${prefix}-${++this.serial}`;
  }

  /** Nothing that must never happen has happened since the last check. */
  assertHealthy(): void {
    const errors = this.d.logs.slice(this.logsChecked).filter((l) => (l.level as number) >= 50);
    this.logsChecked = this.d.logs.length;
    assert.deepEqual(this.failures.splice(0), [], 'no uncaught exception, unhandled rejection or bystander trouble');
    assert.deepEqual(errors, [], 'no error-level log line');
  }

  /** The daemon still serves a new client: connect, subscribe, publish, receive (MQTT 5, TCP). */
  async assertServing(): Promise<void> {
    const id = this.id('alive');
    const sub = await connect5Ok(this.d.port, { username: 'u', password: this.token, clientId: `${id}-sub` });
    const got = collector(sub);
    await subscribe(sub, `alive/${id}`, 1);
    const pub = await connect5Ok(this.d.port, { username: 'u', password: this.token, clientId: `${id}-pub` });
    await new Promise<void>((resolve, reject) => pub.publish(`alive/${id}`, 'yes', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    await got.waitFor(1, 3000);
    await end(sub, pub);
    assert.ok(this.bystander.connected, 'the bystander is still connected');
  }

  /**
   * One connection: `pre` (a valid CONNECT, answered by CONNACK 0x00) if given, then
   * `bytes`; waits until the server closes or `until` holds (at most `ms`), ends the
   * connection and waits for the broker to forget `clientId`. `until` and the result
   * see the server's packets after the pre-CONNECT's CONNACK.
   */
  async exchange(
    via: Transport,
    o: { clientId: string; pre?: Buffer; bytes: Buffer; level?: number; ms?: number; until?: (o: Outcome) => boolean },
  ): Promise<Outcome> {
    const conn = await RawConn.open(via, this.ep, o.level ?? 5);
    let before = 0;
    if (o.pre) {
      conn.write(o.pre);
      const first = await conn.settle(3000, (x) => x.packets.length > 0);
      assert.deepEqual(
        first.packets.map((p) => [p.cmd, p.reasonCode ?? p.returnCode]),
        [['connack', 0]],
        `the CONNECT before the case (${via})`,
      );
      before = first.packets.length;
    }
    conn.write(o.bytes);
    const until = o.until;
    const out = await conn.settle(o.ms ?? 3000, until && ((x) => until({ ...x, packets: x.packets.slice(before) })));
    conn.end();
    await this.gone(o.clientId);
    return { ...out, packets: out.packets.slice(before) };
  }

  /** Resolves once the broker no longer has a client with this id (its close handling has run). */
  gone(clientId: string, ms = 3000): Promise<void> {
    return waitUntil(() => !this.d.daemon.broker!.clientOf(clientId), { timeoutMs: ms, what: `${clientId} to be gone from the broker`, everyMs: 5 });
  }

  async stop(): Promise<void> {
    process.off('uncaughtException', this.onUncaught);
    process.off('unhandledRejection', this.onRejection);
    this.bystander.removeAllListeners('close');
    this.bystander.end(true);
    await this.d.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

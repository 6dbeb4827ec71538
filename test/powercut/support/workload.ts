// The workload of the power-cut and kill -9 suites, and what is checked after each boot.
//
// QoS 1 publishers (mqtt.js, MQTT 3.1.1 and 5, many messages in flight) publish a mix of
//   - bridged messages  data/p<N>/c<cycle>   (the bridge's `out` rule queues them durably),
//   - retained messages ret/p<N>/<j>          (one publisher per topic: a defined order),
//   - session messages  sess/p<N>             (queued for two offline persistent sessions:
//                                              MQTT 3.1.1 clean session 0 and MQTT 5 with a
//                                              session expiry, both subscribed to sess/#),
// and the ledger records exactly which got a PUBACK (reason code < 0x80). Every payload
// is "<id>|<padding>" with a unique id. Checks return violations (strings) rather than
// asserting, so that the negative control can assert that they do find losses.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { hsToken, nowSec } from '../../helpers/tokens.js';
import { waitUntil } from '../../helpers/wait.js';
import { between, rng, trackClient } from './gateway.js';

export const SESSION_FILTER = 'sess/#';
export const RETAINED_FILTER = 'ret/#';

export interface RetainedEntry {
  /** Highest sequence number acknowledged (-1: none). */
  maxAcked: number;
  ackedCycle: number;
  /** Highest sequence number sent. */
  maxSent: number;
}

export interface Revocation {
  jti: string;
  token: string;
  cycle: number;
  /** The CLI exited 0 before the cut: acknowledged. */
  acked: boolean;
  exit?: string;
}

export class Ledger {
  readonly bridgedAcked = new Map<string, number>();
  readonly sessionAcked = new Map<string, number>();
  readonly retained = new Map<string, RetainedEntry>();
  readonly revocations: Revocation[] = [];
  sent = 0;
  acked = 0;
  /** PUBACKs with a reason code >= 0x80, by code. */
  readonly refusedByCode = new Map<number, number>();
  /** Publishes never answered (the connection died first). */
  unanswered = 0;
  private seq = 0;

  nextId(): number {
    return ++this.seq;
  }

  retainedEntry(topic: string): RetainedEntry {
    let e = this.retained.get(topic);
    if (!e) this.retained.set(topic, (e = { maxAcked: -1, ackedCycle: -1, maxSent: 0 }));
    return e;
  }
}

export const idOf = (payload: Buffer | string): string => payload.toString().split('|', 1)[0]!;

export async function sensorToken(secret: Uint8Array, sub: string, jti?: string): Promise<string> {
  return hsToken(secret, { sub, iat: nowSec(), exp: nowSec() + 86_400, ...(jti ? { jti } : {}) });
}

/** The generated secret as the daemon reads it (dataDir/jwt-secret, base64url). */
export function readSecret(dataDir: string): { text: string; bytes: Uint8Array } {
  const text = readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim();
  return { text, bytes: Buffer.from(text, 'base64url') };
}

/** Connects once (no reconnect); resolves with the client and the CONNACK, or the refusal code. */
export function connectMqtt(port: number, opts: IClientOptions, ms = 8000): Promise<{ client?: MqttClient; code: number; sessionPresent: boolean }> {
  return new Promise((resolve, reject) => {
    const client = trackClient(mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', reconnectPeriod: 0, connectTimeout: ms, ...opts }));
    const t = setTimeout(() => {
      client.end(true);
      reject(new Error(`no CONNACK within ${ms} ms (${opts.clientId})`));
    }, ms);
    client.once('connect', (connack) => {
      clearTimeout(t);
      client.on('error', () => undefined);
      resolve({ client, code: 0, sessionPresent: connack.sessionPresent === true });
    });
    client.once('error', (err: Error & { code?: number }) => {
      clearTimeout(t);
      client.end(true);
      if (typeof err.code === 'number') resolve({ code: err.code, sessionPresent: false });
      else reject(err);
    });
  });
}

export function end(client: MqttClient | undefined, force = false): Promise<void> {
  return new Promise((r) => (client ? client.end(force, {}, () => r()) : r()));
}

// ---------- load ----------

export interface Mix {
  bridged: number;
  retained: number;
  session: number;
}
export const DEFAULT_MIX: Mix = { bridged: 0.6, retained: 0.15, session: 0.25 };

export interface LoadOptions {
  port: number;
  token: string;
  ledger: Ledger;
  cycle: number;
  seed: number;
  /** One publisher per entry: its MQTT version. */
  versions: Array<4 | 5>;
  /** QoS 1 messages in flight per publisher. */
  window?: number;
  mix?: Mix;
  /** Retained topics per publisher. */
  retainedTopics?: number;
  /** Padding bytes per payload: [min, max]. */
  padding?: [number, number];
}

class Publisher {
  client?: MqttClient;
  inflight = 0;
  private issuing = false;
  private n = 0;
  private readonly r: () => number;

  constructor(
    private readonly index: number,
    readonly version: 4 | 5,
    private readonly o: Required<LoadOptions>,
  ) {
    this.r = rng((o.seed * 7919 + index * 104729) >>> 0);
  }

  async connect(): Promise<void> {
    const c = await connectMqtt(this.o.port, {
      clientId: `pub-${this.index}-c${this.o.cycle}`,
      protocolVersion: this.version,
      username: 'sensor',
      password: this.o.token,
      clean: true,
    });
    if (!c.client) throw new Error(`publisher ${this.index} refused: CONNACK ${c.code}`);
    this.client = c.client;
  }

  start(): void {
    this.issuing = true;
    this.pump();
  }

  stop(): void {
    this.issuing = false;
  }

  private pump(): void {
    const c = this.client;
    while (this.issuing && c?.connected && !c.disconnecting && this.inflight < this.o.window) this.issue(c);
  }

  private issue(c: MqttClient): void {
    const { ledger, cycle, mix } = this.o;
    const x = this.r();
    const pad = 'x'.repeat(between(this.r, this.o.padding[0], this.o.padding[1]));
    let topic: string;
    let payload: string;
    let retain = false;
    let onAck: () => void;
    if (x < mix.bridged) {
      const id = `b.${cycle}.${this.index}.${++this.n}`;
      topic = `data/p${this.index}/c${cycle}`;
      payload = `${id}|${pad}`;
      onAck = () => void ledger.bridgedAcked.set(id, cycle);
    } else if (x < mix.bridged + mix.retained) {
      topic = `ret/p${this.index}/${between(this.r, 0, this.o.retainedTopics - 1)}`;
      const e = ledger.retainedEntry(topic);
      const seq = ++e.maxSent;
      payload = `${seq}|${pad}`;
      retain = true;
      onAck = () => {
        if (seq > e.maxAcked) {
          e.maxAcked = seq;
          e.ackedCycle = cycle;
        }
      };
    } else {
      const id = `s.${cycle}.${this.index}.${++this.n}`;
      topic = `sess/p${this.index}`;
      payload = `${id}|${pad}`;
      onAck = () => void ledger.sessionAcked.set(id, cycle);
    }
    this.inflight++;
    ledger.sent++;
    c.publish(topic, payload, { qos: 1, retain }, (err) => {
      this.inflight--;
      if (!err) {
        ledger.acked++;
        onAck();
        // Not from inside publish(): a refused publish calls back synchronously.
        setImmediate(() => this.pump());
      } else {
        const code = (err as Error & { code?: unknown }).code;
        if (typeof code === 'number') {
          ledger.refusedByCode.set(code, (ledger.refusedByCode.get(code) ?? 0) + 1);
          setImmediate(() => this.pump());
        } else ledger.unanswered++;
      }
    });
  }
}

/** Publishers with many QoS 1 messages in flight, recording each PUBACK in the ledger. */
export class Load {
  private readonly pubs: Publisher[];

  private constructor(o: Required<LoadOptions>) {
    this.pubs = o.versions.map((v, i) => new Publisher(i, v, o));
  }

  static async start(opts: LoadOptions): Promise<Load> {
    const o: Required<LoadOptions> = { window: 32, mix: DEFAULT_MIX, retainedTopics: 2, padding: [20, 300], ...opts };
    const load = new Load(o);
    await Promise.all(load.pubs.map((p) => p.connect()));
    for (const p of load.pubs) p.start();
    return load;
  }

  get inflight(): number {
    return this.pubs.reduce((n, p) => n + p.inflight, 0);
  }

  stopIssuing(): void {
    for (const p of this.pubs) p.stop();
  }

  /** Stops issuing and waits (up to ms) for every publish in flight to be answered. */
  async settle(ms = 10_000): Promise<boolean> {
    this.stopIssuing();
    await waitUntil(() => this.inflight === 0, { timeoutMs: ms, what: 'every publish in flight answered' }).catch(() => undefined);
    return this.inflight === 0;
  }

  /**
   * Stops issuing and drops the clients once nothing more can be answered: each publisher has
   * nothing in flight, or its connection closed (after the daemon died: the PUBACKs already in
   * the socket are read before the close).
   */
  async abandon(): Promise<void> {
    this.stopIssuing();
    const over = (p: Publisher): boolean => p.inflight === 0 || !p.client?.connected;
    await waitUntil(() => this.pubs.every(over), { what: 'the publishers answered or disconnected' }).catch(() => undefined);
    await Promise.all(this.pubs.map((p) => end(p.client, true)));
  }
}

// ---------- offline persistent sessions ----------

export class SessionSubscriber {
  /** Deliveries per message id. */
  readonly received = new Map<string, number>();
  duplicates = 0;
  client?: MqttClient;
  /** Wall time of the last delivery (the queue stopped streaming when this gets old). */
  lastMessageAt = 0;

  constructor(
    readonly clientId: string,
    readonly version: 4 | 5,
  ) {}

  /** Connects with clean session 0 (MQTT 5: clean start 0 and a session expiry of an hour). */
  async connect(port: number, token: string): Promise<{ sessionPresent: boolean }> {
    const opts: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: this.version,
      clean: false,
      username: 'session',
      password: token,
      ...(this.version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    };
    // The queue streams right after the CONNACK: listen before it arrives.
    const c = await new Promise<{ client: MqttClient; sessionPresent: boolean }>((resolve, reject) => {
      const client = trackClient(mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', reconnectPeriod: 0, connectTimeout: 8000, ...opts }));
      client.on('message', (_t, payload) => {
        const id = idOf(payload);
        this.lastMessageAt = Date.now();
        const n = (this.received.get(id) ?? 0) + 1;
        this.received.set(id, n);
        if (n > 1) this.duplicates++;
      });
      const t = setTimeout(() => (client.end(true), reject(new Error(`${this.clientId}: no CONNACK`))), 8000);
      client.once(
        'connect',
        (connack) => (clearTimeout(t), client.on('error', () => undefined), resolve({ client, sessionPresent: connack.sessionPresent === true })),
      );
      client.once('error', (err) => (clearTimeout(t), client.end(true), reject(err)));
    });
    this.client = c.client;
    return { sessionPresent: c.sessionPresent };
  }

  async subscribe(): Promise<void> {
    const granted = await new Promise<number[]>((res, rej) =>
      this.client!.subscribe(SESSION_FILTER, { qos: 1 }, (err, g) => (err ? rej(err) : res((g ?? []).map((x) => x.qos)))),
    );
    if (granted[0] !== 1) throw new Error(`${this.clientId}: SUBACK ${granted.join(',')}`);
  }

  async disconnect(): Promise<void> {
    await end(this.client);
    this.client = undefined;
  }

  /** Acknowledged ids never delivered to this session. */
  missing(ledger: Ledger): string[] {
    return [...ledger.sessionAcked.keys()].filter((id) => !this.received.has(id));
  }
}

// ---------- checks through the daemon ----------

/** Per topic the last acknowledged value or a later one (a value that was sent). */
export async function checkRetained(port: number, token: string, ledger: Ledger, tag: string): Promise<string[]> {
  const c = await connectMqtt(port, { clientId: `ret-check-${Date.now()}`, protocolVersion: 4, clean: true, username: 'check', password: token });
  if (!c.client) return [`${tag}: retained check: CONNACK ${c.code}`];
  const got = new Map<string, number>();
  c.client.on('message', (topic, payload, packet) => {
    if (packet.retain) got.set(topic, Number(idOf(payload)));
  });
  await new Promise<void>((res, rej) => c.client!.subscribe(RETAINED_FILTER, { qos: 1 }, (err) => (err ? rej(err) : res())));
  const want = [...ledger.retained.entries()].filter(([, e]) => e.maxAcked >= 0);
  // A topic holds one retained message, sent once per SUBSCRIBE: when each wanted topic has had its own, no other comes.
  await waitUntil(() => want.every(([t]) => got.has(t)), { timeoutMs: 2500, what: 'the retained messages' }).catch(() => undefined);
  await end(c.client, true);
  const v: string[] = [];
  for (const [topic, e] of want) {
    const value = got.get(topic);
    if (value === undefined) v.push(`${tag}: retained ${topic}: MISSING (last acknowledged ${e.maxAcked}, acked in cycle ${e.ackedCycle})`);
    else if (value < e.maxAcked)
      v.push(`${tag}: retained ${topic}: ${value} is OLDER than the last acknowledged ${e.maxAcked} (acked in cycle ${e.ackedCycle})`);
    else if (value > e.maxSent) v.push(`${tag}: retained ${topic}: ${value} was never sent (max sent ${e.maxSent})`);
  }
  return v;
}

/**
 * Reconnects each offline session (session present must be 1), waits for every
 * acknowledged message not yet delivered, and leaves again (the session stays).
 * `cutAfterMs`: return that early, connected (the caller cuts the power mid-delivery).
 */
export async function checkSessions(port: number, token: string, ledger: Ledger, subs: SessionSubscriber[], tag: string): Promise<string[]> {
  const v: string[] = [];
  await Promise.all(
    subs.map(async (s) => {
      const { sessionPresent } = await s.connect(port, token);
      if (!sessionPresent) v.push(`${tag}: ${s.clientId} (MQTT ${s.version === 5 ? 5 : '3.1.1'}): session present = 0 (session lost)`);
      // Until everything acknowledged arrived, or the queue stopped streaming for 2 s (30 s at most). What was
      // queued but never acknowledged may still follow: it stays queued in the session for the next check.
      const since = Date.now();
      const stalled = (): boolean => Date.now() - Math.max(since, s.lastMessageAt) >= 2000;
      await waitUntil(() => s.missing(ledger).length === 0 || stalled(), { timeoutMs: 30_000, what: `${s.clientId}: its queue` }).catch(() => undefined);
      await s.disconnect();
      const missing = s.missing(ledger);
      if (missing.length > 0)
        v.push(`${tag}: ${s.clientId}: ${missing.length} acknowledged messages NOT delivered (e.g. ${describeIds(missing, ledger.sessionAcked)})`);
    }),
  );
  return v;
}

function describeIds(ids: string[], cycles: Map<string, number>): string {
  const byCycle = new Map<number, number>();
  for (const id of ids) byCycle.set(cycles.get(id) ?? -1, (byCycle.get(cycles.get(id) ?? -1) ?? 0) + 1);
  return `${ids.slice(0, 4).join(', ')}; acked in cycle(s) ${[...byCycle].map(([c, n]) => `${c}: ${n}`).join(', ')}`;
}

/** A token whose jti was revoked (CLI exit 0) is refused; the main token is accepted. */
export async function checkRevocations(port: number, token: string, ledger: Ledger, tag: string): Promise<string[]> {
  const v: string[] = [];
  const ok = await connectMqtt(port, { clientId: `tok-ok-${Date.now()}`, protocolVersion: 4, username: 'check', password: token });
  if (!ok.client) v.push(`${tag}: a token minted before the first cut is REFUSED (CONNACK ${ok.code}): the secret changed`);
  await end(ok.client, true);
  for (const r of ledger.revocations.filter((x) => x.acked)) {
    const c = await connectMqtt(port, { clientId: `tok-rev-${r.jti}-${Date.now()}`, protocolVersion: 4, username: 'check', password: r.token });
    await end(c.client, true);
    if (c.code === 0) v.push(`${tag}: revocation of jti ${r.jti} (acknowledged by \`edgegate token revoke\` exit 0 in cycle ${r.cycle}) NO LONGER APPLIES`);
  }
  return v;
}

/** Every acknowledged bridged message reached the cloud (duplicates allowed). */
export function cloudLosses(received: Array<{ payload: string }>, ledger: Ledger): { lost: string[]; distinct: number; duplicates: number; describe: string } {
  const seen = new Map<string, number>();
  for (const m of received) {
    const id = idOf(m.payload);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  const lost = [...ledger.bridgedAcked.keys()].filter((id) => !seen.has(id));
  let duplicates = 0;
  for (const n of seen.values()) duplicates += n - 1;
  return { lost, distinct: seen.size, duplicates, describe: lost.length ? describeIds(lost, ledger.bridgedAcked) : '' };
}

// ---------- the durable state itself (the card after a cut), for isolating a loss ----------

export interface DurableState {
  exists: boolean;
  quickCheck: string;
  outbox: Set<string>;
  retained: Map<string, number>;
  /** Queued ids per session client id. */
  outgoing: Map<string, Set<string>>;
  revokedJti: Set<string>;
  floorMs?: number;
  error?: string;
}

/**
 * Copies edgegate.db (and its WAL) from the lazyfs backing directory into a temp dir and
 * reads it there: the backing directory itself is never touched (no -shm, no checkpoint).
 */
export function readDurableState(backingDataDir: string): DurableState {
  const st: DurableState = { exists: false, quickCheck: '', outbox: new Set(), retained: new Map(), outgoing: new Map(), revokedJti: new Set() };
  const db = join(backingDataDir, 'edgegate.db');
  if (!existsSync(db)) return st;
  st.exists = true;
  const tmp = mkdtempSync(join(tmpdir(), 'edgegate-durable-'));
  try {
    copyFileSync(db, join(tmp, 'edgegate.db'));
    if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, join(tmp, 'edgegate.db-wal'));
    const d = new Database(join(tmp, 'edgegate.db'));
    try {
      st.quickCheck = String(d.pragma('quick_check', { simple: true }));
      const tables = new Set(d.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
      if (tables.has('bridge_outbox')) for (const p of d.prepare('SELECT payload FROM bridge_outbox').pluck().all() as Buffer[]) st.outbox.add(idOf(p));
      if (tables.has('broker_retained'))
        for (const r of d.prepare('SELECT topic, payload FROM broker_retained').all() as Array<{ topic: string; payload: Buffer }>)
          st.retained.set(r.topic, Number(idOf(r.payload)));
      if (tables.has('broker_outgoing')) {
        for (const r of d.prepare('SELECT client_id, payload FROM broker_outgoing').all() as Array<{ client_id: string; payload: Buffer | null }>) {
          let s = st.outgoing.get(r.client_id);
          if (!s) st.outgoing.set(r.client_id, (s = new Set()));
          if (r.payload) s.add(idOf(r.payload));
        }
      }
      if (tables.has('auth_revocations'))
        for (const j of d.prepare("SELECT value FROM auth_revocations WHERE kind = 'jti'").pluck().all() as string[]) st.revokedJti.add(j);
      if (tables.has('clock_time_floor'))
        st.floorMs = (d.prepare('SELECT wall_ms FROM clock_time_floor WHERE id = 1').pluck().get() as number | undefined) ?? undefined;
    } finally {
      d.close();
    }
  } catch (err) {
    st.error = (err as Error).message;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return st;
}

/**
 * What the card lacks right after cut `tag` that was acknowledged before it. `sinceDelivery`:
 * bridged rows leave the outbox once the cloud has them, so pass false when the cloud was up.
 */
export function durableLosses(st: DurableState, ledger: Ledger, subs: SessionSubscriber[], tag: string, opts: { bridged: boolean }): string[] {
  const v: string[] = [];
  if (!st.exists) return [`${tag}: durable state: edgegate.db is MISSING on the card`];
  if (st.error) return [`${tag}: durable state unreadable: ${st.error}`];
  if (st.quickCheck !== 'ok') v.push(`${tag}: durable state: PRAGMA quick_check = ${st.quickCheck}`);
  if (opts.bridged) {
    const lost = [...ledger.bridgedAcked.keys()].filter((id) => !st.outbox.has(id));
    if (lost.length)
      v.push(`${tag}: durable state: ${lost.length} acknowledged bridged messages not in bridge_outbox (${describeIds(lost, ledger.bridgedAcked)})`);
  }
  for (const [topic, e] of ledger.retained) {
    if (e.maxAcked < 0) continue;
    const d = st.retained.get(topic);
    if (d === undefined || d < e.maxAcked)
      v.push(`${tag}: durable state: retained ${topic} = ${d ?? 'none'} < acknowledged ${e.maxAcked} (cycle ${e.ackedCycle})`);
  }
  for (const s of subs) {
    const q = st.outgoing.get(s.clientId) ?? new Set<string>();
    const lost = s.missing(ledger).filter((id) => !q.has(id));
    if (lost.length)
      v.push(
        `${tag}: durable state: ${lost.length} acknowledged messages for ${s.clientId} ` +
          `neither delivered nor in broker_outgoing (${describeIds(lost, ledger.sessionAcked)})`,
      );
  }
  for (const r of ledger.revocations.filter((x) => x.acked))
    if (!st.revokedJti.has(r.jti)) v.push(`${tag}: durable state: acknowledged revocation ${r.jti} not in auth_revocations`);
  return v;
}

// Applies revocations to the running daemon: polls the revocation generation
// counter (one indexed single-row SELECT) every auth.revocation.pollIntervalSec,
// and on a change reloads the list and disconnects connected clients whose
// token is now revoked. New connections are refused by the authenticator
// (JWT_REVOKED) as soon as the in-memory list holds the revocation.
//
// Optionally (auth.revocation.topic) revocations also arrive as MQTT messages
// published by the gateway itself, i.e. delivered by the cloud bridge from an
// `in` rule: signed fleet events on the topic and the retained signed snapshot on
// <topic>/snapshot (fleetReceiver.ts), or, with auth.revocation.requireSigned
// false, unsigned {"jti": "..."} or {"sub": "..."} with an optional "reason" and
// "unrevoke": true. Publishes by local clients on those topics are ignored: a
// sensor must never be able to unrevoke itself. Garbage is logged and ignored.
import type { JWTPayload } from 'jose';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import { type Logger, logFailure } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import type { Session } from './authenticator.js';
import { type FleetChannel, looksLikeJws, SNAPSHOT_SUFFIX } from './fleetProtocol.js';
import type { FleetRevocationReceiver, RevocationChanges } from './fleetReceiver.js';
import type { FleetMark } from './fleetState.js';
import { checkValue, type RevocationKind, type RevocationList, type RevocationStore } from './revocations.js';

/** What the watcher needs from the broker (kept structural: auth/ knows nothing of aedes). */
export interface RevocationBrokerView {
  sessions: { disconnectWhere(match: (s: Session) => boolean, reason: string): number };
  addPublishInterceptor(fn: (packet: { topic: string; payload: Buffer | string }, origin: { kind: string }) => void): void;
}

export interface RevocationWatcherDeps {
  store?: RevocationStore;
  list: RevocationList;
  clock: GatewayClock;
  logger: Logger;
  pollIntervalSec: number;
  clockToleranceSec: number;
  topic: string;
  broker: RevocationBrokerView;
  /** Payloads of cached tokens, to learn the exp of a revoked jti. */
  knownPayloads: () => Iterable<JWTPayload>;
  /** auth.revocation.maxEntries: beyond it new revocations are refused (and counted), never dropped. */
  maxEntries?: number;
  /** Told about each revocation refused because the list is full (the metric). */
  onRefused?: (source: 'topic') => void;
  /** Signed fleet messages on the topic and <topic>/snapshot; unsigned ones are refused through it too. */
  fleet: FleetRevocationReceiver;
  /** auth.revocation.requireSigned: false keeps the unsigned JSON messages working. */
  requireSigned?: boolean;
}

const PRUNE_EVERY_MS = 60_000;
const MAX_MESSAGE_BYTES = 4096;

export class RevocationWatcher implements Component {
  readonly name = 'revocations';
  private generation = -1;
  private timer?: TimerHandle;
  private active = false;
  private lastPruneMono = -Infinity;
  private storageFailed = false;
  /** The list was found full (logged once per time it fills up). */
  private fullLogged = false;
  private readonly limitedLog: LogLimiter;

  constructor(private readonly deps: RevocationWatcherDeps) {
    this.limitedLog = new LogLimiter(deps.logger, () => deps.clock.monotonic());
    deps.list.onSeen = (jti, expSec) => this.safely(() => deps.store?.noteExpiry(jti, expSec));
  }

  /** Loads the stored revocations into memory (before the broker accepts anyone). */
  loadNow(): void {
    this.poll();
  }

  async start(): Promise<void> {
    this.active = true;
    this.timer = this.deps.clock.setInterval(this.deps.pollIntervalSec * 1000, () => this.poll());
    if (this.deps.topic !== '') {
      const topic = this.deps.topic;
      const snapshotTopic = topic + SNAPSHOT_SUFFIX;
      // Plain comparisons on every internal publish: the topic is a name, never a filter (config validation).
      this.deps.broker.addPublishInterceptor((packet, origin) => {
        if (!this.active || origin.kind !== 'internal') return;
        if (packet.topic === topic) this.route('event', packet.payload);
        else if (packet.topic === snapshotTopic) this.route('snapshot', packet.payload);
      });
    }
  }

  async stop(): Promise<void> {
    this.active = false;
    this.timer?.cancel();
  }

  /** Checks the generation counter; reloads and applies when it moved. */
  poll(): void {
    const store = this.deps.store;
    if (!store) return;
    this.safely(() => {
      const mono = this.deps.clock.monotonic();
      if (mono - this.lastPruneMono >= PRUNE_EVERY_MS) {
        this.lastPruneMono = mono;
        const pruned = store.pruneExpired(this.deps.clock.now(), this.deps.clockToleranceSec);
        if (pruned > 0) this.deps.logger.info({ pruned }, 'dropped jti revocations whose tokens have expired');
      }
      const generation = store.generation();
      if (generation === this.generation) return;
      this.generation = generation;
      this.deps.list.replace(store.list());
      this.learnExpiries();
      this.disconnectRevoked();
      this.noteFullness();
    });
  }

  private get maxEntries(): number {
    return this.deps.maxEntries ?? Infinity;
  }

  /** One clear line when the list reaches auth.revocation.maxEntries (again after it had room). */
  private noteFullness(): void {
    const count = this.deps.list.count();
    if (count < this.maxEntries) {
      this.fullLogged = false;
      return;
    }
    if (this.fullLogged) return;
    this.fullLogged = true;
    this.deps.logger.error(
      { revocations: count, maxEntries: this.maxEntries },
      'revocation list is full (auth.revocation.maxEntries): new revocations are refused until entries are unrevoked or expire, or the limit is raised',
    );
  }

  private learnExpiries(): void {
    for (const payload of this.deps.knownPayloads()) this.deps.list.isRevoked(payload);
  }

  private disconnectRevoked(): void {
    const n = this.deps.broker.sessions.disconnectWhere((s) => this.deps.list.isRevoked(s.payload), 'JWT_REVOKED');
    const size = this.deps.list.size();
    this.deps.logger.info({ revokedJti: size.jti, revokedSub: size.sub, disconnected: n }, 'revocations applied');
  }

  /** Signed messages go to the fleet receiver; unsigned JSON is applied only when requireSigned is false. */
  private route(channel: FleetChannel, payload: Buffer | string): void {
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    if (channel === 'snapshot' && text.length === 0) return; // a cleared retained snapshot
    const fleet = this.deps.fleet;
    if (looksLikeJws(text)) {
      fleet.handle(channel, text).catch(logFailure(this.deps.logger, 'applying a fleet message'));
      return;
    }
    if (channel === 'event' && this.deps.requireSigned === false) return this.fromMessage(text);
    if (text.trimStart().startsWith('{'))
      return fleet.refuse('unsigned', 'an unsigned message while auth.revocation.requireSigned is true (snapshots are always signed)', channel);
    fleet.refuse('malformed', 'neither a compact JWS nor JSON', channel);
  }

  /**
   * Applies fleet changes: unrevocations, then revocations (refused, not dropped,
   * when the list is full), then one disconnect pass. Returns the revocations that
   * are new (an entry already in the list, e.g. revoked locally, is left as it is).
   */
  applyChanges(changes: RevocationChanges, source: string): FleetMark[] {
    const list = this.deps.list;
    for (const e of changes.unrevoke) {
      list.remove(e.kind, e.value);
      this.safely(() => this.deps.store?.unrevoke(e.kind, e.value));
    }
    const added: FleetMark[] = [];
    const now = this.deps.clock.now();
    for (const e of changes.revoke) {
      if (list.has(e.kind, e.value)) continue;
      if (list.count() >= this.maxEntries) {
        this.refuseFull(e.kind, e.value);
        continue;
      }
      list.add({ kind: e.kind, value: e.value, reason: e.reason || source, revokedAtMs: now, latestExpSec: null });
      this.safely(() => this.deps.store?.revoke(e.kind, e.value, e.reason || source, now));
      added.push({ kind: e.kind, value: e.value });
    }
    if (added.length > 0) {
      this.learnExpiries();
      this.disconnectRevoked();
    }
    this.noteFullness();
    return added;
  }

  private fromMessage(payload: Buffer | string): void {
    const log = this.deps.logger;
    try {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) throw new Error('message too large');
      const msg = JSON.parse(text) as Record<string, unknown>;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not a JSON object');
      const kinds = (['jti', 'sub'] as const).filter((k) => msg[k] !== undefined);
      if (kinds.length !== 1) throw new Error('exactly one of "jti" or "sub" is required');
      const kind: RevocationKind = kinds[0]!;
      const value = msg[kind];
      checkValue(kind, value);
      const reason = typeof msg.reason === 'string' ? msg.reason.slice(0, 1024) : 'revocation topic';
      if (msg.unrevoke === true) this.unrevoke(kind, value);
      else this.revoke(kind, value, reason);
    } catch (err) {
      log.warn({ err: (err as Error).message, topic: this.deps.topic }, 'ignoring an invalid revocation message');
    }
  }

  private revoke(kind: RevocationKind, value: string, reason: string): void {
    if (!this.deps.list.has(kind, value) && this.deps.list.count() >= this.maxEntries) {
      this.refuseFull(kind, value);
      return;
    }
    const now = this.deps.clock.now();
    this.deps.list.add({ kind, value, reason, revokedAtMs: now, latestExpSec: null });
    this.safely(() => this.deps.store?.revoke(kind, value, reason, now));
    this.deps.logger.info({ kind, value, reason }, 'revocation received on the revocation topic');
    this.learnExpiries();
    this.disconnectRevoked();
    this.noteFullness();
  }

  /** Refused, never dropped silently: counted, and said (at most once per 10 s; the line carries the count). */
  private refuseFull(kind: RevocationKind, value: string): void {
    this.deps.onRefused?.('topic');
    this.noteFullness();
    this.limitedLog.log(
      'warn',
      'revocation_refused',
      { kind, value, maxEntries: this.maxEntries, topic: this.deps.topic },
      'revocation NOT applied: the revocation list is full (auth.revocation.maxEntries)',
    );
  }

  private unrevoke(kind: RevocationKind, value: string): void {
    this.deps.list.remove(kind, value);
    this.safely(() => this.deps.store?.unrevoke(kind, value));
    this.noteFullness();
    this.deps.logger.info({ kind, value }, 'unrevocation received on the revocation topic');
  }

  /** Storage failures are logged once per streak; the in-memory list keeps working. */
  private safely(fn: () => void): void {
    try {
      fn();
      this.storageFailed = false;
    } catch (err) {
      if (!this.storageFailed) this.deps.logger.error({ err: (err as Error).message }, 'revocations: database access failed; continuing from memory');
      this.storageFailed = true;
    }
  }
}

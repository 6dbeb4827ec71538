// What makes an acknowledgement a promise kept across a power cut. The broker's
// state lives in the database (store/brokerPersistence.ts); the patched aedes asks
// beforeAck() before it writes a PUBACK, PUBREC or PUBCOMP, and the answer waits
// for the one group commit holding everything the message changed: its bridge
// row (the interceptors' promises, handed over by the publish hook), its retained
// copy and its copies queued for persistent sessions. A failed commit refuses the
// message: MQTT 5 gets 0x97 Quota exceeded when the disk is full, 0x80 otherwise;
// MQTT 3.1.1 no PUBACK (its connection closes and the client sends it again).
//
// It also keeps the sessions' bookkeeping (connected / disconnected, expiry),
// publishes the wills the previous run left unpublished, and reports counts.
import type { Aedes, Client, PublishPacket } from 'aedes';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { BrokerConfig } from '../config/types.js';
import { type Logger, logFailure } from '../log.js';
import type { LogLimiter } from '../logLimiter.js';
import type { Metrics } from '../metrics.js';
import type { Sqlite } from '../storage/database.js';
import { type GroupCommit, isDiskFull } from '../storage/groupCommit.js';
import { ReasonCode } from './reasonCodes.js';
import { BrokerPersistence } from './store/brokerPersistence.js';
import type { QueuedPacket } from './store/queueStore.js';

/** How often sessions are checked for expiry (an hour's precision would do; a minute costs nothing). */
const SESSION_SWEEP_MS = 60_000;

type Refusal = Error & { reasonCode?: number };

export interface DurabilityDeps {
  database: Sqlite;
  group: GroupCommit;
  config: BrokerConfig;
  clock: GatewayClock;
  logger: Logger;
  metrics: Metrics;
  limitedLog: LogLimiter;
}

export class BrokerDurability {
  readonly persistence: BrokerPersistence;
  /** Interceptor promises (the bridge row) of QoS 1/2 client publishes, awaited by beforeAck. */
  private readonly pendingIntercepts = new WeakMap<object, Promise<void>>();
  private sweep?: TimerHandle;
  private readonly willTimers = new Map<string, TimerHandle>();

  constructor(private readonly deps: DurabilityDeps) {
    const { config, metrics, limitedLog } = deps;
    this.persistence = new BrokerPersistence(deps.database, deps.group, {
      maxRetained: config.persistence.maxRetained,
      queueLimit: config.queueLimit,
      sessionExpirySec: config.persistence.sessionExpirySec,
      now: () => deps.clock.now(),
      onRetainedRefused: (topic) => {
        metrics.brokerRetainedDropped.inc();
        limitedLog.log(
          'warn',
          'max_retained',
          { topic, maxRetained: config.persistence.maxRetained },
          'retained message not kept: broker.persistence.maxRetained reached',
        );
      },
      onQueueDropped: (clientId, n) => {
        metrics.brokerQueueDropped.inc(n);
        limitedLog.log(
          'warn',
          `queue_limit`,
          { clientId, queueLimit: config.queueLimit },
          'oldest queued message of a session dropped: broker.queueLimit reached',
        );
      },
    });
  }

  /** The publish hook hands over a QoS 1/2 message's interceptor promise: its acknowledgement waits for it. */
  awaitBeforeAck(packet: PublishPacket, pending: Promise<void>): void {
    pending.catch(() => undefined); // awaited (and judged) in beforeAck; never an unhandled rejection
    this.pendingIntercepts.set(packet, pending);
  }

  /** aedes's beforeAck (patch): the acknowledgement of `packet` follows the commit of all it changed. */
  beforeAck(_client: Client, packet: PublishPacket, callback: (err: Refusal | null) => void): void {
    const intercepted = this.pendingIntercepts.get(packet);
    if (intercepted) this.pendingIntercepts.delete(packet);
    const stored = this.persistence.committed();
    (intercepted ? Promise.all([intercepted, stored]) : stored).then(
      () => callback(null),
      (err: unknown) => callback(this.refusal(err)),
    );
  }

  private refusal(err: unknown): Refusal {
    const reasonCode = (err as Refusal | undefined)?.reasonCode;
    if (typeof reasonCode === 'number') return err as Refusal;
    const full = isDiskFull(err);
    return Object.assign(new Error(full ? 'not stored: the disk is full' : 'not stored'), {
      reasonCode: full ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError,
    });
  }

  /** Wires the session bookkeeping to aedes's events and starts the expiry sweep. */
  start(aedes: Aedes, publishWill: (will: QueuedPacket) => void): void {
    aedes.on('clientReady', (client) => {
      this.persistence.sessionConnected(client);
      // A client back before its recovered will was due: the will is not published [MQTT-3.1.3-9].
      this.willTimers.get(client.id)?.cancel();
      this.willTimers.delete(client.id);
    });
    aedes.on('clientDisconnect', (client) => this.persistence.sessionDisconnected(client));
    this.sweep = this.deps.clock.setInterval(SESSION_SWEEP_MS, () => this.expireSessions(aedes));
    this.expireSessions(aedes);
    for (const will of this.persistence.takeRecoveredWills()) this.recoverWill(aedes, will, publishWill);
  }

  stop(): void {
    this.sweep?.cancel();
    for (const t of this.willTimers.values()) t.cancel();
    this.willTimers.clear();
    this.deps.group.flush();
  }

  /**
   * A will still stored at start: its connection ended with the previous run (a
   * crash, a power cut) and nobody published it. Published now, or after its MQTT 5
   * Will Delay Interval unless the client is back first.
   */
  private recoverWill(aedes: Aedes, will: QueuedPacket, publishWill: (will: QueuedPacket) => void): void {
    const clientId = String(will.clientId ?? '');
    const delaySec = (will.properties?.willDelayInterval as number | undefined) ?? 0;
    const fire = (): void => {
      this.willTimers.delete(clientId);
      const clients = (aedes as unknown as { clients: Record<string, unknown> }).clients;
      if (clients[clientId]) return; // reconnected: its new will replaced this one
      this.deps.logger.info({ clientId, topic: will.topic }, 'publishing the will of a connection that ended with the previous run');
      publishWill(will);
      this.persistence.delWill({ id: clientId }).catch(logFailure(this.deps.logger, 'deleting a published will'));
    };
    if (delaySec > 0) this.willTimers.set(clientId, this.deps.clock.setTimer(delaySec * 1000, fire));
    else fire();
  }

  private expireSessions(aedes: Aedes): void {
    const clients = (aedes as unknown as { clients: Record<string, unknown> }).clients;
    try {
      const ended = this.persistence.expireSessions((id) => clients[id] !== undefined);
      if (ended.length > 0) {
        this.deps.metrics.brokerSessionsExpired.inc(ended.length);
        this.deps.logger.info({ sessions: ended.length, clientIds: ended.slice(0, 10) }, 'persistent sessions expired');
      }
    } catch (err) {
      this.deps.logger.error({ err }, 'session expiry failed');
    }
  }

  /** For the status board and metrics. */
  counts(): { retained: number; sessions: number; queued: number } {
    return this.persistence.counts();
  }
}

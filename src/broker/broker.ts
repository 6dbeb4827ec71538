// The local MQTT broker: aedes behind our listeners, with hooks that apply token
// authentication and the token's ACL. Other components (bridge, serial, ops) use
// it through publishInternal/subscribeInternal and publish interceptors.
import './packetWriter.js';
import { Aedes, type AedesPublishPacket, type Client, type PublishPacket } from 'aedes';
import type { Authenticator } from '../auth/authenticator.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { AuthConfig, BrokerConfig, GatewayConfig } from '../config/types.js';
import { type Logger, logFailure } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import type { Metrics } from '../metrics.js';
import type { StatusBoard } from '../status.js';
import type { Sqlite } from '../storage/database.js';
import type { GroupCommit } from '../storage/groupCommit.js';
import type { StoredCounts } from '../storage/storageStatus.js';
import { AuthHooks } from './authHooks.js';
import { ConnectHooks } from './connectHooks.js';
import { BrokerDurability } from './durability.js';
import { type ClientStream, type ListenerAddresses, Listeners } from './listeners.js';
import { maximumPacketSize } from './packetGuard.js';
import { type InternalPacket, type PublishInterceptor, type PublishOrigin, PublishRefused } from './publishing.js';
import { type ClientView, SessionRegistry } from './sessions.js';

/** A message as internal subscribers receive it (aedes's packet type stays inside src/broker/). */
export type DeliveredMessage = AedesPublishPacket;
export { type InternalPacket, type MessageProperties, type PublishInterceptor, type PublishOrigin, PublishRefused } from './publishing.js';

export interface LocalBrokerDeps {
  config: Pick<GatewayConfig, 'listeners' | 'storage'> & { broker: BrokerConfig; auth: AuthConfig };
  /** Where the broker keeps its state (retained messages, sessions, queued messages, wills). */
  database: Sqlite;
  /** The database's group commit: acknowledgements wait for it. */
  group: GroupCommit;
  status: StatusBoard;
  authenticator: Authenticator;
  clock: GatewayClock;
  logger: Logger;
  metrics: Metrics;
}

export interface BrokerStatus {
  serving: boolean;
  listeners: ListenerAddresses;
  clientsConnected: number;
}

declare module '../status.js' {
  interface StatusMap {
    broker: BrokerStatus;
  }
}

/** aedes's queueLimit: what broker.queueLimit meant before sessions were kept (MQTT 3.1.1 clients see the same). */
const PACKETS_BEFORE_CONNACK = 42;

export class LocalBroker {
  private aedes?: Aedes;
  private durability?: BrokerDurability;
  private listeners?: Listeners;
  private readonly interceptors: PublishInterceptor[] = [];
  private readonly clientListeners = new Set<() => void>();
  readonly sessions: SessionRegistry;
  private serving = false;

  constructor(private readonly deps: LocalBrokerDeps) {
    this.sessions = new SessionRegistry(deps.clock, deps.config.auth.jwt.disconnectOnExpiry, deps.logger);
    deps.status.register(
      'broker',
      () => ({ serving: this.serving, listeners: this.addresses(), clientsConnected: this.connectedClients() }),
      () => this.serving,
    );
    // Read at each scrape: aedes counts a client before it is ready (no event then), and stored state has no event at all.
    deps.metrics.registry.addCollector(() => this.refreshGauges());
  }

  async start(): Promise<void> {
    const { broker: b } = this.deps.config;
    // One rate-limited log for the broker's refusals: each kind has its own key.
    const limitedLog = new LogLimiter(this.deps.logger, () => this.deps.clock.monotonic());
    const connectHooks = new ConnectHooks({
      authenticator: this.deps.authenticator,
      sessions: this.sessions,
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      maxClients: b.maxClients,
      connectedClients: () => this.aedes?.connectedClients ?? 0,
      limitedLog,
    });
    const durability = new BrokerDurability({
      database: this.deps.database,
      group: this.deps.group,
      config: b,
      clock: this.deps.clock,
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      limitedLog,
    });
    this.durability = durability;
    const authHooks = new AuthHooks({
      sessions: this.sessions,
      aclDenyAction: this.deps.config.auth.aclDenyAction,
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      intercept: (packet, origin) => this.runInterceptors(packet, origin),
      awaitBeforeAck: (packet, pending) => durability.awaitBeforeAck(packet, pending),
      limitedLog,
    });
    this.aedes = await Aedes.createBroker({
      id: 'edgegate',
      connectTimeout: b.connectTimeoutSec * 1000,
      drainTimeout: b.drainTimeoutSec * 1000,
      // Packets a client may send before its CONNACK (pipelined while its token is
      // verified); with maxPacketBytes this bounds what an unauthenticated client holds.
      queueLimit: PACKETS_BEFORE_CONNACK,
      maxInflightInbound: b.maxInflightInbound,
      // Client ids are bounded by MQTT itself; EMQX accepts long ids, so do we.
      maxClientsIdLength: 65_535,
      heartbeatInterval: 60_000,
      // MQTT 5 CONNACK properties that tell the truth (MQTT 5.0 section 3.2.2.3):
      // the packet size the guard enforces, the QoS 2 window aedes enforces
      // (one more gets DISCONNECT 0x93), and the aliases a client may use.
      maximumPacketSize: maximumPacketSize(b.maxPacketBytes),
      receiveMaximum: b.maxInflightInbound,
      topicAliasMaximum: b.topicAliasMaximum,
      topicAliasOutbound: true,
      // Retained messages, sessions, queued messages and wills in the database; an
      // acknowledgement follows the commit of what its message changed.
      persistence: durability.persistence,
      beforeAck: (client, packet, cb) => durability.beforeAck(client, packet, cb),
      ...connectHooks.aedesHooks(),
      ...authHooks.aedesHooks(),
    });
    durability.start(this.aedes, (will) => {
      this.publishRecoveredWill(will as unknown as PublishPacket).catch(logFailure(this.deps.logger, 'publishing a recovered will'));
    });
    this.aedes.on('clientReady', () => this.clientsChanged());
    this.aedes.on('clientDisconnect', () => this.clientsChanged());
    this.aedes.on('clientError', (client, err) => this.deps.logger.debug({ clientId: client.id, err: err.message }, 'client error'));
    this.aedes.on('connectionError', (_client, err) => this.deps.logger.debug({ err: err.message }, 'connection error'));
    this.sessions.start();
    this.listeners = new Listeners(this.deps.config.listeners, (s: ClientStream) => this.aedes!.handle(s), this.deps.logger, {
      maxPacketBytes: b.maxPacketBytes,
      onReject: (why) => {
        this.deps.metrics.packetsRejected.inc({ reason: why.reason });
        // MQTT 3.1.1 gives no way to tell the client; a clear line, at most one per field every 10 s.
        if (why.reason === 'invalid_utf8') {
          limitedLog.log(
            'info',
            `invalid_utf8:${why.field}`,
            { address: why.address, field: why.field, packetType: why.packetType },
            'connection closed: ill-formed UTF-8 or U+0000 in a string (MQTT-1.5.3-1, MQTT-1.5.3-2)',
          );
        }
      },
    });
    await this.listeners.start();
    this.serving = true;
  }

  /** Stop accepting, close every client, close aedes. */
  async stop(): Promise<void> {
    this.serving = false;
    await this.listeners?.stopAccepting();
    this.sessions.stop();
    const aedes = this.aedes;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    this.durability?.stop();
    this.listeners?.destroyRemaining();
    this.deps.metrics.clientsConnected.set(0);
  }

  isServing(): boolean {
    return this.serving;
  }

  addresses(): ListenerAddresses {
    return this.listeners?.addresses() ?? {};
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Called after each client connects or disconnects (the status page's live table); returns an unsubscribe. */
  onClientsChanged(fn: () => void): () => void {
    this.clientListeners.add(fn);
    return () => this.clientListeners.delete(fn);
  }

  private clientsChanged(): void {
    this.deps.metrics.clientsConnected.set(this.connectedClients());
    for (const fn of this.clientListeners) fn();
  }

  private refreshGauges(): void {
    const m = this.deps.metrics;
    m.clientsConnected.set(this.connectedClients());
    const stored = this.storedCounts();
    if (!stored) return;
    m.brokerRetained.set(stored.retained);
    m.brokerSessions.set(stored.sessions);
    m.brokerQueued.set(stored.queued);
  }

  /** The connected, authenticated clients (the status page's table). */
  clientViews(): ClientView[] {
    const views = this.sessions.views();
    // With auth.jwt.from = "username" the user name IS the token: never shown.
    if (this.deps.config.auth.jwt.from === 'username') for (const v of views) v.username = null;
    return views;
  }

  /** Closes the connection of the client with this id (an operator's action); false when none is connected. */
  disconnectClient(clientId: string, reason = 'ADMIN_DISCONNECT'): boolean {
    return this.sessions.disconnectWhere((s) => s.clientId === clientId, reason) > 0;
  }

  addPublishInterceptor(fn: PublishInterceptor): void {
    this.interceptors.push(fn);
  }

  /** Publishes as the gateway itself (serial ports, the bridge, $SYS status); no ACL applies. */
  async publishInternal(message: InternalPacket, source: string): Promise<void> {
    const aedes = this.aedes;
    if (!aedes || aedes.closed) return;
    const packet = { cmd: 'publish', qos: 0, retain: false, dup: false, ...message } as PublishPacket;
    await this.runInterceptors(packet, { kind: 'internal', source });
    this.deps.metrics.messagesReceived.inc();
    await new Promise<void>((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
    // Its retained copy and queued copies are on the card when this resolves (as for a client's PUBACK).
    await this.durability?.persistence.committed();
  }

  /** Counts of the broker's stored state (status board, metrics); undefined until started. */
  storedCounts(): StoredCounts | undefined {
    return this.durability?.counts();
  }

  /** A will the previous run left unpublished: through the interceptors (the bridge), then to subscribers. */
  private async publishRecoveredWill(will: PublishPacket): Promise<void> {
    const aedes = this.aedes;
    if (!aedes || aedes.closed) return;
    try {
      await this.runInterceptors(will, { kind: 'client', clientId: String((will as { clientId?: unknown }).clientId ?? ''), protocolVersion: 4 });
    } catch {
      // Logged by runInterceptors; local subscribers still get it (nobody sends a will again).
    }
    this.deps.metrics.messagesReceived.inc();
    aedes.publish({ ...will, cmd: 'publish', dup: false } as PublishPacket, () => undefined);
  }

  /** Receives every message published on `filter` (after authorization); returns an unsubscribe. */
  subscribeInternal(filter: string, handler: (packet: AedesPublishPacket) => void): () => void {
    const aedes = this.aedes;
    if (!aedes) throw new Error('broker not started');
    const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
      try {
        handler(packet);
      } catch (err) {
        this.deps.logger.error({ err, filter }, 'internal subscriber failed');
      }
      cb();
    };
    aedes.subscribe(filter, deliver, () => undefined);
    return () => aedes.unsubscribe(filter, deliver, () => undefined);
  }

  clientOf(clientId: string): Client | undefined {
    const clients = (this.aedes as unknown as { clients?: Record<string, Client> })?.clients;
    return clients?.[clientId];
  }

  /**
   * Runs every interceptor; undefined when all finished synchronously (the common
   * case: no promise, no extra turn before the PUBACK). A failure means the message
   * could not be taken care of (e.g. the durable queue could not commit it), so the
   * returned promise rejects and the publisher gets no acknowledgement.
   */
  private runInterceptors(packet: PublishPacket, origin: PublishOrigin): Promise<void> | undefined {
    let pending: Array<Promise<void>> | undefined;
    for (const fn of this.interceptors) {
      let result: Promise<void> | void;
      try {
        result = fn(packet, origin);
      } catch (err) {
        result = Promise.reject(err);
      }
      if (!result) continue;
      // The failure is logged on the side and the caller gets the interceptor's own
      // promise: a PUBACK waiting for the bridge's group commit is then written one
      // microtask after the commit (bridge/sender.ts relies on that order).
      result.then(undefined, (err: unknown) => this.interceptorFailed(err, packet));
      (pending ??= []).push(result);
    }
    if (!pending) return undefined;
    // One pending interceptor (the usual case: the bridge queue): no Promise.all, fewer microtask hops.
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  private interceptorFailed(err: unknown, packet: PublishPacket): void {
    // A refusal by design (the bridge queue is full) is counted and logged, rate-limited, where it is decided.
    if (err instanceof PublishRefused && err.reasonCode === 0x97) return;
    this.deps.logger.error({ err, topic: packet.topic }, 'publish interceptor failed: message not accepted');
  }
}

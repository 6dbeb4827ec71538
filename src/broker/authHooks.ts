// aedes hooks adapting the authenticator and the token ACL to aedes's callbacks.
// Safe defaults: a client with no session is refused everything.
import type { AedesOptions, AedesPublishPacket, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Socket } from 'node:net';
import type { AuthResult, Authenticator } from '../auth/authenticator.js';
import { topicMatches } from '../mqtt/topics.js';
import type { Logger } from '../log.js';
import type { LogLimiter } from '../logLimiter.js';
import type { Metrics } from '../ops/metrics.js';
import type { PublishOrigin } from './broker.js';
import { EMPTY_CLIENT_ID_WITHOUT_CLEAN_SESSION } from './packetGuard.js';
import type { SessionRegistry } from './sessions.js';

/**
 * Where a denied publish goes under aclDenyAction "ignore": MQTT 3.1.1 has no
 * way to refuse a PUBLISH but closing the connection (4.11), and an error from
 * authorizePublish closes it. So the packet is acknowledged as usual and routed
 * to this topic, which no client may subscribe to and nothing forwards.
 */
export const DENIED_SINK_TOPIC = '$edgegate/denied';

/** Topics only the gateway itself publishes on. */
export function isReservedTopic(topic: string): boolean {
  return topic.startsWith('$SYS/') || topic === '$SYS' || topic.startsWith('$edgegate/');
}

export interface AuthHooksDeps {
  authenticator: Authenticator;
  sessions: SessionRegistry;
  aclDenyAction: 'ignore' | 'disconnect';
  logger: Logger;
  metrics: Metrics;
  /** Undefined when every interceptor finished synchronously. */
  intercept: (packet: PublishPacket, origin: PublishOrigin) => Promise<void> | undefined;
  /** broker.maxClients, and how many clients have completed CONNECT now. */
  maxClients: number;
  connectedClients: () => number;
  limitedLog: LogLimiter;
}

function remoteAddress(client: Client): string {
  const conn = client.conn as Partial<Socket>;
  return conn.remoteAddress ?? 'unknown';
}

/** Acknowledged as usual, delivered to nobody: see DENIED_SINK_TOPIC. */
function toSink(packet: PublishPacket, done: (error?: Error | null) => void): void {
  packet.topic = DENIED_SINK_TOPIC;
  packet.retain = false;
  done(null);
}

export class AuthHooks {
  /** CONNECTs between the authenticate hook and its answer: they count against maxClients too. */
  private admitting = 0;

  constructor(private readonly deps: AuthHooksDeps) {}

  aedesHooks(): Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'> {
    return {
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    };
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    // MQTT 3.1.1 section 3.1.3.1 [MQTT-3.1.3-8]: a zero-byte client id with CleanSession = 0 gets
    // CONNACK 2 and a close. aedes would invent an id and accept; the packet guard saw the raw CONNECT.
    if ((client.conn as unknown as Record<symbol, unknown>)[EMPTY_CLIENT_ID_WITHOUT_CLEAN_SESSION] === true) return this.refuseIdentifier(client, done);
    // Checked before any token work, so that a storm beyond the limit costs next to nothing.
    if (this.deps.connectedClients() + this.admitting >= this.deps.maxClients) return this.refuseFull(client, done);
    this.admitting++;
    // The address is read only when needed (a ban exists, a refusal, debug logs): it costs a getpeername syscall.
    const facts = { clientId: client.id, username, password, get remoteAddress() { return remoteAddress(client); } };
    this.deps.authenticator.authenticate(facts).then(
      (result) => (this.admitting--, this.answer(client, result, done)),
      () => (this.admitting--, this.answer(client, { ok: false, reason: 'AUTH_UNAVAILABLE', detail: 'internal error' }, done)),
    );
  }

  /** CONNACK 3, "server unavailable" (MQTT 3.1.1 section 3.2.2.3): the client may retry later. */
  private refuseFull(client: Client, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    this.deps.metrics.connectionsRefused.inc({ reason: 'max_clients' });
    this.deps.limitedLog.log('warn', 'max_clients', { clientId: client.id, address: remoteAddress(client), maxClients: this.deps.maxClients }, 'connection refused: broker.maxClients reached');
    const err = new Error('server unavailable: broker.maxClients reached') as AuthenticateError;
    err.returnCode = 3;
    done(err, false);
  }

  /** CONNACK 2, "identifier rejected" (MQTT 3.1.1 section 3.2.2.3); aedes then closes the connection. */
  private refuseIdentifier(client: Client, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    this.deps.metrics.connectionsRefused.inc({ reason: 'identifier_rejected' });
    this.deps.limitedLog.log('info', 'identifier_rejected', { address: remoteAddress(client) }, 'connection refused: empty client id with CleanSession = 0 (MQTT-3.1.3-8)');
    const err = new Error('identifier rejected: empty client id with CleanSession = 0') as AuthenticateError;
    err.returnCode = 2;
    done(err, false);
  }

  private answer(client: Client, result: AuthResult, done: (error: AuthenticateError | null, success: boolean | null) => void): void {
    const m = this.deps.metrics;
    if (result.ok) {
      m.authAttempts.inc({ result: 'accepted', reason: result.cached ? 'CACHED' : 'VERIFIED' });
      if (result.cached) m.authCacheHits.inc();
      this.deps.sessions.add(client, result.session);
      return done(null, true);
    }
    m.authAttempts.inc({ result: 'refused', reason: result.reason });
    // CONNACK 4, "bad user name or password" (MQTT 3.1.1 section 3.2.2.3); a banned address
    // gets 5, "not authorized": its credentials were not even looked at (as EMQX answers a ban).
    const err = new Error(`authentication refused: ${result.reason}`) as AuthenticateError;
    err.returnCode = result.reason === 'RATE_LIMITED' ? 5 : 4;
    done(err, false);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    // Internal publishes never come here (publishInternal hands them to aedes directly);
    // wills do, with no PUBLISH behind them (no `cmd`): see authorizeWill.
    if (!client || (packet as { cmd?: string }).cmd !== 'publish') return this.authorizeWill(client, packet, done);
    const entry = this.deps.sessions.entryOf(client);
    const session = entry?.session;
    const allowed = session !== undefined && !isReservedTopic(packet.topic) && session.acl.canPublish(packet.topic, { qos: packet.qos, retain: packet.retain });
    if (!allowed) return this.deny(client, packet, done);
    entry!.messagesIn++;
    this.deps.metrics.messagesReceived.inc();
    const pending = this.deps.intercept(packet, { kind: 'client', clientId: client.id });
    if (!pending) return done(null);
    // Not taken care of (the durable queue could not commit): no PUBACK; aedes closes
    // the connection and the client sends the message again after reconnecting.
    pending.then(() => done(null), (err: Error) => done(err));
  }

  private deny(client: Client, packet: PublishPacket, done: (error?: Error | null) => void): void {
    this.deps.metrics.aclDenied.inc({ action: 'publish' });
    this.deps.logger.info({ clientId: client.id, topic: packet.topic, action: this.deps.aclDenyAction }, 'publish denied by ACL');
    if (this.deps.aclDenyAction === 'disconnect') return done(new Error('publish denied'));
    toSink(packet, done);
  }

  /**
   * A will (MQTT 3.1.1 section 3.1.2.5) is authorized like a publish of its client,
   * against the ACL of the token it connected with (the session is kept past the
   * close for this), and goes through the interceptors (the bridge queue). aedes
   * asks at the close of the connection (client.js finish(): no DISCONNECT came),
   * and from its sweep of persisted wills of brokers it believes dead (aedes.js
   * _clearWills), with the client if connected, else null. A denied will goes to
   * the sink whatever aclDenyAction says: the connection is gone already, and an
   * error in the sweep would surface as an 'error' event of the broker.
   */
  private authorizeWill(client: Client | null, will: PublishPacket, done: (error?: Error | null) => void): void {
    const atClose = client !== null && client.closed && (client as unknown as { will?: unknown }).will === will;
    if (!atClose) return this.dropSweptWill(client, will, done);
    const kept = this.deps.sessions.willSession(client);
    if (kept?.withheld) {
      this.deps.logger.info({ clientId: client.id, topic: will.topic, reason: kept.withheld }, 'will dropped: token revoked');
      return toSink(will, done);
    }
    const session = kept?.session;
    const allowed = session !== undefined && !isReservedTopic(will.topic) && session.acl.canPublish(will.topic, { qos: will.qos, retain: will.retain });
    if (!allowed) {
      this.deps.metrics.aclDenied.inc({ action: 'publish' });
      this.deps.logger.info({ clientId: client.id, topic: will.topic, will: true }, 'publish denied by ACL');
      return toSink(will, done);
    }
    this.deps.metrics.messagesReceived.inc();
    const pending = this.deps.intercept(will, { kind: 'client', clientId: client.id });
    if (!pending) return done(null);
    // Unlike a PUBLISH, nobody sends a will again: when the queue cannot take it (logged
    // and counted there), local subscribers still get it.
    pending.then(() => done(null), () => done(null));
  }

  /**
   * Our broker id is the only one and its heartbeat keeps it alive, so the sweep only
   * finds wills when the wall clock stepped forward by more than three heartbeats (NTP
   * correcting a Pi at boot): it would then publish the wills of connected clients, and
   * those of closed ones a second time. Dropped. With a connected client the persisted
   * will is the client's own object (aedes-persistence's memory store): the client
   * keeps a copy, published at its close as usual.
   */
  private dropSweptWill(client: Client | null, will: PublishPacket, done: (error?: Error | null) => void): void {
    const c = client as unknown as { will?: unknown } | null;
    if (c && c.will === will) c.will = { ...will };
    this.deps.limitedLog.log('warn', 'swept_will', { clientId: client?.id ?? null, topic: will.topic }, 'will from aedes\'s sweep of dead brokers dropped (wall-clock step?)');
    toSink(will, done);
  }

  private authorizeSubscribe(client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const session = this.deps.sessions.get(client);
    const allowed = session !== undefined && !sub.topic.startsWith('$edgegate/') && session.acl.canSubscribe(sub.topic, sub.qos);
    if (allowed) return done(null, sub);
    this.deps.metrics.aclDenied.inc({ action: 'subscribe' });
    this.deps.logger.info({ clientId: client.id, filter: sub.topic }, 'subscription denied by ACL');
    done(null, null); // SUBACK 0x80 (MQTT 3.1.1 section 3.9.3)
  }

  private authorizeForward(client: Client | null, packet: AedesPublishPacket): AedesPublishPacket | null {
    if (packet.topic === DENIED_SINK_TOPIC) return null;
    // MQTT 3.1.1 section 4.7.2: a filter starting with a wildcard never matches a
    // topic starting with '$'. aedes honours that for live messages but sends
    // retained ones (e.g. $SYS status) to a '#' subscriber; only deliver a '$'
    // topic to a client holding a subscription that really matches it.
    if (client && packet.topic.startsWith('$')) {
      const filters = Object.keys((client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions ?? {});
      if (!filters.some((f) => topicMatches(f, packet.topic))) return null;
    }
    if (client) {
      this.deps.metrics.messagesDelivered.inc();
      this.deps.sessions.countDelivery(client);
    }
    return packet;
  }
}

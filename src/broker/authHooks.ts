// aedes hooks applying the token ACL of an authenticated client (connectHooks.ts
// authenticates it) to what it publishes, subscribes to and is sent, and to its
// will. Safe defaults: a client with no session is refused everything.
import type { AedesOptions, AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import type { Logger } from '../log.js';
import type { LogLimiter } from '../logLimiter.js';
import type { Metrics } from '../metrics.js';
import { topicMatches } from '../mqtt/topics.js';
import { fitsClientMaximum } from './outboundSize.js';
import type { PublishOrigin } from './publishing.js';
import { ReasonCode } from './reasonCodes.js';
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
  sessions: SessionRegistry;
  aclDenyAction: 'ignore' | 'disconnect';
  logger: Logger;
  metrics: Metrics;
  /** Undefined when every interceptor finished synchronously. */
  intercept: (packet: PublishPacket, origin: PublishOrigin) => Promise<void> | undefined;
  /** Hands a QoS 1/2 message's interceptor promise to the acknowledgement (durability.ts beforeAck). */
  awaitBeforeAck: (packet: PublishPacket, pending: Promise<void>) => void;
  limitedLog: LogLimiter;
}

/** Acknowledged as usual, delivered to nobody: see DENIED_SINK_TOPIC. */
function toSink(packet: PublishPacket, done: (error?: Error | null) => void): void {
  packet.topic = DENIED_SINK_TOPIC;
  packet.retain = false;
  done(null);
}

/**
 * A refusal as the patched aedes answers an MQTT 5 publisher (lib/handlers/publish.js):
 * PUBACK/PUBREC with `reasonCode` and the connection kept, or, with `disconnect`,
 * DISCONNECT with it. The message is the Reason String the client sees when it
 * asked for problem information (MQTT 5.0 section 3.1.2.11.7).
 */
function refusal(message: string, reasonCode: number, disconnect = false): Error {
  return Object.assign(new Error(message), { reasonCode, disconnect });
}

export class AuthHooks {
  constructor(private readonly deps: AuthHooksDeps) {}

  aedesHooks(): Pick<AedesOptions, 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'> {
    return {
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
      authorizeForward: (client, packet) => this.authorizeForward(client, packet),
    };
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
    const pending = this.deps.intercept(packet, { kind: 'client', clientId: client.id, protocolVersion: client.version });
    if (!pending) return done(null);
    // QoS 1/2: the acknowledgement waits for it (beforeAck), with the message's retained
    // and queued copies, so all of it goes into one group commit; routing goes on meanwhile.
    if (packet.qos > 0) {
      this.deps.awaitBeforeAck(packet, pending);
      return done(null);
    }
    // QoS 0: no acknowledgement; the next packet waits as before.
    // Not taken care of (the durable queue could not commit or refused it as full).
    // MQTT 3.1.1: no PUBACK; aedes closes the connection and the client sends the
    // message again after reconnecting. MQTT 5: PUBACK/PUBREC with the reason code
    // (0x80, or 0x97 from a PublishRefused), never 0x00, and the connection stays.
    pending.then(
      () => done(null),
      (err: Error & { reasonCode?: number }) =>
        done(client.version === 5 ? refusal('message not accepted', err.reasonCode ?? ReasonCode.UnspecifiedError) : err),
    );
  }

  /**
   * An ACL denial. MQTT 3.1.1 cannot refuse a PUBLISH but by closing the connection
   * (section 4.11): aclDenyAction "ignore" acknowledges it into the sink, "disconnect"
   * closes. MQTT 5 has a reason code for it (section 3.4.2.1): "ignore" answers
   * PUBACK/PUBREC 0x87 and keeps the connection (a QoS 0 message is dropped),
   * "disconnect" sends DISCONNECT 0x87.
   */
  private deny(client: Client, packet: PublishPacket, done: (error?: Error | null) => void): void {
    this.deps.metrics.aclDenied.inc({ action: 'publish' });
    this.deps.logger.info({ clientId: client.id, topic: packet.topic, action: this.deps.aclDenyAction }, 'publish denied by ACL');
    const disconnect = this.deps.aclDenyAction === 'disconnect';
    if (client.version === 5) return done(refusal('publish denied by the token ACL', ReasonCode.NotAuthorized, disconnect));
    if (disconnect) return done(new Error('publish denied'));
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
    // aedes asks at the close (client.js finish()) or, for an MQTT 5 Will Delay
    // Interval, when the delay has passed (aedes.js scheduleWill): either way the
    // client is closed. Its sweep passes a connected client or none.
    const atClose = client?.closed === true;
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
    const pending = this.deps.intercept(will, { kind: 'client', clientId: client.id, protocolVersion: client.version });
    if (!pending) return done(null);
    // Unlike a PUBLISH, nobody sends a will again: when the queue cannot take it (logged
    // and counted there), local subscribers still get it.
    pending.then(
      () => done(null),
      () => done(null),
    );
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
    this.deps.limitedLog.log(
      'warn',
      'swept_will',
      { clientId: client?.id ?? null, topic: will.topic },
      "will from aedes's sweep of dead brokers dropped (wall-clock step?)",
    );
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
      // MQTT 5: a message larger than the client's Maximum Packet Size is discarded
      // as if it had been sent [MQTT-3.1.2-25].
      if (client.maximumPacketSize !== undefined && !fitsClientMaximum(packet, client.maximumPacketSize)) {
        this.deps.limitedLog.log(
          'info',
          'client_maximum_packet_size',
          { clientId: client.id, topic: packet.topic, maximumPacketSize: client.maximumPacketSize },
          'message larger than the client accepts: not sent (MQTT-3.1.2-25)',
        );
        return null;
      }
      this.deps.metrics.messagesDelivered.inc();
      this.deps.sessions.countDelivery(client);
    }
    return packet;
  }
}

// aedes hooks for a connection's identity: the CONNECT (preConnect, authenticate),
// MQTT 5 re-authentication (AUTH 0x19, MQTT 5.0 section 4.12.1) and the
// properties of a successful MQTT 5 CONNACK. They adapt the authenticator (which
// knows nothing of aedes) to aedes's callbacks. MQTT 3.1.1 clients get the return
// codes they always got; MQTT 5 clients the reason codes of reasonCodes.ts.

import type { Socket } from 'node:net';
import type { AedesOptions, AuthenticateError, Client, ConnectPacket } from 'aedes';
import type { Authenticator, AuthResult, ConnectFacts } from '../auth/authenticator.js';
import type { Logger } from '../log.js';
import type { LogLimiter } from '../logLimiter.js';
import type { Metrics } from '../metrics.js';
import { isReservedTopic } from './authHooks.js';
import { connackReasonFor, ReasonCode } from './reasonCodes.js';
import type { SessionRegistry } from './sessions.js';
import { WILL_ALLOWED } from './store/willStore.js';

/**
 * Enhanced authentication methods whose Authentication Data is the token itself
 * (MQTT 5.0 section 4.12; `OAUTH2-JWT` is the name Azure Event Grid uses). One
 * round: the CONNACK echoes the method, no AUTH 0x18 challenge.
 */
export const JWT_AUTHENTICATION_METHODS = ['JWT', 'OAUTH2-JWT'] as const;

type Done = (error: AuthenticateError | null, success: boolean | null) => void;
type Reauthenticated = (error: (Error & { reasonCode?: number }) | null) => void;

export interface ConnectHooksDeps {
  authenticator: Authenticator;
  sessions: SessionRegistry;
  logger: Logger;
  metrics: Metrics;
  /** broker.maxClients, and how many clients have completed CONNECT now. */
  maxClients: number;
  connectedClients: () => number;
  limitedLog: LogLimiter;
}

export function remoteAddress(client: Client): string {
  return (client.conn as Partial<Socket>).remoteAddress ?? 'unknown';
}

export class ConnectHooks {
  /** CONNECTs between the authenticate hook and its answer: they count against maxClients too. */
  private admitting = 0;

  constructor(private readonly deps: ConnectHooksDeps) {}

  aedesHooks(): Pick<AedesOptions, 'preConnect' | 'authenticate' | 'reauthenticate' | 'connackProperties' | 'authenticationMethods'> {
    return {
      preConnect: (client, packet, done) => this.preConnect(client, packet, done),
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      reauthenticate: (client, packet, done) => this.reauthenticate(client, packet.properties?.authenticationData, done),
      connackProperties: (client) => this.connackProperties(client),
      authenticationMethods: [...JWT_AUTHENTICATION_METHODS],
    };
  }

  /**
   * Sees the parsed CONNECT before aedes judges it, to count and log the refusals
   * aedes answers itself: an MQTT 3.1.1 zero-byte client id with CleanSession = 0
   * gets CONNACK 2 [MQTT-3.1.3-8]; an MQTT 5 Authentication Method other than
   * JWT_AUTHENTICATION_METHODS gets CONNACK 0x8C (MQTT 5.0 section 4.12).
   */
  private preConnect(client: Client, packet: ConnectPacket, done: (error: Error | null, success: boolean) => void): void {
    const address = remoteAddress(client);
    if (packet.protocolVersion !== 5 && packet.clientId === '' && packet.clean === false) {
      this.deps.metrics.connectionsRefused.inc({ reason: 'identifier_rejected' });
      this.deps.limitedLog.log('info', 'identifier_rejected', { address }, 'connection refused: empty client id with CleanSession = 0 (MQTT-3.1.3-8)');
    }
    // The packet guard refuses a malformed or repeated Authentication Method before the
    // parser, but this hook must not depend on it: mqtt-packet reads one running past
    // the packet as null and a repeated one as an array. aedes answers any value that
    // is not one of its methods with 0x8C, so a non-string counts here the same way.
    const method: unknown = packet.protocolVersion === 5 ? packet.properties?.authenticationMethod : undefined;
    if (method !== undefined && (typeof method !== 'string' || !(JWT_AUTHENTICATION_METHODS as readonly string[]).includes(method))) {
      this.deps.metrics.connectionsRefused.inc({ reason: 'bad_authentication_method' });
      this.deps.limitedLog.log(
        'info',
        'bad_authentication_method',
        {
          clientId: String(packet.clientId ?? '').slice(0, 128),
          address,
          method: typeof method === 'string' ? method.slice(0, 64) : `(${method === null ? 'null' : Array.isArray(method) ? 'array' : typeof method})`,
        },
        `connection refused: authentication method is not ${JWT_AUTHENTICATION_METHODS.join(' or ')} (CONNACK 0x8C)`,
      );
    }
    done(null, true);
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: Done): void {
    // Checked before any token work, so that a storm beyond the limit costs next to nothing.
    if (this.deps.connectedClients() + this.admitting >= this.deps.maxClients) return this.refuseFull(client, done);
    this.admitting++;
    // The address is read only when needed (a ban exists, a refusal, debug logs): it costs a getpeername syscall.
    const facts: ConnectFacts = {
      clientId: client.id,
      username,
      password,
      get remoteAddress() {
        return remoteAddress(client);
      },
    };
    // MQTT 5 enhanced authentication: the token is the Authentication Data, whatever auth.jwt.from says.
    if (client.authenticationMethod !== undefined) facts.authenticationData = client.authenticationData ?? Buffer.alloc(0);
    this.deps.authenticator.authenticate(facts).then(
      (result) => (this.admitting--, this.answer(client, result, done)),
      () => (this.admitting--, this.answer(client, { ok: false, reason: 'AUTH_UNAVAILABLE', detail: 'internal error' }, done)),
    );
  }

  /** CONNACK 3 "server unavailable" (MQTT 3.1.1 section 3.2.2.3), 0x89 "Server busy" under MQTT 5: the client may retry later. */
  private refuseFull(client: Client, done: Done): void {
    this.deps.metrics.connectionsRefused.inc({ reason: 'max_clients' });
    this.deps.limitedLog.log(
      'warn',
      'max_clients',
      { clientId: client.id, address: remoteAddress(client), maxClients: this.deps.maxClients },
      'connection refused: broker.maxClients reached',
    );
    const err = new Error('server unavailable: broker.maxClients reached') as AuthenticateError;
    err.returnCode = 3;
    err.reasonCode = ReasonCode.ServerBusy;
    done(err, false);
  }

  private answer(client: Client, result: AuthResult, done: Done): void {
    const m = this.deps.metrics;
    if (result.ok) {
      m.authAttempts.inc({ result: 'accepted', reason: result.cached ? 'CACHED' : 'VERIFIED' });
      if (result.cached) m.authCacheHits.inc();
      this.deps.sessions.add(client, result.session);
      // Only a will the token allows is kept on the card for after a crash (store/willStore.ts);
      // at the close it is authorized again with this session (authHooks.ts).
      const will = (client as unknown as { _will?: { topic: string; qos: 0 | 1 | 2; retain: boolean } | null })._will;
      if (will) {
        (client as unknown as Record<symbol, boolean>)[WILL_ALLOWED] =
          !isReservedTopic(will.topic) && result.session.acl.canPublish(will.topic, { qos: will.qos, retain: will.retain });
      }
      return done(null, true);
    }
    m.authAttempts.inc({ result: 'refused', reason: result.reason });
    // CONNACK 4, "bad user name or password" (MQTT 3.1.1 section 3.2.2.3); a banned address
    // gets 5, "not authorized": its credentials were not even looked at (as EMQX answers a ban).
    // MQTT 5 clients get the reason code of connackReasonFor (0x86, 0x97, 0x88).
    const err = new Error(`authentication refused: ${result.reason}`) as AuthenticateError;
    err.returnCode = result.reason === 'RATE_LIMITED' ? 5 : 4;
    err.reasonCode = connackReasonFor(result.reason);
    done(err, false);
  }

  /**
   * AUTH 0x19 with a fresh token (MQTT 5.0 section 4.12.1), under exactly the rules
   * of a CONNECT: rate limit, keys, verifyClaims against the same user name and
   * client id, revocations; counted and logged like one. Success replaces the
   * session's ACL (from the next packet) and its expiry deadline; failure ends the
   * connection with DISCONNECT 0x87 (aedes, lib/handlers/auth.js).
   */
  private reauthenticate(client: Client, token: Buffer | undefined, done: Reauthenticated): void {
    const current = this.deps.sessions.get(client);
    const facts: ConnectFacts = {
      clientId: client.id,
      username: current?.username,
      authenticationData: token ?? Buffer.alloc(0),
      reauthentication: true,
      get remoteAddress() {
        return remoteAddress(client);
      },
    };
    const m = this.deps.metrics;
    const refuse = (reason: string): void => {
      m.authAttempts.inc({ result: 'refused', reason });
      m.reauthentications.inc({ result: 'refused' });
      done(Object.assign(new Error(`re-authentication refused: ${reason}`), { reasonCode: ReasonCode.NotAuthorized }));
    };
    if (!current) return refuse('AUTH_UNAVAILABLE');
    this.deps.authenticator.authenticate(facts).then(
      (result) => {
        if (!result.ok) return refuse(result.reason);
        // The connection may have gone while the token was verified: nothing to renew then.
        if (!this.deps.sessions.replace(client, result.session)) return refuse('AUTH_UNAVAILABLE');
        m.authAttempts.inc({ result: 'accepted', reason: result.cached ? 'CACHED' : 'VERIFIED' });
        m.reauthentications.inc({ result: 'accepted' });
        this.deps.logger.info(
          {
            clientId: client.id,
            sub: result.session.subject,
            expiresAt: result.session.expiresAtMs === null ? null : new Date(result.session.expiresAtMs).toISOString(),
          },
          'client re-authenticated',
        );
        done(null);
      },
      () => refuse('AUTH_UNAVAILABLE'),
    );
  }

  /**
   * What every successful MQTT 5 CONNACK says besides aedes's own properties
   * (Maximum Packet Size, Receive Maximum, Topic Alias Maximum, Shared Subscription
   * Available = 0): retained messages, wildcard subscriptions and subscription
   * identifiers are available (MQTT 5.0 section 3.2.2.3), and a client that
   * authenticated with a method gets it back [MQTT-4.12.0-5 family].
   */
  private connackProperties(client: Client): Record<string, unknown> {
    const props: Record<string, unknown> = { retainAvailable: true, wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: true };
    if (client.authenticationMethod !== undefined) props.authenticationMethod = client.authenticationMethod;
    return props;
  }
}

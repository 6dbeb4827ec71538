// Authenticated clients and their token sessions: the ACL to apply, and the
// timer that closes connections when their tokens expire. One shared timer is
// armed for the earliest expiry (not one per session): a per-session timer with
// its own delay costs Node a timer list each, which showed in reconnect storms.
// A closed connection's session outlives it until aedes has authorized its will.
import type { Client } from 'aedes';
import type { Session } from '../auth/authenticator.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Logger } from '../log.js';
import { disconnectReasonFor } from './reasonCodes.js';

interface Entry {
  client: Client;
  session: Session;
  /** Gateway wall time of the CONNECT's acceptance. */
  connectedAtMs: number;
  /** PUBLISH packets accepted from the client, and messages delivered to it. */
  messagesIn: number;
  messagesOut: number;
  /** MQTT 5: the Will Delay Interval of the CONNECT's will (0: none or immediate). */
  willDelaySec: number;
}

/** A connected client as the status page lists it (no token, no token hash). */
export interface ClientView {
  clientId: string;
  username: string | null;
  subject: string | null;
  jti: string | null;
  address: string | null;
  connectedAtMs: number;
  expiresAtMs: number | null;
  subscriptions: number;
  messagesIn: number;
  messagesOut: number;
}

/** A closed connection's session, kept for its will; `withheld`: the reason the will must not be published. */
interface Closing {
  session: Session;
  withheld?: string;
  timer: NodeJS.Timeout;
}

/** What a will is authorized with: the session of the token the client connected with. */
export interface WillSession {
  session: Session;
  /** Set when the will must not be published at all (the token was revoked). */
  withheld?: string;
}

// Disconnect reasons after which the client's will is not published: the token is
// no longer trusted, so neither is what it left behind. (An expired token was
// valid for the whole connection: its will is published, as MQTT 3.1.1 section
// 3.1.2.5 wants when the server closes the connection.)
const WILL_WITHHELD_FOR = new Set(['JWT_REVOKED']);

// aedes authorizes a will right after the close (one event-loop turn, to
// unsubscribe the client first); the kept session is released then. This bound
// only catches a close after which aedes never asks (not expected): the entry goes.
// A plain timer, not the gateway clock: it bounds aedes's own steps, not token time.
const WILL_WAIT_MS = 10_000;

// Timers fire on monotonic time; a wall-clock jump (NTP stepping a Pi's clock)
// is caught by re-checking expiry at least this often.
const SWEEP_MS = 15_000;

export class SessionRegistry {
  private readonly entries = new Map<Client, Entry>();
  /** Sessions of closed connections whose will aedes is still to authorize (see willSession). */
  private readonly closing = new Map<Client, Closing>();
  private sweep?: TimerHandle;
  /** The shared expiry timer and the expiresAtMs it is armed for (Infinity when none). */
  private expiryTimer?: TimerHandle;
  private armedForMs = Infinity;

  constructor(
    private readonly clock: GatewayClock,
    private readonly disconnectOnExpiry: boolean,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.disconnectOnExpiry) this.sweep = this.clock.setInterval(SWEEP_MS, () => this.closeExpired());
  }

  stop(): void {
    this.sweep?.cancel();
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    this.armedForMs = Infinity;
    this.entries.clear();
    for (const c of this.closing.values()) clearTimeout(c.timer);
    this.closing.clear();
  }

  add(client: Client, session: Session): void {
    this.remove(client);
    // The socket may have gone while the token was being verified: its 'close'
    // has fired already, so an entry added now would never be removed.
    if ((client.conn as { destroyed?: boolean }).destroyed) return;
    const entry: Entry = { client, session, connectedAtMs: this.clock.now(), messagesIn: 0, messagesOut: 0, willDelaySec: willDelayOf(client) };
    this.entries.set(client, entry);
    client.conn.once('close', () => this.connectionClosed(client));
    const exp = session.expiresAtMs;
    if (this.disconnectOnExpiry && exp !== null && exp < this.armedForMs) this.armExpiry(exp);
  }

  /**
   * Renews a connected client's session in place (MQTT 5 re-authentication): the
   * new ACL applies from the next packet, and the new expiry replaces the old
   * deadline (the shared timer, armed for the old one, finds nothing due then and
   * re-arms). False when the client is no longer connected.
   */
  replace(client: Client, session: Session): boolean {
    const e = this.entries.get(client);
    if (!e) return false;
    e.session = session;
    const exp = session.expiresAtMs;
    if (this.disconnectOnExpiry && exp !== null && exp < this.armedForMs) this.armExpiry(exp);
    return true;
  }

  get(client: Client | null | undefined): Session | undefined {
    return client ? this.entries.get(client)?.session : undefined;
  }

  /** The client's entry: its session and message counters (the publish hook counts on it: one lookup per PUBLISH). */
  entryOf(client: Client | null | undefined): { session: Session; messagesIn: number } | undefined {
    return client ? this.entries.get(client) : undefined;
  }

  /** Counts a message delivered to the client. */
  countDelivery(client: Client): void {
    const e = this.entries.get(client);
    if (e) e.messagesOut++;
  }

  /** Every authenticated client, for the status page. */
  views(): ClientView[] {
    const out: ClientView[] = [];
    for (const e of this.entries.values()) {
      const s = e.session;
      const conn = e.client.conn as { remoteAddress?: string };
      const subs = (e.client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions;
      out.push({
        clientId: s.clientId,
        username: s.username ?? null,
        subject: s.subject ?? null,
        jti: s.jti ?? null,
        address: conn.remoteAddress ?? null,
        connectedAtMs: e.connectedAtMs,
        expiresAtMs: s.expiresAtMs,
        subscriptions: subs ? Object.keys(subs).length : 0,
        messagesIn: e.messagesIn,
        messagesOut: e.messagesOut,
      });
    }
    return out;
  }

  remove(client: Client): void {
    const e = this.entries.get(client);
    if (!e) return;
    // The shared timer stays armed: when it fires it finds the next earliest expiry.
    this.entries.delete(client);
  }

  /**
   * The session a will is authorized with, at the close of its connection
   * (MQTT 3.1.1 section 3.1.2.5): aedes publishes the will after unsubscribing the
   * client, which may come after the socket's 'close' or after the gateway
   * removed a disconnected client. A session kept for that is released here.
   */
  willSession(client: Client): WillSession | undefined {
    const kept = this.closing.get(client);
    if (kept) {
      clearTimeout(kept.timer);
      this.closing.delete(client);
      return { session: kept.session, withheld: kept.withheld };
    }
    const live = this.entries.get(client);
    return live ? { session: live.session } : undefined;
  }

  /** The socket closed: the entry goes, but its session waits for the will if aedes will still publish one. */
  private connectionClosed(client: Client): void {
    const e = this.entries.get(client);
    if (!e) return;
    this.remove(client);
    if (willPending(client) || delayedWillPending(e)) this.keepForWill(client, e.session, undefined, e.willDelaySec);
  }

  private keepForWill(client: Client, session: Session, withheld: string | undefined, willDelaySec: number): void {
    // An MQTT 5 will is published after its Will Delay Interval, at most the session
    // expiry (MQTT 5.0 section 3.1.3.2.2): the session waits that long too.
    const delaySec = Math.min(willDelaySec, (client as unknown as { sessionExpiryInterval?: number }).sessionExpiryInterval ?? 0);
    const timer = setTimeout(() => this.closing.delete(client), Math.min(WILL_WAIT_MS + delaySec * 1000, 2_147_483_647));
    timer.unref();
    this.closing.set(client, { session, withheld, timer });
  }

  size(): number {
    return this.entries.size;
  }

  all(): Session[] {
    return [...this.entries.values()].map((e) => e.session);
  }

  /** Closes every client whose session matches; returns how many. */
  disconnectWhere(match: (s: Session) => boolean, reason: string): number {
    let n = 0;
    for (const e of [...this.entries.values()]) {
      if (!match(e.session)) continue;
      n++;
      this.logger.info({ clientId: e.session.clientId, sub: e.session.subject, reason }, 'disconnecting client');
      this.remove(e.client);
      // The server closing the connection publishes the will (MQTT 3.1.1 section 3.1.2.5), except after a revocation.
      if (willPending(e.client)) this.keepForWill(e.client, e.session, WILL_WITHHELD_FOR.has(reason) ? reason : undefined, e.willDelaySec);
      // MQTT 5: DISCONNECT with the reason first (0xA0 expired, 0x87 revoked, 0x98 an operator's); 3.1.1: just the close.
      // The Reason String also makes clients that read a DISCONNECT's reason code only when properties follow (paho 1.6) see it.
      if (e.client.version === 5) e.client.disconnect({ reasonCode: disconnectReasonFor(reason), properties: { reasonString: reason } });
      else e.client.close();
    }
    return n;
  }

  private armExpiry(atMs: number): void {
    this.expiryTimer?.cancel();
    this.armedForMs = atMs;
    this.expiryTimer = this.clock.setTimer(Math.max(0, atMs - this.clock.now()), () => this.onExpiryTimer());
  }

  /** Closes what has expired, then re-arms for the earliest expiry left (timers run on monotonic time, expiry on wall time). */
  private onExpiryTimer(): void {
    this.expiryTimer = undefined;
    this.armedForMs = Infinity;
    this.closeExpired();
    let next = Infinity;
    for (const e of this.entries.values()) {
      const exp = e.session.expiresAtMs;
      if (exp !== null && exp < next) next = exp;
    }
    if (next !== Infinity) this.armExpiry(next);
  }

  private closeExpired(): void {
    const now = this.clock.now();
    this.disconnectWhere((s) => s.expiresAtMs !== null && s.expiresAtMs <= now, 'JWT_EXPIRED');
  }
}

/** As aedes decides at the close (client.js finish()): a will is set and no DISCONNECT came (MQTT 3.1.1 section 3.14.4). */
function willPending(client: Client): boolean {
  const c = client as unknown as { will?: unknown; _disconnected?: boolean };
  return c.will != null && c._disconnected !== true;
}

/**
 * An MQTT 5 delayed will (aedes.js scheduleWill) is no longer on the client by
 * the time its socket closes: known from the CONNECT (willDelayOf), it is pending
 * unless a DISCONNECT other than 0x04 came (aedes sets _disconnected then).
 */
function delayedWillPending(e: Entry): boolean {
  return e.willDelaySec > 0 && (e.client as unknown as { _disconnected?: boolean })._disconnected !== true;
}

/** The Will Delay Interval of the will a client connected with (aedes keeps the CONNECT's will in `_will` until CONNACK). */
function willDelayOf(client: Client): number {
  const c = client as unknown as {
    version?: number;
    _will?: { properties?: { willDelayInterval?: number } } | null;
    will?: { properties?: { willDelayInterval?: number } } | null;
  };
  if (c.version !== 5) return 0;
  return (c._will ?? c.will)?.properties?.willDelayInterval ?? 0;
}

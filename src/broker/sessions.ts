// Authenticated clients and their token sessions: the ACL to apply, and the
// timer that closes connections when their tokens expire. One shared timer is
// armed for the earliest expiry (not one per session): a per-session timer with
// its own delay costs Node a timer list each, which showed in reconnect storms.
import type { Client } from 'aedes';
import type { Session } from '../auth/authenticator.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Logger } from '../log.js';

interface Entry {
  client: Client;
  session: Session;
}

// Timers fire on monotonic time; a wall-clock jump (NTP stepping a Pi's clock)
// is caught by re-checking expiry at least this often.
const SWEEP_MS = 15_000;

export class SessionRegistry {
  private readonly entries = new Map<Client, Entry>();
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
  }

  add(client: Client, session: Session): void {
    this.remove(client);
    // The socket may have gone while the token was being verified: its 'close'
    // has fired already, so an entry added now would never be removed.
    if ((client.conn as { destroyed?: boolean }).destroyed) return;
    const entry: Entry = { client, session };
    this.entries.set(client, entry);
    client.conn.once('close', () => this.remove(client));
    const exp = session.expiresAtMs;
    if (this.disconnectOnExpiry && exp !== null && exp < this.armedForMs) this.armExpiry(exp);
  }

  get(client: Client | null | undefined): Session | undefined {
    return client ? this.entries.get(client)?.session : undefined;
  }

  remove(client: Client): void {
    const e = this.entries.get(client);
    if (!e) return;
    // The shared timer stays armed: when it fires it finds the next earliest expiry.
    this.entries.delete(client);
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
      e.client.close();
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

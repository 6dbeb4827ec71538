// Authenticated clients and their token sessions: the ACL to apply, and a timer
// that closes the connection when the token expires.
import type { Client } from 'aedes';
import type { Session } from '../auth/authenticator.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Logger } from '../log.js';

interface Entry {
  client: Client;
  session: Session;
  timer?: TimerHandle;
}

// Timers fire on monotonic time; a wall-clock jump (NTP stepping a Pi's clock)
// is caught by re-checking expiry at least this often.
const SWEEP_MS = 15_000;

export class SessionRegistry {
  private readonly entries = new Map<Client, Entry>();
  private sweep?: TimerHandle;

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
    for (const e of this.entries.values()) e.timer?.cancel();
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
    if (this.disconnectOnExpiry && session.expiresAtMs !== null) this.arm(entry);
  }

  get(client: Client | null | undefined): Session | undefined {
    return client ? this.entries.get(client)?.session : undefined;
  }

  remove(client: Client): void {
    const e = this.entries.get(client);
    if (!e) return;
    e.timer?.cancel();
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

  private arm(entry: Entry): void {
    const left = (entry.session.expiresAtMs ?? 0) - this.clock.now();
    entry.timer = this.clock.setTimer(Math.max(0, left), () => {
      if (this.entries.get(entry.client) !== entry) return;
      if ((entry.session.expiresAtMs ?? Infinity) > this.clock.now()) return this.arm(entry);
      this.disconnectWhere((s) => s === entry.session, 'JWT_EXPIRED');
    });
  }

  private closeExpired(): void {
    const now = this.clock.now();
    this.disconnectWhere((s) => s.expiresAtMs !== null && s.expiresAtMs <= now, 'JWT_EXPIRED');
  }
}

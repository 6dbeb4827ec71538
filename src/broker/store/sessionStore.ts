// Persistent sessions and when each ends (MQTT 3.1.1 clean session 0: after
// broker.persistence.sessionExpirySec; MQTT 5: its Session Expiry Interval, section
// 3.1.2.11.2). aedes times MQTT 5 sessions in memory only; this table is what a
// restart, or a power cut, leaves to go by: a session whose time ran out while the
// gateway was down ends at the next start.
import type { Sqlite } from '../../storage/database.js';
import type { GroupCommit } from '../../storage/groupCommit.js';

/** 0xFFFFFFFF: the session never expires (MQTT 5.0 section 3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffff_ffff;

export class SessionStore {
  private readonly stmts;
  private readonly known = new Set<string>();

  constructor(
    private readonly db: Sqlite,
    private readonly commit: GroupCommit,
  ) {
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO broker_sessions (client_id, protocol_version, expiry_sec, disconnected_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(client_id) DO UPDATE SET protocol_version = excluded.protocol_version, expiry_sec = excluded.expiry_sec,
           disconnected_at = excluded.disconnected_at`,
      ),
      remove: db.prepare('DELETE FROM broker_sessions WHERE client_id = ?'),
      due: db
        .prepare(
          `SELECT client_id FROM broker_sessions WHERE disconnected_at IS NOT NULL AND ` +
            `expiry_sec < ${NEVER_EXPIRES} AND disconnected_at + expiry_sec * 1000 <= ?`,
        )
        .pluck(),
      connectedAtStop: db.prepare('UPDATE broker_sessions SET disconnected_at = ? WHERE disconnected_at IS NULL'),
    };
    this.reload();
  }

  reload(): void {
    this.known.clear();
    for (const id of this.db.prepare('SELECT client_id FROM broker_sessions').pluck().iterate() as Iterable<string>) this.known.add(id);
  }

  /** Sessions that were connected when the gateway stopped (or lost power) have been disconnected since `nowMs`. */
  gatewayStarted(nowMs: number): void {
    this.commit.write(() => this.stmts.connectedAtStop.run(nowMs));
  }

  get size(): number {
    return this.known.size;
  }

  has(clientId: string): boolean {
    return this.known.has(clientId);
  }

  connected(clientId: string, protocolVersion: number, expirySec: number): void {
    this.commit.write(() => this.stmts.upsert.run(clientId, protocolVersion, expirySec, null));
    this.known.add(clientId);
  }

  disconnected(clientId: string, protocolVersion: number, expirySec: number, nowMs: number): void {
    this.commit.write(() => this.stmts.upsert.run(clientId, protocolVersion, expirySec, nowMs));
    this.known.add(clientId);
  }

  removed(clientId: string): void {
    if (!this.known.delete(clientId)) return;
    this.commit.write(() => this.stmts.remove.run(clientId));
  }

  /** Client ids whose session has outlived its expiry at `nowMs`. */
  due(nowMs: number): string[] {
    return this.stmts.due.all(nowMs) as string[];
  }
}

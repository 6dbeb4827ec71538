// What the gateway remembers of the fleet revocation stream, in SQLite (so a
// restart accepts no replay): the last `seq` applied per signing key, and the
// gateway's copy of the fleet list (which a snapshot is diffed against), each
// entry with whether the fleet added it to the revocation list (`owned`) or found
// it revoked locally already (`edgegate token revoke`): the fleet lifts only what
// it added. It also knows which key applied the latest message (the latest
// `updated_at_ms`, kept strictly increasing), so an old key's last snapshot cannot
// be replayed over a newer key's changes. Without a usable database it works from memory.
import { type Migration, migrate, type Sqlite } from '../storage/database.js';
import { entryKey } from './fleetProtocol.js';
import type { RevocationKind } from './revocations.js';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE auth_fleet_seq (
        key_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE TABLE auth_fleet_entries (
        kind TEXT NOT NULL CHECK (kind IN ('jti', 'sub')),
        value TEXT NOT NULL,
        owned INTEGER NOT NULL,
        PRIMARY KEY (kind, value)
      ) WITHOUT ROWID;
    `,
  },
];

export interface FleetMark {
  kind: RevocationKind;
  value: string;
}

export interface FleetEntryState extends FleetMark {
  /** The fleet added it to the revocation list (false: it was revoked locally already). */
  owned: boolean;
}

export class FleetState {
  private readonly seqs = new Map<string, number>();
  private readonly marks = new Map<string, FleetEntryState>();
  private lastKey?: string;
  private lastStampMs = -Infinity;

  constructor(private readonly db: Sqlite | undefined) {}

  /** Creates the tables and loads them (throws when the database is unusable: the caller then passes none). */
  load(): void {
    if (!this.db) return;
    migrate(this.db, 'auth-fleet', MIGRATIONS);
    for (const r of this.db.prepare('SELECT key_id, seq, updated_at_ms FROM auth_fleet_seq').all() as Array<{
      key_id: string;
      seq: number;
      updated_at_ms: number;
    }>) {
      this.seqs.set(r.key_id, r.seq);
      if (r.updated_at_ms > this.lastStampMs) [this.lastKey, this.lastStampMs] = [r.key_id, r.updated_at_ms];
    }
    for (const r of this.db.prepare('SELECT kind, value, owned FROM auth_fleet_entries').all() as Array<FleetMark & { owned: number }>) {
      this.marks.set(entryKey(r), { kind: r.kind, value: r.value, owned: r.owned === 1 });
    }
  }

  lastSeq(keyId: string): number {
    return this.seqs.get(keyId) ?? 0;
  }

  /** The key whose message was applied last (undefined before the first). */
  get lastKeyId(): string | undefined {
    return this.lastKey;
  }

  get size(): number {
    return this.marks.size;
  }

  get(e: FleetMark): FleetEntryState | undefined {
    return this.marks.get(entryKey(e));
  }

  entries(): FleetEntryState[] {
    return [...this.marks.values()];
  }

  /** Runs `fn` in one database transaction (the revocation writes it makes too: one commit, not one per entry). */
  transaction<T>(fn: () => T): T {
    return this.db ? this.db.transaction(fn)() : fn();
  }

  /**
   * Records an applied message: its seq, entries (now) in the fleet list and entries no longer (one
   * transaction). Nothing is written when nothing changed (the retained snapshot again, at a reconnect).
   */
  commit(keyId: string, seq: number, nowMs: number, marked: FleetEntryState[], unmarked: FleetMark[]): void {
    if (keyId === this.lastKey && seq === this.lastSeq(keyId) && marked.length === 0 && unmarked.length === 0) return;
    const stampMs = Math.max(Math.round(nowMs), this.lastStampMs + 1);
    this.seqs.set(keyId, seq);
    [this.lastKey, this.lastStampMs] = [keyId, stampMs];
    for (const m of marked) this.marks.set(entryKey(m), { kind: m.kind, value: m.value, owned: m.owned });
    for (const m of unmarked) this.marks.delete(entryKey(m));
    const db = this.db;
    if (!db) return;
    db.transaction(() => {
      db.prepare(
        'INSERT INTO auth_fleet_seq (key_id, seq, updated_at_ms) VALUES (?, ?, ?) ON ' +
          'CONFLICT(key_id) DO UPDATE SET seq = excluded.seq, updated_at_ms = excluded.updated_at_ms',
      ).run(keyId, seq, stampMs);
      const add = db.prepare('INSERT OR REPLACE INTO auth_fleet_entries (kind, value, owned) VALUES (?, ?, ?)');
      for (const m of marked) add.run(m.kind, m.value, m.owned ? 1 : 0);
      const del = db.prepare('DELETE FROM auth_fleet_entries WHERE kind = ? AND value = ?');
      for (const m of unmarked) del.run(m.kind, m.value);
    })();
  }
}

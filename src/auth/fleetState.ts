// What the gateway remembers of the fleet revocation stream, in SQLite (so a
// restart accepts no replay): the last `seq` applied per signing key, and the
// gateway's copy of the fleet list (which a snapshot is diffed against), each
// entry with whether the fleet added it to the revocation list (`owned`) or found
// it revoked locally already (`edgegate token revoke`): the fleet lifts only what
// it added. Without a usable database it works from memory.
import { migrate, type Migration, type Sqlite } from '../storage/database.js';
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

  constructor(private readonly db: Sqlite | undefined) {}

  /** Creates the tables and loads them (throws when the database is unusable: the caller then passes none). */
  load(): void {
    if (!this.db) return;
    migrate(this.db, 'auth-fleet', MIGRATIONS);
    for (const r of this.db.prepare('SELECT key_id, seq FROM auth_fleet_seq').all() as Array<{ key_id: string; seq: number }>) this.seqs.set(r.key_id, r.seq);
    for (const r of this.db.prepare('SELECT kind, value, owned FROM auth_fleet_entries').all() as Array<FleetMark & { owned: number }>) {
      this.marks.set(entryKey(r), { kind: r.kind, value: r.value, owned: r.owned === 1 });
    }
  }

  lastSeq(keyId: string): number {
    return this.seqs.get(keyId) ?? 0;
  }

  get(e: FleetMark): FleetEntryState | undefined {
    return this.marks.get(entryKey(e));
  }

  entries(): FleetEntryState[] {
    return [...this.marks.values()];
  }

  /** Records an applied message: its seq, entries (now) in the fleet list and entries no longer (one transaction). */
  commit(keyId: string, seq: number, nowMs: number, marked: FleetEntryState[], unmarked: FleetMark[]): void {
    this.seqs.set(keyId, seq);
    for (const m of marked) this.marks.set(entryKey(m), { kind: m.kind, value: m.value, owned: m.owned });
    for (const m of unmarked) this.marks.delete(entryKey(m));
    const db = this.db;
    if (!db) return;
    db.transaction(() => {
      db.prepare('INSERT INTO auth_fleet_seq (key_id, seq, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT(key_id) DO UPDATE SET seq = excluded.seq, updated_at_ms = excluded.updated_at_ms').run(keyId, seq, Math.round(nowMs));
      const add = db.prepare('INSERT OR REPLACE INTO auth_fleet_entries (kind, value, owned) VALUES (?, ?, ?)');
      for (const m of marked) add.run(m.kind, m.value, m.owned ? 1 : 0);
      const del = db.prepare('DELETE FROM auth_fleet_entries WHERE kind = ? AND value = ?');
      for (const m of unmarked) del.run(m.kind, m.value);
    })();
  }
}

// The persisted time floor: the latest wall time the gateway has seen, kept in
// SQLite (owner "clock") so that after a reboot without RTC or network the
// clock never reads earlier than it did before the power cut.
import { migrate, type Sqlite } from '../storage/database.js';

export class TimeFloorStore {
  constructor(private readonly db: Sqlite) {
    migrate(db, 'clock', [{ version: 1, up: 'CREATE TABLE clock_time_floor (id INTEGER PRIMARY KEY CHECK (id = 1), wall_ms INTEGER NOT NULL)' }]);
  }

  load(): number | undefined {
    const row = this.db.prepare('SELECT wall_ms FROM clock_time_floor WHERE id = 1').get() as { wall_ms: number } | undefined;
    return row?.wall_ms;
  }

  /** Stores `wallMs`, never lowering what is stored. */
  save(wallMs: number): void {
    this.db
      .prepare('INSERT INTO clock_time_floor (id, wall_ms) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET wall_ms = max(wall_ms, excluded.wall_ms)')
      .run(Math.round(wallMs));
  }
}

// The one SQLite database in dataDir. This file only opens it, sets pragmas and
// runs migrations; each owner (auth, clock, bridge, ...) keeps its own tables.
import { chmodSync, existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { errorMessage, StorageError } from '../errors.js';
import { openSqlite } from './sqlite.js';

export type Sqlite = Database.Database;

export interface Migration {
  version: number;
  /** SQL run once, inside a transaction, when the owner's schema is below `version`. */
  up: string | ((db: Sqlite) => void);
}

export interface OpenOptions {
  /** `normal` survives a process crash; `full` also survives power loss. */
  synchronous?: 'normal' | 'full';
}

export const DATABASE_FILE = 'edgegate.db';

/** Opens (creating, mode 0600) and checks the database; throws StorageError on corruption. */
export function openDatabase(file: string, options: OpenOptions = {}): Sqlite {
  let db: Sqlite | undefined;
  try {
    const isNew = !existsSync(file);
    db = openSqlite(file);
    if (isNew) chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`integrity check failed: ${String(check)}`);
    return withSchemaVersions(db);
  } catch (err) {
    try {
      db?.close();
    } catch {
      /* already failing */
    }
    throw new StorageError(`cannot open database ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The stand-in when the file is unusable: sensors must keep authenticating, so the
 * daemon runs on memory (loudly; nothing persists). Same tables, same migrations.
 */
export function openInMemoryDatabase(): Sqlite {
  return withSchemaVersions(openSqlite(':memory:'));
}

/** The table `migrate` keeps each owner's schema version in. */
function withSchemaVersions(db: Sqlite): Sqlite {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  return db;
}

/** Brings `owner`'s tables up to the newest migration. */
export function migrate(db: Sqlite, owner: string, migrations: Migration[]): void {
  const row = db.prepare('SELECT version FROM schema_versions WHERE owner = ?').get(owner) as { version: number } | undefined;
  const current = row?.version ?? 0;
  const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const m of pending) {
    db.transaction(() => {
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      db.prepare('INSERT INTO schema_versions (owner, version) VALUES (?, ?) ON CONFLICT(owner) DO UPDATE SET version = excluded.version').run(
        owner,
        m.version,
      );
    })();
  }
}

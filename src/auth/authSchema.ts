// The auth tables in the one SQLite database (owner "auth"). Raw tokens are
// never stored: the token cache is keyed by SHA-256 of the token and keeps only
// the verified claims set and the fingerprint of the key that verified it.
import { type Migration, migrate, type Sqlite } from '../storage/database.js';

const AUTH_MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE auth_jwks (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        url TEXT NOT NULL,
        keys_json TEXT NOT NULL,
        fetched_at_ms INTEGER NOT NULL
      );
      CREATE TABLE auth_token_cache (
        hash TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        exp_sec REAL,
        used_at_ms INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX auth_token_cache_used ON auth_token_cache (used_at_ms);
      CREATE TABLE auth_revocations (
        kind TEXT NOT NULL CHECK (kind IN ('jti', 'sub')),
        value TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        revoked_at_ms INTEGER NOT NULL,
        latest_exp_sec REAL,
        PRIMARY KEY (kind, value)
      );
      CREATE TABLE auth_revocation_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        generation INTEGER NOT NULL
      );
      INSERT INTO auth_revocation_generation (id, generation) VALUES (1, 0);
    `,
  },
  {
    // Bans live in the daemon's memory; this table mirrors them for `edgegate auth bans`,
    // and auth_unbans carries `edgegate auth unban` to the daemon (it polls for it).
    version: 2,
    up: `
      CREATE TABLE auth_bans (
        address TEXT PRIMARY KEY,
        banned_at_ms INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,
        last_reason TEXT NOT NULL DEFAULT ''
      ) WITHOUT ROWID;
      CREATE TABLE auth_unbans (
        address TEXT PRIMARY KEY,
        requested_at_ms INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
];

/** Creates or upgrades the auth tables. */
export function migrateAuth(db: Sqlite): void {
  migrate(db, 'auth', AUTH_MIGRATIONS);
}

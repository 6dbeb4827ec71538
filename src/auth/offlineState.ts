// A read-only view of the daemon's persisted auth state for CLI commands
// (`edgegate token verify`): the persisted JWKS keys, the revocations and the
// time floor, so the CLI judges a token exactly as the running daemon would.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { JWTPayload } from 'jose';
import type { GatewayConfig } from '../config/types.js';
import { DATABASE_FILE } from '../storage/database.js';
import { openSqlite } from '../storage/sqlite.js';
import { JwksStore, parseJwks } from './jwksStore.js';
import type { KeyRing } from './keys.js';
import { RevocationList, RevocationStore } from './revocations.js';

export interface OfflineState {
  /** Persisted time floor (ms), 0 when none. */
  floorMs: number;
  jwksKeys: number;
  isRevoked(payload: JWTPayload): boolean;
}

/** Loads the persisted JWKS into `keys` and returns the revocations; missing or unreadable storage yields an empty state. */
export async function loadOfflineState(config: GatewayConfig, keys: KeyRing, nowMs = Date.now()): Promise<OfflineState> {
  const file = join(config.dataDir, DATABASE_FILE);
  const state: OfflineState = { floorMs: 0, jwksKeys: 0, isRevoked: () => false };
  if (!existsSync(file)) return state;
  let db: Database.Database | undefined;
  try {
    db = openSqlite(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    // Read-only, so nothing is synced through it today; set as every connection to
    // this database is (storage.sync), so that one day writing through it cannot be less durable.
    db.pragma(`synchronous = ${config.storage.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name));
    if (tables.has('clock_time_floor')) {
      state.floorMs = (db.prepare('SELECT wall_ms FROM clock_time_floor WHERE id = 1').get() as { wall_ms: number } | undefined)?.wall_ms ?? 0;
    }
    const jwksCfg = config.auth.jwt.jwks;
    if (tables.has('auth_jwks') && jwksCfg.url !== '') {
      const stored = new JwksStore(db).load();
      const fresh = stored && (jwksCfg.maxStaleSec <= 0 || Math.max(nowMs, state.floorMs) - stored.fetchedAtMs <= jwksCfg.maxStaleSec * 1000);
      if (stored && stored.url === jwksCfg.url && fresh) {
        const parsed = await parseJwks(stored.jwks);
        keys.replace('jwks', parsed.keys);
        state.jwksKeys = parsed.keys.length;
      }
    }
    if (tables.has('auth_revocations')) {
      const list = new RevocationList();
      list.replace(new RevocationStore(db).list());
      state.isRevoked = (p) => list.isRevoked(p);
    }
  } catch (err) {
    process.stderr.write(`edgegate: warning: cannot read ${file} (${(err as Error).message}); verifying without persisted JWKS or revocations\n`);
  } finally {
    db?.close();
  }
  return state;
}

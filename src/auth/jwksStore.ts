// The last good JWKS: parsed into trusted keys (public keys only) and persisted
// in SQLite, so a gateway that reboots without its uplink verifies at once.
import type { JWK } from 'jose';
import type { Sqlite } from '../storage/database.js';
import { publicKeyFromJwk, type TrustedKey } from './keys.js';

export interface ParsedJwks {
  /** The JWKs that became trusted keys (what gets persisted). */
  jwks: JWK[];
  keys: TrustedKey[];
  /** Why other entries were skipped (kid or index -> reason). */
  skipped: string[];
}

export interface StoredJwks {
  url: string;
  jwks: JWK[];
  fetchedAtMs: number;
}

const PUBLIC_ALGS = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

/** Turns a JWKS document (or a persisted key list) into trusted keys; throws if it is not a JWKS at all. */
export async function parseJwks(doc: unknown): Promise<ParsedJwks> {
  const list = Array.isArray(doc) ? doc : (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('not a JWKS: no "keys" array');
  const out: ParsedJwks = { jwks: [], keys: [], skipped: [] };
  for (const [i, raw] of list.slice(0, 100).entries()) {
    const jwk = raw as JWK;
    const name = typeof jwk?.kid === 'string' ? `kid ${jwk.kid}` : `key #${i}`;
    const reason = unusable(jwk);
    if (reason) {
      out.skipped.push(`${name}: ${reason}`);
      continue;
    }
    try {
      const key = await publicKeyFromJwk(jwk);
      if (key.byAlg.size === 0) throw new Error(`alg ${String(jwk.alg)} does not fit the key type`);
      out.jwks.push(jwk);
      out.keys.push(key);
    } catch (err) {
      out.skipped.push(`${name}: ${(err as Error).message}`);
    }
  }
  return out;
}

function unusable(jwk: JWK): string | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'not an object';
  if (jwk.kty === 'oct') return 'symmetric keys are never taken from a JWKS';
  if ('d' in jwk || 'p' in jwk || 'k' in jwk) return 'private key material';
  if (jwk.use !== undefined && jwk.use !== 'sig') return `use ${String(jwk.use)}`;
  if (jwk.alg !== undefined && (typeof jwk.alg !== 'string' || !PUBLIC_ALGS.test(jwk.alg)))
    return `alg ${String(jwk.alg)} is not a public-key signature algorithm`;
  return undefined;
}

export class JwksStore {
  constructor(private readonly db: Sqlite) {}

  load(): StoredJwks | undefined {
    const row = this.db.prepare('SELECT url, keys_json, fetched_at_ms FROM auth_jwks WHERE id = 1').get() as
      | { url: string; keys_json: string; fetched_at_ms: number }
      | undefined;
    if (!row) return undefined;
    return { url: row.url, jwks: JSON.parse(row.keys_json) as JWK[], fetchedAtMs: row.fetched_at_ms };
  }

  save(stored: StoredJwks): void {
    this.db
      .prepare(
        `INSERT INTO auth_jwks (id, url, keys_json, fetched_at_ms) VALUES (1, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET url = excluded.url, keys_json = excluded.keys_json, fetched_at_ms = excluded.fetched_at_ms`,
      )
      .run(stored.url, JSON.stringify(stored.jwks), Math.round(stored.fetchedAtMs));
  }
}

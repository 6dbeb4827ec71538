// `edgegate token revoke|unrevoke|revocations`: edit the revocation list in the
// daemon's database. A running daemon applies a change within
// auth.revocation.pollIntervalSec (default 2 s): clients holding a revoked token
// are disconnected and refused from then on (JWT_REVOKED).

import { join } from 'node:path';
import { migrateAuth } from '../auth/authSchema.js';
import { instantMs } from '../auth/claims.js';
import { type RevocationKind, RevocationStore } from '../auth/revocations.js';
import type { GatewayConfig } from '../config/types.js';
import { UsageError } from '../errors.js';
import { DATABASE_FILE, openDatabase, type Sqlite } from '../storage/database.js';
import { ensureDataDir } from '../storage/dataDir.js';
import { configOrExit, failAndExit } from './common.js';

export interface RevokeOptions {
  jti?: string;
  sub?: string;
  reason?: string;
}

function target(opts: RevokeOptions): { kind: RevocationKind; value: string } {
  if ((opts.jti === undefined) === (opts.sub === undefined)) throw new UsageError('give exactly one of --jti ID or --sub SUBJECT');
  return opts.jti !== undefined ? { kind: 'jti', value: opts.jti } : { kind: 'sub', value: opts.sub! };
}

/**
 * The daemon's database as these commands open it: with storage.sync, as the
 * daemon does. With the default `full` a revocation is on the card when the
 * command says "revoked"; NORMAL would leave it in the unsynced WAL, and a power
 * cut soon after would bring the token back.
 */
export function openCliDatabase(config: GatewayConfig): Sqlite {
  return openDatabase(join(ensureDataDir(config.dataDir), DATABASE_FILE), { synchronous: config.storage.sync });
}

async function withStore<T>(fn: (store: RevocationStore, maxEntries: number) => T): Promise<T> {
  const config = await configOrExit();
  let db: Sqlite | undefined;
  try {
    db = openCliDatabase(config);
    migrateAuth(db);
    return fn(new RevocationStore(db), config.auth.revocation.maxEntries);
  } finally {
    db?.close();
  }
}

export async function tokenRevoke(opts: RevokeOptions): Promise<void> {
  try {
    const { kind, value } = target(opts);
    // A full list (auth.revocation.maxEntries) refuses a new revocation: exit 1 with the reason, nothing is dropped.
    const added = await withStore((s, maxEntries) => s.revoke(kind, value, opts.reason ?? '', Date.now(), maxEntries));
    process.stdout.write(`${added ? 'revoked' : 'already revoked (reason updated)'}: ${kind} ${value}\n`);
  } catch (err) {
    failAndExit(err);
  }
}

export async function tokenUnrevoke(opts: RevokeOptions): Promise<void> {
  try {
    const { kind, value } = target(opts);
    const removed = await withStore((s) => s.unrevoke(kind, value));
    process.stdout.write(`${removed ? 'unrevoked' : 'was not revoked'}: ${kind} ${value}\n`);
  } catch (err) {
    failAndExit(err);
  }
}

export async function tokenRevocations(opts: { json?: boolean }): Promise<void> {
  try {
    const list = await withStore((s) => s.list());
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(
          list.map((r) => ({ ...r, revokedAt: new Date(r.revokedAtMs).toISOString() })),
          null,
          2,
        ) + '\n',
      );
      return;
    }
    if (list.length === 0) {
      process.stdout.write('no revocations\n');
      return;
    }
    for (const r of list) {
      // Kept until its token expires: an exp past what a Date holds (or none) never does (claims.ts instantMs).
      const until = r.latestExpSec === null ? null : instantMs(r.latestExpSec);
      const expiry =
        r.kind === 'sub'
          ? 'until unrevoked'
          : r.latestExpSec === null
            ? 'until its token is seen and expires'
            : until === null || r.latestExpSec >= 1e15
              ? 'for ever (its token never expires)'
              : `until ${new Date(until).toISOString()}`;
      process.stdout.write(
        `${r.kind}\t${r.value}\trevoked ${new Date(r.revokedAtMs).toISOString()}\tkept ${expiry}${r.reason ? `\treason: ${r.reason}` : ''}\n`,
      );
    }
  } catch (err) {
    failAndExit(err);
  }
}

// `edgegate auth bans` and `edgegate auth unban ADDRESS|--all`: the addresses the
// rate limiter banned after repeated failed authentications (auth.rateLimit), and
// lifting them without a restart. The daemon mirrors its bans into the database
// and applies an unban within a second (src/auth/banWatcher.ts).
import { migrateAuth } from '../auth/authSchema.js';
import { ALL_ADDRESSES, BanStore } from '../auth/banStore.js';
import { UsageError } from '../errors.js';
import { configOrExit, failAndExit } from './common.js';
import { openCliDatabase } from './revocation.js';

async function withBans<T>(fn: (store: BanStore) => T): Promise<T> {
  const config = await configOrExit();
  const db = openCliDatabase(config);
  try {
    migrateAuth(db);
    return fn(new BanStore(db));
  } finally {
    db.close();
  }
}

export async function authBans(opts: { json?: boolean }): Promise<void> {
  try {
    const now = Date.now();
    const bans = await withBans((s) => s.list(now));
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(
          bans.map((b) => ({ ...b, bannedAt: new Date(b.bannedAtMs).toISOString(), until: new Date(b.untilMs).toISOString() })),
          null,
          2,
        ) + '\n',
      );
      return;
    }
    if (bans.length === 0) {
      process.stdout.write('no address is banned\n');
      return;
    }
    for (const b of bans) {
      const left = Math.max(0, Math.ceil((b.untilMs - now) / 1000));
      process.stdout.write(
        `${b.address}\tbanned ${new Date(b.bannedAtMs).toISOString()}\tuntil ` +
          `${new Date(b.untilMs).toISOString()} (${left} s left)\tlast reason: ${b.lastReason}\n`,
      );
    }
    process.stdout.write(`lift with: edgegate auth unban ADDRESS (or --all)\n`);
  } catch (err) {
    failAndExit(err);
  }
}

export async function authUnban(address: string | undefined, opts: { all?: boolean }): Promise<void> {
  try {
    if ((address === undefined) === !opts.all) throw new UsageError('give an ADDRESS or --all');
    const target = opts.all ? ALL_ADDRESSES : address!;
    const lifted = await withBans((s) => s.requestUnban(target, Date.now()));
    if (lifted.length === 0) {
      process.stdout.write(opts.all ? 'no address was banned\n' : `${address} was not banned\n`);
      process.exit(1);
    }
    process.stdout.write(`unbanned: ${lifted.join(', ')} (a running daemon applies it within a second)\n`);
  } catch (err) {
    failAndExit(err);
  }
}

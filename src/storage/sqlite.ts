// Opening a better-sqlite3 database with its native addon located once, directly.
// better-sqlite3's default lookup (the `bindings` package) probes a dozen paths
// through Node's CommonJS loader; passing the addon lets dist/ bundle the
// library's JavaScript, so start-up on a Pi does no module resolution for it.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

let addon: object | undefined;

/** The compiled addon of the installed better-sqlite3 (build/Release, as node-gyp leaves it). */
function nativeAddon(): object {
  if (!addon) {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('better-sqlite3/package.json'));
    addon = require(join(root, 'build', 'Release', 'better_sqlite3.node')) as object;
  }
  return addon;
}

export function openSqlite(file: string, options: Database.Options = {}): Database.Database {
  return new Database(file, { ...options, nativeBinding: nativeAddon() as never });
}

// aedes-persistence's own abstract test suite (node:test), run against the
// gateway's SQLite persistence: each test gets a fresh database file. Spawned by
// abstract.test.ts with `node --import tsx --test`.

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BrokerPersistence } from '../../../src/broker/store/brokerPersistence.js';
import { openDatabase } from '../../../src/storage/database.js';
import { GroupCommit } from '../../../src/storage/groupCommit.js';

const abstract = createRequire(import.meta.url)('aedes-persistence/abstract.js') as (opts: Record<string, unknown>) => void;
const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

abstract({
  test,
  testAsync: true,
  persistence: () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgegate-abstract-'));
    dirs.push(dir);
    const db = openDatabase(join(dir, 'edgegate.db'), { synchronous: 'normal' });
    const persistence = new BrokerPersistence(db, new GroupCommit(db, { delayMs: 0 }), {
      maxRetained: 100_000,
      queueLimit: 0,
      sessionExpirySec: 0,
      now: () => Date.now(),
    });
    const destroy = persistence.destroy.bind(persistence);
    persistence.destroy = async () => {
      await destroy();
      db.close();
    };
    return persistence;
  },
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, tempDir } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { connect, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { lastAuthCached, logsWith } from './util.js';

const SECRET = 'offline-storage-secret';

async function authenticatesFromMemory(prepare: (file: string) => void): Promise<void> {
  const dataDir = tempDir();
  const file = join(dataDir, 'edgegate.db');
  prepare(file);
  const d = await startDaemon({ auth: { jwt: { secret: SECRET } } }, { timeSource: new FakeTimeSource(Date.now()), dataDir });
  try {
    const error = d.logs.find((l) => l.msg === 'database unusable: running from memory, nothing will persist until it is repaired or removed');
    assert.ok(error, 'a clear error is logged');
    assert.equal(error.level, 50);
    assert.match(String(error.err), /cannot open database/);
    const token = await hsToken(SECRET, { sub: 's', jti: 'j', exp: nowSec() + 3600 });
    for (let i = 0; i < 2; i++) {
      const out = await connect(d.port, { clientId: 'c', username: 'u', password: token });
      assert.equal(out.returnCode, 0);
      await end(out.client);
    }
    assert.equal(lastAuthCached(d, 'c'), true, 'the token cache works from memory');
    const bad = await connect(d.port, { clientId: 'x', username: 'u', password: 'garbage' });
    assert.equal(bad.returnCode, 4);
    assert.equal(logsWith(d, 'authentication refused', { clientId: 'x', reason: 'JWT_MALFORMED' }).length, 1);
  } finally {
    await d.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe('offline: corrupt or unreadable database', function () {
  this.timeout(30_000);

  it('a garbage edgegate.db: clear error, the broker keeps authenticating from memory', async () => {
    await authenticatesFromMemory((file) => writeFileSync(file, randomFillSync(Buffer.alloc(64 * 1024))));
  });

  it('a truncated SQLite file: clear error, the broker keeps authenticating', async () => {
    await authenticatesFromMemory((file) => {
      const header = Buffer.alloc(8192);
      header.write('SQLite format 3\0');
      randomFillSync(header, 16);
      writeFileSync(file, header);
    });
  });

  it('an unreadable edgegate.db: clear error, the broker keeps authenticating', async () => {
    await authenticatesFromMemory((file) => {
      if (process.getuid?.() === 0)
        mkdirSync(file); // root reads any file mode: make it unopenable another way
      else {
        writeFileSync(file, '');
        chmodSync(file, 0o000);
      }
    });
  });

  it('the CLI reports a corrupt database clearly and exits non-zero', async () => {
    const dataDir = tempDir();
    try {
      writeFileSync(join(dataDir, 'edgegate.db'), randomFillSync(Buffer.alloc(4096)));
      const out = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'token', 'revoke', '--jti', 'x'],
          { env: { ...process.env, EDGEGATE_DATA_DIR: dataDir }, timeout: 20_000 },
          (err, _o, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
        ),
      );
      assert.equal(out.code, 1);
      assert.match(out.stderr, /cannot open database .*edgegate\.db.*\[EDGEGATE_STORAGE\]/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

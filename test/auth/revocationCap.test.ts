// auth.revocation.maxEntries: a full revocation list refuses new revocations
// loudly and never drops one silently: `edgegate token revoke` exits 1 with a
// message, the revocation topic logs and counts edgegate_revocations_refused_total,
// and every revocation that was accepted stays in force.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { migrateAuth } from '../../src/auth/authSchema.js';
import { RevocationListFull, RevocationStore } from '../../src/auth/revocations.js';
import { openDatabase } from '../../src/storage/database.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { connect, connectOk, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { logsWith } from '../offline/util.js';

const SECRET = 'revocation-cap-secret-0123456789';
const TOPIC = 'cloud/revocations';
const CLI = ['--import', 'tsx', join(process.cwd(), 'src', 'cli', 'main.ts')];

function cli(dataDir: string, maxEntries: number, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...CLI, ...args],
      {
        env: { ...process.env, EDGEGATE_DATA_DIR: dataDir, NODE_CONFIG: JSON.stringify({ auth: { jwt: { secret: SECRET }, revocation: { maxEntries } } }) },
        timeout: 20_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('RevocationStore with maxEntries (unit)', () => {
  it('refuses a new revocation at the cap, still updates an existing one, has room again after an unrevoke', () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'edgegate.db'));
    migrateAuth(db);
    const s = new RevocationStore(db);
    assert.equal(s.revoke('jti', 'a', '', 1, 2), true);
    assert.equal(s.revoke('sub', 'b', '', 1, 2), true);
    assert.throws(
      () => s.revoke('jti', 'c', '', 1, 2),
      (err: unknown) => err instanceof RevocationListFull && err.code === 'EDGEGATE_REVOCATIONS_FULL' && /NOT revoked/.test(err.message),
    );
    assert.equal(s.revoke('jti', 'a', 'new reason', 1, 2), false, 'an existing entry is not a new one');
    assert.deepEqual(
      s.list().map((r) => `${r.kind}:${r.value}`),
      ['jti:a', 'sub:b'],
    );
    s.unrevoke('jti', 'a');
    assert.equal(s.revoke('jti', 'c', '', 1, 2), true);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('auth.revocation.maxEntries (real daemon and CLI)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  const mint = (sub: string, jti: string) => hsToken(SECRET, { sub, jti, exp: nowSec() + 3600 });
  const fromBridge = (payload: object) => d.daemon.broker!.publishInternal({ topic: TOPIC, payload: Buffer.from(JSON.stringify(payload)), qos: 1 }, 'bridge');
  const refused = async (): Promise<number> => (await d.daemon.metrics.revocationsRefused.get()).values.find((v) => v.labels.source === 'topic')?.value ?? 0;

  before(async () => {
    // real time: the daemon polls the CLI's changes
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, revocation: { topic: TOPIC, maxEntries: 3, pollIntervalSec: 0.2, requireSigned: false } } });
    assert.equal(d.config.auth.revocation.maxEntries, 3);
  });
  after(() => d.stop());

  it('the default is 100,000', async () => {
    const other = await startDaemon({});
    try {
      assert.equal(other.config.auth.revocation.maxEntries, 100_000);
    } finally {
      await other.stop();
    }
  });

  it('CLI: revokes up to the cap, then exits 1 saying the revocation was NOT made', async () => {
    for (const jti of ['j1', 'j2']) assert.equal((await cli(d.dataDir, 3, 'token', 'revoke', '--jti', jti)).code, 0);
    const third = await cli(d.dataDir, 3, 'token', 'revoke', '--sub', 's3');
    assert.equal(third.code, 0, third.stderr);
    const full = await cli(d.dataDir, 3, 'token', 'revoke', '--jti', 'j4');
    assert.equal(full.code, 1);
    assert.match(full.stderr, /revocation list is full \(auth\.revocation\.maxEntries = 3\): jti j4 was NOT revoked/);
    assert.match(full.stderr, /EDGEGATE_REVOCATIONS_FULL/);
    const list = await cli(d.dataDir, 3, 'token', 'revocations', '--json');
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ value: string }>).map((r) => r.value).sort(), ['j1', 'j2', 's3']);
    // Re-revoking an existing entry (a new reason) is not a new entry.
    assert.equal((await cli(d.dataDir, 3, 'token', 'revoke', '--jti', 'j1', '--reason', 'again')).code, 0);
  });

  it('daemon: logs once that the list is full; the topic path refuses, counts and logs, and every accepted revocation holds', async () => {
    const fullLine =
      'revocation list is full (auth.revocation.maxEntries): new revocations are refused until entries are unrevoked or expire, or the limit is raised';
    await waitUntil(() => logsWith(d, fullLine).length === 1, { what: 'the list-full line' });
    const victim = await connectOk(d.port, { clientId: 'victim', username: 'u', password: await mint('s5', 'j5') });
    const before = await refused();
    await fromBridge({ jti: 'j5' });
    await fromBridge({ sub: 's6' });
    assert.equal(await refused(), before + 2);
    assert.equal(logsWith(d, 'revocation NOT applied: the revocation list is full (auth.revocation.maxEntries)').length, 1, 'limited: one line per 10 s');
    assert.ok(victim.connected, 'the refused revocation was not applied');
    await end(victim);
    // The accepted ones are still in force.
    assert.equal((await connect(d.port, { clientId: 'j1', username: 'u', password: await mint('x', 'j1') })).returnCode, 4);
    assert.equal((await connect(d.port, { clientId: 's3', username: 'u', password: await mint('s3', 'any') })).returnCode, 4);
    const scrape = await d.daemon.metrics.registry.metrics();
    assert.match(scrape, /edgegate_revocations_refused_total\{source="topic"\} 2/);
  });

  it('after an unrevoke there is room again, on the topic path too', async () => {
    await fromBridge({ jti: 'j2', unrevoke: true });
    await fromBridge({ jti: 'j5' });
    assert.ok(logsWith(d, 'revocation received on the revocation topic').some((l) => l.value === 'j5'));
    assert.equal((await connect(d.port, { clientId: 'j5', username: 'u', password: await mint('s5', 'j5') })).returnCode, 4);
  });
});

// What a power cut needs, seen in the real CLI's system calls (strace): a file
// the gateway writes is fsynced under a temporary name, then renamed (or linked)
// over its target, then its directory is fsynced; a data directory it creates is
// recorded durably in its parent. Without the file fsync the target can be 0 bytes
// after a cut; without the directory fsync it can be missing.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../helpers/daemon.js';
import { indexOfCall, re, runCliTraced, straceAvailable } from '../helpers/strace.js';

const mode = (path: string): number => statSync(path).mode & 0o777;

/** Asserts fsync(temp) → rename/link(temp, target) → [unlink(temp)] → fsync(dir), in order; returns the index of the directory fsync. */
function assertDurableReplace(calls: string[], dir: string, name: string, how: 'rename' | 'link'): number {
  const sync = indexOfCall(calls, new RegExp(`^fsync\\(\\d+<${re(dir)}/\\.${re(name)}\\.\\d+\\.[0-9a-f]+\\.tmp>\\) = 0`));
  assert.ok(sync >= 0, `the temporary file of ${name} is fsynced:\n${calls.join('\n')}`);
  const tmp = /<([^>]+)>/.exec(calls[sync]!)![1]!;
  const place = indexOfCall(calls, new RegExp(`^${how}(at2?)?\\((AT_FDCWD, )?"${re(tmp)}", (AT_FDCWD, )?"${re(join(dir, name))}"`), sync + 1);
  assert.ok(place > sync, `then ${how}d over ${name}:\n${calls.join('\n')}`);
  let after = place;
  if (how === 'link') {
    after = indexOfCall(calls, new RegExp(`^unlink(at)?\\((AT_FDCWD, )?"${re(tmp)}"`), place + 1);
    assert.ok(after > place, `then the temporary name removed:\n${calls.join('\n')}`);
  }
  const dirSync = indexOfCall(calls, new RegExp(`^fsync\\(\\d+<${re(dir)}>\\) = 0`), after + 1);
  assert.ok(dirSync > after, `then the directory ${dir} fsynced:\n${calls.join('\n')}`);
  return dirSync;
}

describe('durable writes through the real CLI (strace)', function () {
  this.timeout(60_000);
  let dir: string;
  before(function () {
    if (!straceAvailable) {
      // eslint-disable-next-line no-console
      console.log('      skipped: needs strace (apt-get install strace)');
      this.skip();
    }
    dir = tempDir('edgegate-durable-');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it(
    'the first start on a fresh data dir: the directory is recorded in its parent; the generated ' +
      'secret is fsynced, linked into place (never over an existing one), its directory fsynced',
    async () => {
      const parent = join(dir, 'site');
      const dataDir = join(parent, 'data');
      // A taken MQTT port ends the run right after the secret is made (exit 1), so the trace is complete.
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const port = (busy.address() as AddressInfo).port;
      try {
        const env = {
          EDGEGATE_DATA_DIR: dataDir,
          EDGEGATE_PORT: String(port),
          NODE_CONFIG: JSON.stringify({ listeners: { tcp: { host: '127.0.0.1' } }, http: { enabled: false } }),
        };
        const r = await runCliTraced(['run'], env, dir);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /listeners\.tcp\.port/);
        const made = indexOfCall(r.calls, new RegExp(`^mkdir(at)?\\((AT_FDCWD, )?"${re(dataDir)}", 0?700\\) = 0`));
        assert.ok(made >= 0, `data dir created:\n${r.calls.join('\n')}`);
        for (const d of [parent, dir]) {
          assert.ok(
            indexOfCall(r.calls, new RegExp(`^fsync\\(\\d+<${re(d)}>\\) = 0`), made + 1) > made,
            `${d} fsynced after the mkdir:\n${r.calls.join('\n')}`,
          );
        }
        assertDurableReplace(r.calls, dataDir, 'jwt-secret', 'link');
        const secret = join(dataDir, 'jwt-secret');
        assert.equal(mode(secret), 0o600);
        assert.ok(Buffer.from(readFileSync(secret, 'utf8').trim(), 'base64url').length >= 32);
        assert.equal(mode(dataDir), 0o700);
      } finally {
        busy.close();
      }
    },
  );

  it('keys generate: private.pem and public.pem each fsynced, renamed into place, the directory fsynced', async () => {
    const out = join(dir, 'keys', 'es');
    const r = await runCliTraced(['keys', 'generate', '--alg', 'ES256', '--out', out], {}, dir);
    assert.equal(r.code, 0, r.stderr);
    const priv = assertDurableReplace(r.calls, out, 'private.pem', 'rename');
    const pub = assertDurableReplace(r.calls, out, 'public.pem', 'rename');
    assert.ok(pub > priv, 'public.pem after private.pem');
    assert.equal(mode(join(out, 'private.pem')), 0o600);
    assert.equal(mode(join(out, 'public.pem')), 0o644);
  });
});

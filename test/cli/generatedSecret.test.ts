// A generated secret that exists but is damaged (empty after a power cut under an
// older edgegate, garbled, truncated, unreadable) stops the real daemon with exit 2
// naming the file and auth.jwt.secret and saying what to do; neither `run` nor
// `token mint` ever writes a new secret over it, so the operator can still restore it.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../scripts/bench/lib/freePort.js';
import { tempDir } from '../helpers/daemon.js';
import { runCli } from './support.js';

interface Snapshot {
  ino: number;
  mtimeMs: number;
  bytes?: Buffer;
}

function snapshot(file: string): Snapshot {
  const st = statSync(file);
  return { ino: st.ino, mtimeMs: st.mtimeMs, bytes: st.isFile() ? readFileSync(file) : undefined };
}

const CASES: Array<{ name: string; make: (file: string) => void; problem: RegExp }> = [
  { name: 'empty (0 bytes)', make: (f) => writeFileSync(f, '', { mode: 0o600 }), problem: /is empty/ },
  { name: 'only a newline', make: (f) => writeFileSync(f, '\n', { mode: 0o600 }), problem: /is empty/ },
  // Bytes Buffer.from(…, 'base64url') would have skipped, decoding the rest to a "secret" of 32+ bytes.
  {
    name: 'garbled (binary)',
    make: (f) =>
      writeFileSync(f, Buffer.concat([Buffer.from('A'.repeat(60)), Buffer.from([0, 0xff, 0x10, 0x80]), Buffer.from('B'.repeat(20))]), { mode: 0o600 }),
    problem: /is not a base64url secret/,
  },
  { name: 'truncated', make: (f) => writeFileSync(f, 'c2hvcnQ\n', { mode: 0o600 }), problem: /holds only 5 bytes of secret/ },
  { name: 'unreadable (a directory)', make: (f) => mkdirSync(f, { mode: 0o700 }), problem: /cannot be read \(EISDIR/ },
];

describe('a damaged generated secret (real CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = tempDir('edgegate-secret-')));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of CASES) {
    it(`${c.name}: run and token mint exit 2 naming the file and auth.jwt.secret, with what to do; the file is left as it was`, async () => {
      const dataDir = join(dir, c.name.replace(/\W+/g, '-'));
      mkdirSync(dataDir, { mode: 0o700 });
      const file = join(dataDir, 'jwt-secret');
      c.make(file);
      const before = snapshot(file);
      const env = {
        EDGEGATE_DATA_DIR: dataDir,
        EDGEGATE_PORT: String(await freePort()),
        NODE_CONFIG: JSON.stringify({ listeners: { tcp: { host: '127.0.0.1' } }, http: { enabled: false } }),
      };
      const [run, mint] = await Promise.all([runCli(['run'], env, dir), runCli(['token', 'mint', '--sub', 'sensor-1'], env, dir)]);
      for (const [what, r] of [
        ['run', run],
        ['token mint', mint],
      ] as const) {
        assert.equal(r.code, 2, `${what}: ${r.stderr}`);
        assert.ok(r.stderr.includes(`auth.jwt.secret: the generated secret ${file} `), `${what} names the key and the file:\n${r.stderr}`);
        assert.match(r.stderr, c.problem, `${what} says what is wrong`);
        assert.match(r.stderr, /restore it from a backup/);
        assert.match(r.stderr, /delete it to have a new one generated.*every token minted with the old one is then refused/);
        assert.equal(r.stdout, '', `${what} printed no token`);
      }
      assert.ok(!run.stderr.includes('edgegate started'));
      assert.deepEqual(snapshot(file), before, 'same inode, mtime and bytes: nothing was written over it');
      assert.deepEqual(
        readdirSync(dataDir).filter((n) => n.includes('jwt-secret')),
        ['jwt-secret'],
        'no temporary or second secret file beside it',
      );
    });
  }
});

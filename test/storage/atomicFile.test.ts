// writeFileAtomicSync on real files: the target holds the old content or the new,
// never a mix, and no temporary file stays behind, also when the write fails
// (the rename refused, a directory it cannot write, a full file system). The
// fsync order itself is checked through the real CLI in test/cli/durableWrites.test.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { mkdirDurableSync, writeFileAtomicSync } from '../../src/storage/atomicFile.js';
import { tempDir } from '../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;
const mode = (p: string): number => statSync(p).mode & 0o777;
/** Every name in `dir` but the expected ones: a temporary file left behind shows up here. */
const strays = (dir: string, expected: string[]): string[] => readdirSync(dir).filter((n) => !expected.includes(n));

/** Mounts a tmpfs of `size` at a new directory (root only); undefined when mounting is not possible here. */
function mountTmpfs(size: string): string | undefined {
  if (!isRoot) return undefined;
  const at = tempDir('edgegate-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', at], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(at, { recursive: true, force: true });
    return undefined;
  }
  return at;
}

function unmount(at: string): void {
  spawnSync('umount', [at]);
  rmSync(at, { recursive: true, force: true });
}

describe('writeFileAtomicSync', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir('edgegate-atomic-')));
  afterEach(() => {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates and replaces the file with exactly the mode asked for (not reduced by the umask), leaving no temporary file', () => {
    const file = join(dir, 'state.json');
    const previous = process.umask(0o077);
    try {
      writeFileAtomicSync(file, 'one\n', { mode: 0o644 });
      assert.equal(readFileSync(file, 'utf8'), 'one\n');
      assert.equal(mode(file), 0o644, 'umask 077 does not make it 0600');
      writeFileAtomicSync(file, Buffer.from('two\n'), { mode: 0o600 });
      assert.equal(readFileSync(file, 'utf8'), 'two\n');
      assert.equal(mode(file), 0o600);
    } finally {
      process.umask(previous);
    }
    assert.deepEqual(strays(dir, ['state.json']), []);
  });

  it('overwrite: false refuses an existing file with EEXIST and leaves it as it was', () => {
    const file = join(dir, 'jwt-secret');
    writeFileAtomicSync(file, 'first\n', { mode: 0o600, overwrite: false });
    assert.equal(readFileSync(file, 'utf8'), 'first\n');
    assert.throws(
      () => writeFileAtomicSync(file, 'second\n', { mode: 0o600, overwrite: false }),
      (err: NodeJS.ErrnoException) => err.code === 'EEXIST',
    );
    assert.equal(readFileSync(file, 'utf8'), 'first\n');
    assert.deepEqual(strays(dir, ['jwt-secret']), []);
  });

  it('a rename that fails after the data was written (target is a directory): the error is thrown, the temporary file removed', () => {
    const target = join(dir, 'busy');
    mkdirSync(join(target, 'inside'), { recursive: true });
    assert.throws(
      () => writeFileAtomicSync(target, 'x'.repeat(100_000), { mode: 0o600 }),
      (err: NodeJS.ErrnoException) => ['EISDIR', 'ENOTEMPTY', 'EEXIST'].includes(err.code ?? ''),
    );
    assert.deepEqual(readdirSync(target), ['inside']);
    assert.deepEqual(strays(dir, ['busy']), []);
  });

  it('a directory it cannot write: the error is thrown, the old content stays, nothing is added', function () {
    // root ignores permission bits: a read-only mount is what refuses it a write.
    const at = isRoot ? mountTmpfs('1m') : dir;
    if (!at) {
      // eslint-disable-next-line no-console
      console.log('      skipped: running as root, and a tmpfs cannot be mounted here');
      return this.skip();
    }
    try {
      const file = join(at, 'fleet-state.json');
      writeFileSync(file, 'old\n', { mode: 0o600 });
      if (isRoot) assert.equal(spawnSync('mount', ['-o', 'remount,ro', at]).status, 0, 'remount read-only');
      else chmodSync(at, 0o500);
      assert.throws(
        () => writeFileAtomicSync(file, 'new\n', { mode: 0o600 }),
        (err: NodeJS.ErrnoException) => ['EROFS', 'EACCES'].includes(err.code ?? ''),
      );
      assert.equal(readFileSync(file, 'utf8'), 'old\n');
      assert.deepEqual(strays(at, ['fleet-state.json']), []);
    } finally {
      if (at !== dir) unmount(at);
    }
  });

  it('a full file system (ENOSPC on a small tmpfs, root only): the old content stays and the partly written temporary file is removed', function () {
    const at = mountTmpfs('128k');
    if (!at) {
      // eslint-disable-next-line no-console
      console.log('      skipped: needs root and a tmpfs mount');
      return this.skip();
    }
    try {
      const file = join(at, 'jwt-secret');
      writeFileAtomicSync(file, 'old secret\n', { mode: 0o600 });
      assert.throws(
        () => writeFileAtomicSync(file, Buffer.alloc(1024 * 1024, 0x61), { mode: 0o600 }),
        (err: NodeJS.ErrnoException) => err.code === 'ENOSPC',
      );
      assert.equal(readFileSync(file, 'utf8'), 'old secret\n');
      assert.deepEqual(strays(at, ['jwt-secret']), []);
      // The space the failed write took is free again: a normal write fits.
      writeFileAtomicSync(file, 'new secret\n', { mode: 0o600 });
      assert.equal(readFileSync(file, 'utf8'), 'new secret\n');
    } finally {
      unmount(at);
    }
  });

  it('a reader in another process only ever sees the whole old or the whole new content while it is rewritten', async () => {
    const file = join(dir, 'state.json');
    const a = 'a'.repeat(512 * 1024);
    const b = 'b'.repeat(256 * 1024 + 1);
    writeFileAtomicSync(file, a, { mode: 0o600 });
    const moduleUrl = new URL('../../src/storage/atomicFile.ts', import.meta.url).href;
    const writer = spawn(
      process.execPath,
      [
        '--import',
        pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
        '-e',
        `import(${JSON.stringify(moduleUrl)}).then(({ writeFileAtomicSync }) => {
           const a = 'a'.repeat(${a.length}), b = 'b'.repeat(${b.length});
           for (let i = 1; i <= 200; i++) writeFileAtomicSync(${JSON.stringify(file)}, i % 2 ? b : a, { mode: 0o600 });
         })`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    writer.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => writer.once('exit', (code) => resolve(code)));
    let done = false;
    void exited.then(() => (done = true));
    const seen = new Set<string>();
    let reads = 0;
    while (!done) {
      const text = readFileSync(file, 'utf8');
      assert.ok(text === a || text === b, `read ${text.length} bytes: neither the old nor the new content`);
      seen.add(text[0]!);
      reads++;
      await nextTurn();
    }
    assert.equal(await exited, 0, stderr);
    assert.ok(reads > 10, `only ${reads} reads`);
    assert.deepEqual([...seen].sort(), ['a', 'b'], 'the reader saw the file replaced while reading');
    assert.equal(readFileSync(file, 'utf8'), a, 'the last (200th) write is the one left');
    assert.deepEqual(strays(dir, ['state.json']), []);
  });
});

describe('mkdirDurableSync', () => {
  let dir: string;
  before(() => (dir = tempDir('edgegate-mkdir-')));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates every missing level with the mode and returns the first one created; an existing directory returns undefined', () => {
    const deep = join(dir, 'a', 'b', 'c');
    assert.equal(mkdirDurableSync(deep, 0o700), join(dir, 'a'));
    for (const d of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) assert.ok(statSync(d).isDirectory());
    assert.equal(mode(deep) & 0o077, 0, 'no group or other bits');
    assert.equal(mkdirDurableSync(deep, 0o700), undefined);
  });
});

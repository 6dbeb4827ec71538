// Power-cut harness: drives test/powercut/lazyfs.py, a LazyFS-style FUSE file system that
// keeps a file's writes only once the file is fsynced, and a name only once its directory is
// fsynced; `cut()` drops everything else, as a power loss does (see test/powercut/README.md).
//
//   before(function () { skipUnlessFuse(this); });
//   const fs = await mountTempLazyFs();            // or mountLazyFs({ backing, mnt })
//   ... write through fs.mnt ...
//   await fs.cut();                                // BACKING now holds what a card would hold
//   await fs.remount();                            // next "boot", on what BACKING holds
//   ...
//   await fs.dispose();                            // in afterEach/finally: never leaves a mount
//
// A clean `unmount()` is an orderly shutdown: the kernel writes back its dirty pages and the
// file system writes everything (dirty data and names) to BACKING, in every mode.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { settlesWithin } from './wait.js';

export const LAZYFS_SCRIPT = process.env.LAZYFS_SCRIPT ?? fileURLToPath(new URL('../powercut/lazyfs.py', import.meta.url));
export const LAZYFS_PYTHON = process.env.LAZYFS_PYTHON ?? '/usr/bin/python3';
const INSTALL_HINT =
  'install with: apt-get install -y --no-install-recommends fuse3 python3-pyfuse3; ' +
  'in a container: run it with --device /dev/fuse --cap-add SYS_ADMIN (or --privileged)';

export interface LazyFsOptions {
  /** The "card": holds exactly the durable state at all times (and after a cut). */
  backing: string;
  /** Where the file system is mounted (created if missing; a stale mount is cleared). */
  mnt: string;
  /** fsync and fsyncdir persist nothing: the harness's own sanity check. */
  negativeControl?: boolean;
  /** Size of the "disk": writes beyond it fail with ENOSPC. */
  capacityBytes?: number | null;
  /** Scratch directory (same file system as backing); default `${backing}.lazyfs-state`. */
  stateDir?: string;
  readyTimeoutMs?: number;
  /** Print lazyfs's stderr (also: LAZYFS_DEBUG=1). */
  verbose?: boolean;
}

export interface LazyFsStats {
  write: number;
  write_bytes: number;
  read: number;
  fsync: number;
  fsyncdir: number;
  enospc: number;
  used: number;
  capacity: number | null;
  nodes: number;
  dirty_bytes: number;
  negative_control: boolean;
}

// ---------- availability ----------

let availability: { ok: boolean; why?: string } | undefined;

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin'])) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Whether the power-cut harness can run here. Checks /dev/fuse, fusermount3, pyfuse3 and
 * then really mounts and cuts a scratch lazyfs once (a container without CAP_SYS_ADMIN has
 * all the pieces and still cannot mount). Cached for the process.
 */
export function fuseAvailable(): { ok: boolean; why?: string } {
  if (availability) return availability;
  availability = probe();
  return availability;
}

function probe(): { ok: boolean; why?: string } {
  if (process.platform !== 'linux') return { ok: false, why: `FUSE harness needs Linux (this is ${process.platform})` };
  if (!existsSync('/dev/fuse')) return { ok: false, why: `/dev/fuse is missing (${INSTALL_HINT})` };
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, why: `/dev/fuse is not readable and writable by uid ${process.getuid?.()} (run as root, or give this user access to /dev/fuse)` };
  }
  const fusermount = onPath('fusermount3');
  if (!fusermount) return { ok: false, why: `fusermount3 not found (${INSTALL_HINT})` };
  if (process.getuid?.() !== 0 && !(statSync(fusermount).mode & 0o4000)) {
    return { ok: false, why: `not root and ${fusermount} is not setuid root: cannot mount FUSE as this user` };
  }
  if (!existsSync(LAZYFS_PYTHON)) return { ok: false, why: `${LAZYFS_PYTHON} not found (install python3, or set LAZYFS_PYTHON)` };
  const imp = spawnSync(LAZYFS_PYTHON, ['-c', 'import pyfuse3, trio'], { encoding: 'utf8', timeout: 20_000 });
  if (imp.status !== 0)
    return {
      ok: false,
      why: `${LAZYFS_PYTHON} cannot import pyfuse3/trio: ${(imp.stderr || imp.error?.message || '').trim().split('\n').pop()} (${INSTALL_HINT})`,
    };
  // The real thing: mount, and cut at once (stdin EOF is a cut).
  const root = mkdtempSync(join(tmpdir(), 'edgegate-lazyfs-probe-'));
  try {
    mkdirSync(join(root, 'b'));
    mkdirSync(join(root, 'm'));
    const r = spawnSync(LAZYFS_PYTHON, [LAZYFS_SCRIPT, join(root, 'b'), join(root, 'm')], { input: '', encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0 || !r.stdout.includes('ready')) {
      return {
        ok: false,
        why: `a test mount failed (${(r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-2).join(' | ')}); ${INSTALL_HINT}`,
      };
    }
    return { ok: true };
  } finally {
    clearStaleMount(join(root, 'm'));
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * For a suite's `before`: skips the suite with a loud message where FUSE cannot run.
 * With CI or EDGEGATE_REQUIRE_FUSE set, it fails instead: CI must run the power-cut tests.
 */
export function skipUnlessFuse(ctx: Mocha.Context): void {
  const f = fuseAvailable();
  if (f.ok) return;
  const msg = `POWER-CUT TESTS NOT RUN: ${f.why}`;
  if (process.env.EDGEGATE_REQUIRE_FUSE || process.env.CI) throw new Error(`${msg} (CI / EDGEGATE_REQUIRE_FUSE set: refusing to skip)`);
  process.stderr.write(`\n${'!'.repeat(100)}\n!!! ${msg}\n!!! These tests are SKIPPED here; CI runs them.\n${'!'.repeat(100)}\n\n`);
  ctx.skip();
}

// ---------- mounts ----------

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The absolute path without following a (possibly dead) mount at its last component. */
function canonical(p: string): string {
  const abs = resolve(p);
  try {
    return join(realpathSync(dirname(abs)), basename(abs));
  } catch {
    return abs;
  }
}

export function isMounted(mnt: string): boolean {
  const target = canonical(mnt);
  let info = '';
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  return info.split('\n').some((line) => unescapeMountinfo(line.split(' ')[4] ?? '') === target);
}

/** Detaches whatever is mounted at mnt (a leftover of a killed run), if anything. */
export function clearStaleMount(mnt: string): void {
  for (let i = 0; i < 5 && isMounted(mnt); i++) {
    const r = spawnSync('fusermount3', ['-uz', canonical(mnt)], { encoding: 'utf8' });
    if (r.status !== 0) spawnSync('umount', ['-l', canonical(mnt)]);
  }
}

const live = new Set<LazyFs>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // mocha runs with exit: true: whatever is still mounted goes (SIGKILL = a cut), synchronously.
  process.on('exit', () => {
    for (const fs of live) fs.killNow();
  });
}

interface Pending {
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

export class LazyFs {
  readonly backing: string;
  readonly mnt: string;
  readonly negativeControl: boolean;
  private capacity: number | null;
  private readonly opts: LazyFsOptions;
  private proc?: ChildProcessWithoutNullStreams;
  private exited?: Promise<number | null>;
  private pending: Pending[] = [];
  private stderrTail = '';
  private cleanupDir?: string;

  constructor(opts: LazyFsOptions, cleanupDir?: string) {
    this.opts = opts;
    this.backing = resolve(opts.backing);
    this.mnt = resolve(opts.mnt);
    this.negativeControl = opts.negativeControl ?? false;
    this.capacity = opts.capacityBytes ?? null;
    this.cleanupDir = cleanupDir;
  }

  /** Whether the file system is up (between mount and cut/unmount). */
  get mounted(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The lazyfs process id (a SIGKILL is a cut that leaves a dead mount behind). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Joins a path inside the mount. */
  path(...parts: string[]): string {
    return join(this.mnt, ...parts);
  }

  async start(): Promise<this> {
    if (this.mounted) throw new Error(`lazyfs already mounted at ${this.mnt}`);
    installExitHook();
    clearStaleMount(this.mnt);
    mkdirSync(this.mnt, { recursive: true });
    mkdirSync(this.backing, { recursive: true });
    const args = [LAZYFS_SCRIPT, this.backing, this.mnt];
    if (this.negativeControl) args.push('--negative-control');
    if (this.capacity !== null) args.push('--capacity', String(this.capacity));
    if (this.opts.stateDir) args.push('--state', this.opts.stateDir);
    const proc = spawn(LAZYFS_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.stderrTail = '';
    const verbose = this.opts.verbose || !!process.env.LAZYFS_DEBUG;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-8000);
      if (verbose) process.stderr.write(d);
    });
    proc.stdin.on('error', () => {
      /* it died: reported through exit */
    });
    this.exited = new Promise((res) => proc.once('close', (code) => res(code)));
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const readyP = new Promise<void>((res, rej) => {
      ready = res;
      failed = rej;
    });
    readyP.catch(() => undefined); // an exit after a timeout must not be an unhandled rejection
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      if (line === 'ready') ready();
      else if (line.startsWith('ok ') || line.startsWith('err ')) {
        const p = this.pending.shift();
        if (!p) return;
        if (line.startsWith('ok ')) p.resolve(line.slice(3));
        else p.reject(new Error(`lazyfs: ${line.slice(4)}`));
      }
    });
    void this.exited.then((code) => {
      live.delete(this);
      failed(new Error(`lazyfs exited (${code}) before it was ready: ${this.stderrTail.trim()}`));
      for (const p of this.pending.splice(0)) p.reject(new Error(`lazyfs exited (${code}): ${this.stderrTail.trim()}`));
    });
    live.add(this);
    const timeoutMs = this.opts.readyTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        readyP,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error(`lazyfs not ready after ${timeoutMs} ms: ${this.stderrTail.trim()}`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      this.killNow();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return this;
  }

  private request(cmd: string): Promise<string> {
    if (!this.mounted) return Promise.reject(new Error(`lazyfs at ${this.mnt} is not mounted`));
    return new Promise((res, rej) => {
      this.pending.push({ resolve: res, reject: rej });
      this.proc!.stdin.write(cmd + '\n');
    });
  }

  private async stop(cmd: 'cut' | 'unmount', timeoutMs = 10_000): Promise<void> {
    if (!this.mounted) throw new Error(`lazyfs at ${this.mnt} is not mounted`);
    const proc = this.proc!;
    proc.stdin.write(cmd + '\n');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      this.exited!,
      new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (code === 'timeout') {
      this.killNow();
      throw new Error(`lazyfs ${cmd} did not finish in ${timeoutMs} ms (killed): ${this.stderrTail.trim()}`);
    }
    clearStaleMount(this.mnt); // normally a no-op
    if (code !== 0) throw new Error(`lazyfs ${cmd}: exit ${code}: ${this.stderrTail.trim()}`);
  }

  /** Power cut: drops every unsynced byte and name, unmounts; resolves once unmounted. */
  cut(): Promise<void> {
    return this.stop('cut');
  }

  /** Orderly shutdown: everything (dirty data and names) is written to BACKING, then unmounted. */
  unmount(): Promise<void> {
    return this.stop('unmount');
  }

  /** The next "boot": mounts again on what BACKING holds (same options, current capacity). */
  async remount(): Promise<this> {
    if (this.mounted) throw new Error('remount() needs a cut() or unmount() first');
    return this.start();
  }

  /** Changes the size of the "disk" at once (null: unlimited). */
  async setCapacity(bytes: number | null): Promise<void> {
    await this.request(`capacity ${bytes === null ? 'none' : Math.floor(bytes)}`);
    this.capacity = bytes;
  }

  /** Like sync(1) plus a kernel writeback: everything becomes durable (in every mode). */
  async sync(): Promise<void> {
    await this.request('sync');
  }

  async stats(): Promise<LazyFsStats> {
    return JSON.parse((await this.request('stats')).replace(/^stats /, '')) as LazyFsStats;
  }

  /** SIGKILL now (a cut that leaves a dead mount) and detach the mount: for exit paths. */
  killNow(): void {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      try {
        proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    clearStaleMount(this.mnt);
    live.delete(this);
  }

  /** For afterEach/finally: cuts if still mounted, never leaves a mount, removes owned temp dirs. */
  async dispose(): Promise<void> {
    try {
      if (this.mounted) await this.cut().catch(() => this.killNow());
    } finally {
      this.killNow();
      if (this.proc && this.exited) await settlesWithin(this.exited, 2000);
      if (this.cleanupDir) rmSync(this.cleanupDir, { recursive: true, force: true });
      rmSync(this.opts.stateDir ?? `${this.backing}.lazyfs-state`, { recursive: true, force: true });
    }
  }
}

/** Mounts lazyfs at opts.mnt over opts.backing; resolves once it serves. */
export async function mountLazyFs(opts: LazyFsOptions): Promise<LazyFs> {
  return new LazyFs(opts).start();
}

/** mountLazyFs on a fresh temp dir (backing/ and mnt/ inside); dispose() removes it all. */
export async function mountTempLazyFs(opts: Partial<LazyFsOptions> = {}): Promise<LazyFs> {
  const root = mkdtempSync(join(tmpdir(), 'edgegate-lazyfs-'));
  const fs = new LazyFs({ ...opts, backing: opts.backing ?? join(root, 'backing'), mnt: opts.mnt ?? join(root, 'mnt') }, root);
  try {
    return await fs.start();
  } catch (e) {
    await fs.dispose();
    throw e;
  }
}

// ---------- the durable-write pattern, for tests that write through the mount ----------

/** fsync a directory: makes the names created, renamed or removed in it durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Temp file, fsync, rename over, fsync the directory: the write survives a power cut. */
export function writeFileDurable(file: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

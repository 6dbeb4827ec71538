// Writing a file so that a power cut leaves the old content or the new, never a
// mix or an empty file. A gateway on an SD card without a battery loses power
// often, and a file written in place (writeFileSync) can be 0 bytes afterwards:
// the directory entry reaches the card before the data does. So: write a
// temporary file in the same directory (a rename across file systems is not
// atomic), fsync it, rename it over the target, fsync the directory (the rename
// is a change to the directory and is only durable once the directory is).
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's permission bits, set exactly (the umask does not reduce them): the temporary file has them from its creation. */
  mode: number;
  /**
   * false: fail with EEXIST when the target exists, as `flag: 'wx'` does, and
   * never replace it (a generated secret must not be replaced by a second
   * writer racing the first). Default true.
   */
  overwrite?: boolean;
}

/** Writes `data` to `file` atomically and durably (see the top of this file). Throws the underlying error; no temporary file is left behind. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, options: AtomicWriteOptions): void {
  const target = resolve(file);
  const dir = dirname(target);
  // Hidden, unique per writer (pid + random), and recognisably ours should a power cut leave one behind.
  const tmp = resolve(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined = openSync(tmp, 'wx', options.mode);
  let placed = false;
  try {
    // openSync's mode is reduced by the umask; the caller asked for these bits exactly.
    fchmodSync(fd, options.mode);
    writeFileSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.overwrite === false) placeExclusively(tmp, target);
    else renameSync(tmp, target);
    placed = true;
  } finally {
    if (fd !== undefined) closeQuietly(fd);
    if (!placed) unlinkQuietly(tmp);
  }
  fsyncDirSync(dir);
}

/**
 * link(2) fails with EEXIST when the target exists, atomically, where a check
 * followed by rename would race another writer. A file system without hard
 * links (vfat, some FUSE file systems) gets the check and rename instead.
 */
function placeExclusively(tmp: string, target: string): void {
  try {
    linkSync(tmp, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    if (existsSync(target)) throw Object.assign(new Error(`EEXIST: file already exists, ${target}`), { code: 'EEXIST', path: target });
    renameSync(tmp, target);
    return;
  }
  // The target now names the new file; the temporary name goes (the caller's directory fsync covers both entries).
  unlinkSync(tmp);
}

/** Makes the directory's entries (created, renamed, removed files) durable. */
export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    // A file system that cannot fsync a directory (EINVAL) has no directory state of its own to flush.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * mkdir -p whose result survives a power cut: every directory it creates is
 * recorded in its parent, and each parent is fsynced. Returns the first
 * directory created, or undefined when `dir` already existed.
 */
export function mkdirDurableSync(dir: string, mode: number): string | undefined {
  const target = resolve(dir);
  const first = mkdirSync(target, { recursive: true, mode });
  if (first === undefined) return undefined;
  // From the deepest new directory up to the first one, fsync the parent that holds its entry.
  const top = resolve(first);
  for (let d = target; ; d = dirname(d)) {
    fsyncDirSync(dirname(d));
    if (d === top || dirname(d) === d) break;
  }
  return first;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already failing: the original error is the one to report */
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* ENOENT: not created or already moved */
  }
}

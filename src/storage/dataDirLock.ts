// One daemon per data directory. Two daemons on one directory would each run a
// broker over the same database and fight over the bridge outbox, the broker's
// sessions and the listening ports.
//
// The lock must vanish with its holder, whatever kills it: kill -9, the OOM
// killer, a power cut. A PID file alone cannot tell (after a reboot a stale PID
// often names some other live process: PIDs at boot are small and repeat), and
// Node has no flock(2). So the lock is a POSIX record lock (fcntl F_SETLK),
// which the kernel drops when the process dies, taken through SQLite, which
// Node already carries: `BEGIN EXCLUSIVE` on a small database of its own,
// `dataDir/edgegate.lock`, held open until stop. Nothing is ever written in that
// transaction, so the file stays 0 bytes (an empty file is a valid empty
// database, so a power cut cannot damage it) and with `journal_mode = MEMORY` no
// journal file appears either. The lock is separate from edgegate.db because the
// CLI (`token revoke`, `token verify`, …) must keep using that while the daemon
// runs: only `edgegate run` takes this one.
//
// Who holds it goes into `dataDir/edgegate.pid`, written (atomically) once the
// lock is held, so a refused second daemon can name the first one's PID. The PID
// file only informs; the lock decides.
//
// POSIX locks belong to the process and are dropped when the process closes
// *any* descriptor of the file. SQLite guards its own descriptors against that;
// nothing else in the daemon may open edgegate.lock.
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { ConfigError, errorMessage } from '../errors.js';
import { writeFileAtomicSync } from './atomicFile.js';
import { openSqlite } from './sqlite.js';

export const LOCK_FILE = 'edgegate.lock';
export const PID_FILE = 'edgegate.pid';

export interface DataDirLock {
  readonly dir: string;
  /** Set when the PID file could not be written (the lock is held all the same). */
  readonly pidFileProblem?: string;
  /** Removes the PID file and drops the lock; safe to call more than once. */
  release(): void;
}

/**
 * Takes the data directory's lock for this process, at once (no waiting: a
 * second daemon should say so, not hang). Throws ConfigError at `dataDir` naming
 * the directory and the holder's PID when another process holds it.
 */
export function lockDataDir(dir: string): DataDirLock {
  const lockFile = join(dir, LOCK_FILE);
  const pidFile = join(dir, PID_FILE);
  let db: Database.Database | undefined;
  try {
    db = openSqlite(lockFile, { timeout: 0 });
    // Reading the header already needs a shared lock, so a held lock can fail here too (SQLITE_BUSY).
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    closeQuietly(db);
    const code = String((err as { code?: unknown }).code ?? '');
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      throw ConfigError.at(
        'dataDir',
        `${dir} is in use by another edgegate daemon (${holder(pidFile)}); only one may run on a data ` +
          `directory: stop that one first (systemctl stop edgegate), or give this one a dataDir of its own`,
      );
    }
    const hint = code === 'SQLITE_NOTADB' ? ` (edgegate keeps this file empty; something else wrote it: delete it while no edgegate runs on ${dir})` : '';
    throw ConfigError.at('dataDir', `cannot lock ${lockFile}: ${errorMessage(err)}${hint}`);
  }

  let pidFileProblem: string | undefined;
  try {
    writeFileAtomicSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  } catch (err) {
    // Only informative (a refused second daemon could not name us): not worth refusing to start over.
    pidFileProblem = `cannot write ${pidFile}: ${errorMessage(err)}`;
  }

  const held = db;
  let released = false;
  return {
    dir,
    pidFileProblem,
    release() {
      if (released) return;
      released = true;
      // Still holding the lock, so the PID file is ours (not a successor's) to remove.
      if (pidFileProblem === undefined) {
        try {
          unlinkSync(pidFile);
        } catch {
          /* already gone */
        }
      }
      closeQuietly(held);
    },
  };
}

/** "PID 1234" from the PID file, or why it is not known. */
function holder(pidFile: string): string {
  try {
    const text = readFileSync(pidFile, 'utf8').trim();
    if (/^[1-9]\d*$/.test(text)) return `PID ${text}`;
    return `PID unknown: ${pidFile} does not hold one`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The holder writes the file just after taking the lock: a start that races it may not see it yet.
    return code === 'ENOENT' ? `PID unknown: no ${pidFile} yet` : `PID unknown: cannot read ${pidFile}: ${errorMessage(err)}`;
  }
}

function closeQuietly(db: Database.Database | undefined): void {
  try {
    // Closing ends the open transaction and with it the lock.
    db?.close();
  } catch {
    /* closing is all that is left to do */
  }
}

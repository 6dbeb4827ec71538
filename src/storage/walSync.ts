// The fsync of a group commit, off the event loop. With storage.sync = full a
// group is committed with SQLite's synchronous = NORMAL (the WAL frames are
// written, not yet synced) and then made durable by an fdatasync of the WAL file
// in libuv's thread pool; its waiters (the PUBACKs) are answered when that returns.
// SQLite's FULL would fsync inside COMMIT, blocking the event loop for the whole
// fsync (milliseconds on an SD card) so that nothing else (reading the next
// PUBLISH, forwarding to the cloud) runs meanwhile.
//
// Why this is as durable as FULL: a commit is a run of WAL frames ending in a
// commit frame, checksummed cumulatively; fsync(2) flushes the file's data (the
// inode, through any descriptor), so once it returns every frame written before
// it is on the card, the WAL header included. A cut before it loses only commits
// nobody was told about; NORMAL keeps the database consistent either way (it syncs
// the WAL before a checkpoint and the database after it, before the WAL is reused).
//
// One fdatasync at a time; commits made while one runs share the next one.
import { closeSync, fdatasync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDirSync } from './atomicFile.js';
import { type Deferred, deferred } from './deferred.js';

export class WalSync {
  private fd?: number;
  private running?: Promise<void>;
  private next?: Deferred;
  /** Syncs so far (tests, status). */
  syncs = 0;

  /** `databaseFile`: the SQLite file in WAL mode; its WAL is `<file>-wal`. */
  constructor(private readonly databaseFile: string) {}

  /** Resolves once everything written to the WAL before this call is on the card. */
  sync(): Promise<void> {
    if (!this.running) return (this.running = this.run());
    this.next ??= deferred();
    return this.next.promise;
  }

  /** Resolves when no sync is running or queued (before closing). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  /** Closes the WAL descriptor (after idle()). */
  close(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) closeSync(fd);
  }

  private run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let fd: number;
      try {
        fd = this.walFd();
      } catch (err) {
        this.finish();
        reject(err);
        return;
      }
      fdatasync(fd, (err) => {
        this.syncs++;
        // A descriptor that failed is reopened next time (the file may have been replaced).
        if (err) this.close();
        this.finish();
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Starts the sync the waiters gathered meanwhile, if any. */
  private finish(): void {
    this.running = undefined;
    const queued = this.next;
    this.next = undefined;
    if (!queued) return;
    this.running = this.run();
    this.running.then(queued.resolve, queued.reject);
  }

  /**
   * The WAL's descriptor, opened once. On opening, the directory is fsynced too:
   * a WAL created by a commit made with NORMAL has a name nothing synced yet.
   */
  private walFd(): number {
    if (this.fd !== undefined) return this.fd;
    fsyncDirSync(dirname(this.databaseFile));
    this.fd = openSync(`${this.databaseFile}-wal`, 'r');
    return this.fd;
  }
}

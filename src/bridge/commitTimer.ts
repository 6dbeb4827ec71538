// When the outbox commits on its own, without the daemon's group commit (unit
// tests, tools): new rows in a microtask or after a delay, deletions later.
// With the group commit, its beforeCommit hook decides instead (outbox.ts).

export interface Scheduled {
  cancel(): void;
}

export class CommitTimer {
  /** A microtask commit ran in this event-loop turn (reset in the turn's check phase). */
  private turnCommitted = false;

  /**
   * For new rows. Without a delay the first group of an event-loop turn commits
   * in a microtask, as soon as the code that queued it is done: aedes parses a
   * whole socket read synchronously, so a sensor's window is one group, and its
   * PUBACKs leave without waiting for the turn's check phase. Later groups in the
   * same turn (other sensors' reads) wait for the check phase and commit
   * together: at most two commits per turn however many sensors.
   */
  forInserts(delayMs: number, commit: () => void): Scheduled {
    if (delayMs > 0 || this.turnCommitted) return this.after(delayMs, commit);
    let cancelled = false;
    queueMicrotask(() => {
      if (cancelled) return;
      this.turnCommitted = true;
      setImmediate(() => (this.turnCommitted = false));
      commit();
    });
    return { cancel: () => (cancelled = true) };
  }

  /** `fn` after `delayMs` (in the check phase when 0); `unref`: a pending run does not keep the process alive. */
  after(delayMs: number, fn: () => void, unref = false): Scheduled {
    if (delayMs <= 0) {
      const handle = setImmediate(fn);
      return { cancel: () => clearImmediate(handle) };
    }
    const handle = setTimeout(fn, delayMs);
    if (unref) handle.unref();
    return { cancel: () => clearTimeout(handle) };
  }
}

// Storage on the status board: where the database is, whether commits succeed,
// and what the broker keeps in it. Unhealthy while commits fail: nothing new is
// acknowledged then.
import type { StorageConfig } from '../config/types.js';
import type { StatusBoard } from '../status.js';
import { type GroupCommit, isDiskFull } from './groupCommit.js';

/** What the broker keeps in the database (counted by the broker, which sits above storage). */
export interface StoredCounts {
  retained: number;
  sessions: number;
  queued: number;
}

export interface StorageStatus {
  /** False: the database was unusable and the daemon runs from memory. */
  persistent: boolean;
  file: string;
  sync: StorageConfig['sync'];
  writable: boolean;
  /** Why commits fail, in words (only while they do). */
  error?: string;
  /** Undefined until the broker has started. */
  broker: StoredCounts | undefined;
}

declare module '../status.js' {
  interface StatusMap {
    storage: StorageStatus;
  }
}

export interface StorageFacts {
  group: GroupCommit;
  file: string;
  persistent: boolean;
  sync: StorageConfig['sync'];
  storedCounts: () => StoredCounts | undefined;
}

export function registerStorageStatus(status: StatusBoard, facts: StorageFacts): void {
  const { group } = facts;
  status.register(
    'storage',
    () => ({
      persistent: facts.persistent,
      file: facts.file,
      sync: facts.sync,
      writable: !group.failing(),
      ...(group.failing() && group.lastError ? { error: failure(group.lastError) } : {}),
      broker: facts.storedCounts(),
    }),
    () => !group.failing(),
  );
}

function failure(err: Error): string {
  return isDiskFull(err) ? 'disk full: nothing new is acknowledged until space is freed' : `commit failed: ${err.message}`;
}

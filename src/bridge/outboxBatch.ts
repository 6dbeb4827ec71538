// What one commit of the outbox does to its table, inside the transaction: the
// deletions gathered since the last one, then the new rows against the bounds
// (bridge.queue.maxMessages/maxBytes and its overflow policy). Kept apart from
// outbox.ts, which decides when a commit runs and whom to tell afterwards.
import { type OutboxRow, type OutboxTable, rowBytes } from './outboxTable.js';

/** A row the cloud is done with: acknowledged (no reason), or dropped for the reason given. */
export interface PendingRemoval {
  id: number;
  bytes: number;
  reason?: 'ttl' | 'expired' | 'refused';
}

export interface OutboxBounds {
  maxMessages: number;
  maxBytes: number;
  overflow: 'drop-oldest' | 'reject-new';
}

export type CountedDrop = 'rejected' | 'overflow' | 'ttl' | 'expired' | 'refused';

export interface BatchResult {
  /** The new rows stored (they now have their ids). */
  committed: OutboxRow[];
  /** [messages, bytes] dropped, by reason. */
  dropped: Record<CountedDrop, [number, number]>;
  /** drop-oldest freed the head of the queue through this id (0: it did not). */
  droppedThrough: number;
  /** The queue's totals after the batch. */
  messages: number;
  bytes: number;
}

/** Call inside a transaction of `table`: `totals` are the queue's before the batch. */
export function applyBatch(
  table: OutboxTable,
  removals: PendingRemoval[],
  inserts: OutboxRow[],
  bounds: OutboxBounds,
  totals: { messages: number; bytes: number },
): BatchResult {
  const { maxMessages, maxBytes, overflow } = bounds;
  const result: BatchResult = {
    committed: [],
    dropped: { rejected: [0, 0], overflow: [0, 0], ttl: [0, 0], expired: [0, 0], refused: [0, 0] },
    droppedThrough: 0,
    ...totals,
  };
  const count = (reason: CountedDrop, bytes: number): void => {
    result.dropped[reason][0]++;
    result.dropped[reason][1] += bytes;
  };
  // Acknowledged ids are mostly consecutive (PUBACKs come in order, MQTT 3.1.1
  // section 4.6): one range DELETE per run of consecutive ids instead of one per row.
  if (removals.length > 1) removals.sort((a, b) => a.id - b.id);
  for (let i = 0; i < removals.length; ) {
    let j = i + 1;
    while (j < removals.length && removals[j]!.id === removals[j - 1]!.id + 1) j++;
    // Rows of the run already gone were dropped from the head of the queue
    // (drop-oldest or TTL, counted then): they are the lowest ids of the run.
    const missing = j - i - table.removeRange(removals[i]!.id, removals[j - 1]!.id);
    for (let k = i + missing; k < j; k++) {
      const r = removals[k]!;
      result.messages--;
      result.bytes -= r.bytes;
      if (r.reason) count(r.reason, r.bytes);
    }
    i = j;
  }
  for (const row of inserts) {
    const size = rowBytes(row);
    const full = result.messages + 1 > maxMessages || result.bytes + size > maxBytes;
    if (size > maxBytes || (full && overflow === 'reject-new')) {
      count('rejected', size);
      continue;
    }
    result.committed.push(row);
    result.messages++;
    result.bytes += size;
  }
  table.insert(result.committed);
  if (result.messages > maxMessages || result.bytes > maxBytes) {
    // drop-oldest: free the head of the queue until the bounds hold again.
    result.droppedThrough = table.dropHead((r) => {
      if (result.messages <= maxMessages && result.bytes <= maxBytes) return false;
      result.messages--;
      result.bytes -= r.bytes;
      count('overflow', r.bytes);
      return true;
    });
  }
  return result;
}

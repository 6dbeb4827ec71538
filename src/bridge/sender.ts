// Moves rows from the outbox to the cloud while connected: oldest first, at most
// maxInflight unacknowledged. A row is deleted only when the cloud acknowledged
// it; after a disconnect everything still in the table is sent again from the
// oldest row (duplicates are possible, loss is not: MQTT QoS 1 "at least once").
import type { DrainLimiter } from './drainLimiter.js';
import type { Outbox, OutboxRow } from './outbox.js';
import { CloudRefusal } from './rowPublisher.js';

/** Sends one row; `nowMs` is when the sender found it still valid (what an MQTT 5 expiry counts down from). */
export type PublishRow = (row: OutboxRow, done: (err?: Error) => void, nowMs: number) => void;

/** Rows read from SQLite per query. */
const READ_BATCH = 512;
/** Rows held in memory ahead of sending; beyond that they are re-read from SQLite. */
const BUFFER_MAX = 4096;

export interface OutboxSenderOptions {
  outbox: Outbox;
  /** bridge.maxInflight: rows sent and not yet acknowledged, at most. */
  maxInflight: number;
  /** Told about each row the cloud acknowledged (and that was then deleted). */
  onDelivered: (row: OutboxRow) => void;
  nowMs: () => number;
  /** bridge.drainRatePerSec (absent or unlimited: as fast as the window allows). */
  limiter?: DrainLimiter;
  /** Told about each row the cloud refused (the bridge logs it, at a limited rate). */
  onRefused?: (row: OutboxRow, refusal: CloudRefusal) => void;
}

export class OutboxSender {
  private buffer: OutboxRow[] = [];
  /** Index of the next row of `buffer` to send (avoids O(n) shifts). */
  private head = 0;
  /** Highest id read into the buffer (or sent). */
  private readThrough = 0;
  /** True when every committed row with id > readThrough is known to be absent. */
  private caughtUp = false;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private generation = 0;
  private publish?: PublishRow;
  private pumping = false;
  private pumpScheduled = false;
  private pumpQueued = false;

  private readonly outbox: Outbox;
  private readonly maxInflight: number;
  private readonly onDelivered: OutboxSenderOptions['onDelivered'];
  private readonly nowMs: () => number;
  private readonly limiter?: DrainLimiter;
  private readonly onRefused?: OutboxSenderOptions['onRefused'];

  constructor(options: OutboxSenderOptions) {
    ({ outbox: this.outbox, maxInflight: this.maxInflight, onDelivered: this.onDelivered, nowMs: this.nowMs } = options);
    this.limiter = options.limiter;
    this.onRefused = options.onRefused;
  }

  get inFlight(): number {
    return this.inflight;
  }

  /** Resolves once nothing is in flight (or the connection was detached). */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Connected: start sending from the oldest row. */
  attach(publish: PublishRow): void {
    this.reset();
    this.publish = publish;
    this.pump();
  }

  /** Disconnected: forget what was in flight (it stays in the table), commit pending deletions. */
  detach(): void {
    this.reset();
    this.publish = undefined;
    this.outbox.flush();
  }

  /** Called by the outbox after each commit. */
  committed(rows: OutboxRow[], droppedThroughId: number): void {
    if (droppedThroughId > 0 && this.buffer.length > this.head) {
      this.buffer = this.buffer.slice(this.head).filter((r) => r.id > droppedThroughId);
      this.head = 0;
    }
    if (this.caughtUp && this.publish) {
      if (this.head > 1024) {
        this.buffer = this.buffer.slice(this.head);
        this.head = 0;
      }
      for (const row of rows) {
        if (row.id <= this.readThrough) continue;
        if (this.buffer.length - this.head >= BUFFER_MAX) {
          this.caughtUp = false; // the rest is read back from SQLite later
          break;
        }
        this.buffer.push(row);
        this.readThrough = row.id;
      }
    }
    // With more than half the window in flight the PUBACKs refill it (send()): new
    // rows then leave with the next refill, in one larger write, not one per commit.
    if (this.inflight <= this.maxInflight / 2) this.pumpAfterPubacks();
  }

  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const now = this.nowMs();
      while (this.publish && this.inflight < this.maxInflight) {
        if (this.head >= this.buffer.length) {
          this.buffer = [];
          this.head = 0;
          if (this.caughtUp) break;
          const rows = this.outbox.read(this.readThrough, READ_BATCH);
          if (rows.length < READ_BATCH) this.caughtUp = true;
          if (rows.length === 0) break;
          this.buffer = rows;
          this.readThrough = rows[rows.length - 1].id;
        }
        const row = this.buffer[this.head];
        const expiry = this.outbox.expiry(row, now);
        if (expiry) {
          this.head++;
          this.outbox.expired(row, expiry);
          continue;
        }
        if (this.limiter?.limited && this.limiter.take(1) === 0) {
          this.limiter.wakeWhenReady(() => this.pump());
          break;
        }
        this.head++;
        this.send(row, now);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * After a group commit the sensors' PUBACKs go first, so that the sensors send
   * their next messages while the uplink publishes are encoded: those PUBACKs are
   * written one microtask after the commit (broker.runInterceptors) and leave in
   * the nextTick that uncorks each socket (mqtt-packet); a tick queued from a
   * microtask queued now runs after those.
   */
  private pumpAfterPubacks(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() =>
      process.nextTick(() => {
        this.pumpQueued = false;
        this.pump();
      }),
    );
  }

  /**
   * PUBACKs arrive in bursts: refill the window once per event-loop turn, so the
   * next publishes leave in one socket write (mqtt-packet corks until nextTick).
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private send(row: OutboxRow, now: number): void {
    const generation = this.generation;
    this.inflight++;
    this.publish!(
      row,
      (err) => {
        if (generation !== this.generation) return; // a previous connection's late callback
        this.inflight--;
        if (this.inflight === 0) this.wakeIdle();
        if (err instanceof CloudRefusal) {
          // Refused for good (e.g. the cloud's ACL): dropped and counted, or it would come back at every reconnect.
          this.outbox.refused(row);
          this.onRefused?.(row, err);
        } else if (err) {
          return; // the connection is failing; the row is sent again after reconnecting
        } else {
          this.outbox.ack(row);
          this.onDelivered(row);
        }
        // Refill the window in bursts (once half of it is free): fewer, larger socket
        // writes; each write is a syscall, which costs more than the MQTT encoding.
        if (this.inflight <= this.maxInflight / 2) this.schedulePump();
      },
      now,
    );
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private reset(): void {
    this.limiter?.cancel();
    this.wakeIdle();
    this.generation++;
    this.buffer = [];
    this.head = 0;
    this.readThrough = 0;
    this.caughtUp = false;
    this.inflight = 0;
  }
}

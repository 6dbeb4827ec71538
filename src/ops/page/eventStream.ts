// Live updates for open pages: Server-Sent Events on GET /api/events, from the
// same listener. A `status` event every STATUS_EVERY_MS (and shortly after a
// client connects or leaves) and a `sample` event per chart sample, only while
// at least one page is open (no timer, no listener otherwise). A
// stream whose session has ended (logout, revocation, expiry) is closed.
import type { ServerResponse } from 'node:http';
import type { GatewayClock } from '../../clock/gatewayClock.js';
import type { TimerHandle } from '../../clock/timeSource.js';
import type { Sample, StatusSampler } from '../sampler.js';

export const STATUS_EVERY_MS = 2_000;
/** A client connecting or leaving sends a status this soon (changes within it are sent together). */
export const CHANGE_DEBOUNCE_MS = 200;
const MAX_STREAMS = 8;

export interface EventStreamDeps {
  clock: Pick<GatewayClock, 'setInterval' | 'setTimer'>;
  status: () => unknown;
  sampler?: Pick<StatusSampler, 'onSample'>;
  /** Subscribes to changes worth showing at once (clients connecting and leaving); returns an unsubscribe. */
  changes?: (fn: () => void) => () => void;
}

interface Stream {
  res: ServerResponse;
  /** False once the session behind the stream is gone. */
  alive: () => boolean;
}

export class EventStream {
  private readonly streams = new Set<Stream>();
  private timer?: TimerHandle;
  private soon?: TimerHandle;
  private unsubscribe: Array<() => void> = [];

  constructor(private readonly deps: EventStreamDeps) {}

  get open(): number {
    return this.streams.size;
  }

  /** Takes over the response: headers, then events until the page or the daemon goes. */
  attach(res: ServerResponse, headers: Record<string, string>, alive: () => boolean): void {
    if (this.streams.size >= MAX_STREAMS) this.close(this.streams.values().next().value!);
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.socket?.setNoDelay(true);
    const stream: Stream = { res, alive };
    this.streams.add(stream);
    res.once('close', () => this.forget(stream));
    res.write(`retry: 2000\n\n`);
    res.write(eventText('status', this.deps.status()));
    if (!this.timer) this.begin();
  }

  stop(): void {
    for (const s of [...this.streams]) this.close(s);
    this.end();
  }

  private begin(): void {
    this.timer = this.deps.clock.setInterval(STATUS_EVERY_MS, () => this.broadcast('status', this.deps.status()));
    const sample = this.deps.sampler?.onSample((s: Sample) => this.broadcast('sample', s));
    const change = this.deps.changes?.(() => (this.soon ??= this.deps.clock.setTimer(CHANGE_DEBOUNCE_MS, () => this.statusNow())));
    this.unsubscribe = [sample, change].filter((u): u is () => void => u !== undefined);
  }

  private statusNow(): void {
    this.soon = undefined;
    this.broadcast('status', this.deps.status());
  }

  private end(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.soon?.cancel();
    this.soon = undefined;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }

  private broadcast(event: string, data: unknown): void {
    const text = eventText(event, data);
    for (const s of [...this.streams]) {
      if (!s.alive()) this.close(s);
      else s.res.write(text);
    }
  }

  private close(stream: Stream): void {
    this.forget(stream);
    stream.res.end();
  }

  private forget(stream: Stream): void {
    this.streams.delete(stream);
    if (this.streams.size === 0) this.end();
  }
}

/** One event, serialised once for every stream (JSON has no raw newlines: one data: line carries it). */
function eventText(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

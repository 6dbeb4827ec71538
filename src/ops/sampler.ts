// The status page's chart data: every few seconds one sample of counters the
// daemon keeps anyway (clients, messages in/out, bridge queue and drain,
// authentication results by reason), as rates, into a bounded ring in memory.
// Nothing is written to disk and the ring does not grow: each column is a
// preallocated Float64Array (720 samples x 14 columns = 80 KiB at the
// default http.sampleIntervalSec of 5 s). It runs
// from start-up, so the charts cover the last hour the first time the page opens;
// one sample reads ~20 numbers (docs/benchmarks.md: well under 0.01% of a core).
import { REASONS } from '../auth/reasons.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import type { Metrics } from '../metrics.js';
import type { StatusMap } from '../status.js';

export const SAMPLE_INTERVAL_MS = 5_000;
/** The ring keeps the last hour: 720 samples at the default 5 s. */
export function capacityFor(intervalMs: number): number {
  return Math.min(3600, Math.ceil(3_600_000 / intervalMs));
}

/** Authentication outcomes charted, each from `edgegate_auth_attempts_total{result,reason}`. */
const AUTH_SERIES = {
  authAccepted: ['accepted', 'VERIFIED'],
  authCacheHit: ['accepted', 'CACHED'],
  authBadSignature: ['refused', 'JWT_SIGNATURE'],
  authExpired: ['refused', 'JWT_EXPIRED'],
  authRevoked: ['refused', 'JWT_REVOKED'],
  authRateLimited: ['refused', 'RATE_LIMITED'],
} as const;

/** The columns of the ring; rates are per second over the sample interval. */
export const SAMPLE_COLUMNS = [
  't',
  'clients',
  'messagesInPerSec',
  'messagesOutPerSec',
  'queueDepth',
  'drainPerSec',
  ...(Object.keys(AUTH_SERIES) as Array<keyof typeof AUTH_SERIES>),
  'authOtherRefused',
  'bridgeConnected',
] as const;
export type SampleColumn = (typeof SAMPLE_COLUMNS)[number];
export type Sample = Record<SampleColumn, number>;

export interface SamplerDeps {
  clock: Pick<GatewayClock, 'now' | 'monotonic' | 'setInterval'>;
  metrics: Metrics;
  /** The status board, as far as the charts read it: the bridge's state and queue depth. */
  status: { read(name: 'bridge'): Partial<Pick<StatusMap['bridge'], 'state' | 'queue'>> | undefined };
  connectedClients: () => number;
  intervalMs?: number;
  capacity?: number;
}

/** A rate column: the per-second change of the sum of some counters (several: the other refusals). */
interface RateSource {
  column: SampleColumn;
  counters: ReadonlyArray<{ readonly value: number }>;
  /** The sum at the previous sample. */
  last: number;
}

function rateOf(column: SampleColumn, counters: ReadonlyArray<{ readonly value: number }>): RateSource {
  return { column, counters, last: sum(counters) };
}

function sum(counters: ReadonlyArray<{ readonly value: number }>): number {
  let total = 0;
  for (const c of counters) total += c.value;
  return total;
}

/** The bridge's state and the (sampled) time it entered it: the page shows "waiting since 12:01:05". */
export interface ObservedState {
  state: string;
  sinceMs: number;
}

export class StatusSampler implements Component {
  readonly name = 'status-sampler';
  readonly intervalMs: number;
  readonly capacity: number;
  private columns: Float64Array[] = [];
  private head = 0;
  private size = 0;
  private timer?: TimerHandle;
  private lastMono = 0;
  private rates: RateSource[] = [];
  private bridge?: ObservedState;
  private readonly listeners = new Set<(s: Sample) => void>();

  constructor(private readonly deps: SamplerDeps) {
    this.intervalMs = deps.intervalMs ?? SAMPLE_INTERVAL_MS;
    this.capacity = deps.capacity ?? capacityFor(this.intervalMs);
  }

  async start(): Promise<void> {
    const m = this.deps.metrics;
    this.columns = SAMPLE_COLUMNS.map(() => new Float64Array(this.capacity));
    this.head = 0;
    this.size = 0;
    // Counter children taken once: a sample then reads fields, no label lookups.
    const charted = new Set<string>(
      Object.values(AUTH_SERIES)
        .filter(([result]) => result === 'refused')
        .map(([, reason]) => reason),
    );
    this.rates = [
      rateOf('messagesInPerSec', [m.messagesReceived]),
      rateOf('messagesOutPerSec', [m.messagesDelivered]),
      rateOf('drainPerSec', [m.bridgeForwarded.labels('out')]),
      ...Object.entries(AUTH_SERIES).map(([column, [result, reason]]) => rateOf(column as SampleColumn, [m.authAttempts.labels(result, reason)])),
      rateOf(
        'authOtherRefused',
        Object.keys(REASONS)
          .filter((reason) => !charted.has(reason))
          .map((reason) => m.authAttempts.labels('refused', reason)),
      ),
    ];
    this.lastMono = this.deps.clock.monotonic();
    this.observeBridge(this.deps.status.read('bridge')?.state, this.deps.clock.now());
    this.timer = this.deps.clock.setInterval(this.intervalMs, () => this.sample());
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    this.listeners.clear();
  }

  /** Takes one sample now (the timer calls this; tests call it after moving the clock). */
  sample(): Sample {
    const mono = this.deps.clock.monotonic();
    const seconds = Math.max(0.001, (mono - this.lastMono) / 1000);
    this.lastMono = mono;
    const bridge = this.deps.status.read('bridge');
    const now = this.deps.clock.now();
    this.observeBridge(bridge?.state, now);
    const sample = {
      t: now,
      clients: this.deps.connectedClients(),
      queueDepth: bridge?.queue?.messages ?? 0,
      bridgeConnected: bridge?.state === 'connected' ? 1 : 0,
    } as Sample;
    for (const r of this.rates) {
      const total = sum(r.counters);
      sample[r.column] = Math.max(0, (total - r.last) / seconds);
      r.last = total;
    }
    for (const [i, c] of SAMPLE_COLUMNS.entries()) this.columns[i]![this.head] = sample[c];
    this.head = (this.head + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    for (const listener of this.listeners) listener(sample);
    return sample;
  }

  /** Every sample kept, oldest first, column by column (what uPlot takes). */
  series(): Record<SampleColumn, number[]> {
    const out = {} as Record<SampleColumn, number[]>;
    const start = (this.head - this.size + this.capacity) % this.capacity;
    SAMPLE_COLUMNS.forEach((c, i) => {
      const col = this.columns[i]!;
      const values = new Array<number>(this.size);
      for (let k = 0; k < this.size; k++) values[k] = col[(start + k) % this.capacity]!;
      out[c] = values;
    });
    return out;
  }

  count(): number {
    return this.size;
  }

  /** The bridge state seen at the last sample and when it was first seen (undefined: no bridge). */
  bridgeState(): ObservedState | undefined {
    return this.bridge;
  }

  /** Called with each new sample (the page's live stream); returns an unsubscribe. */
  onSample(listener: (s: Sample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private observeBridge(state: string | undefined, nowMs: number): void {
    if (state === undefined) this.bridge = undefined;
    else if (this.bridge?.state !== state) this.bridge = { state, sinceMs: nowMs };
  }
}

// A small Prometheus registry: counters and gauges with labels, printed in the
// text exposition format 0.0.4. It replaces prom-client, whose import alone cost
// 5-6 MiB of RSS (cluster, perf_hooks, worker_threads, tdigest...) on a 512 MB Pi.
// The API is the subset of prom-client's the daemon and its tests use, with the
// same output: metric blocks in registration order separated by blank lines,
// series in the order their label sets were first seen, labels in declaration order.

export type LabelValue = string | number;
export type Labels<L extends string> = Partial<Record<L, LabelValue>>;
export interface Sample {
  labels: Record<string, LabelValue>;
  value: number;
}
export interface MetricJSON {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  values: Sample[];
}
export interface MetricOptions<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers?: Registry[];
}
/** Runs at every scrape, before the text is built: sets values that are read on demand. */
export type Collector = () => void | Promise<void>;

export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  private readonly byName = new Map<string, Metric<string>>();
  private readonly collectors: Collector[] = [];

  registerMetric(metric: Metric<string>): void {
    if (this.byName.has(metric.name) && this.byName.get(metric.name) !== metric)
      throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.byName.set(metric.name, metric);
  }

  addCollector(collect: Collector): void {
    this.collectors.push(collect);
  }

  /** The whole registry as Prometheus text; collectors run first, one after the other. */
  async metrics(): Promise<string> {
    await this.collect();
    return [...this.byName.values()].map((m) => m.text()).join('\n\n') + '\n';
  }

  async getMetricsAsJSON(): Promise<MetricJSON[]> {
    await this.collect();
    return Promise.all([...this.byName.values()].map((m) => m.get()));
  }

  getSingleMetric(name: string): Metric<string> | undefined {
    return this.byName.get(name);
  }

  /** One metric's text as it stands (collectors do not run: they serve whole scrapes). */
  async getSingleMetricAsString(name: string): Promise<string> {
    const metric = this.byName.get(name);
    if (!metric) throw new Error(`no metric named ${name}`);
    return metric.text();
  }

  private async collect(): Promise<void> {
    for (const collect of this.collectors) await collect();
  }
}

// One series: a value and its label values. Children are cached per label set
// and handed out as they are, so code that counts often takes its child once
// (`.labels(...)`) and from then on only adds to a field. A series is printed
// once written to (an `inc(0)` shows it at 0), as prom-client does.
class Series {
  value = 0;
  written = false;
  constructor(readonly labelValues: readonly (LabelValue | undefined)[]) {}
}

export class CounterChild extends Series {
  inc(amount = 1): void {
    this.value += checkedIncrement(amount);
    this.written = true;
  }
}

export class GaugeChild extends Series {
  set(value: number): void {
    this.value = checkedNumber(value);
    this.written = true;
  }
  inc(amount = 1): void {
    this.value += checkedNumber(amount);
    this.written = true;
  }
  dec(amount = 1): void {
    this.inc(-checkedNumber(amount));
  }
}

export abstract class Metric<L extends string, C extends Series = Series> {
  abstract readonly type: 'counter' | 'gauge';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  /** The series without labels, kept in a field: no lookup on the hot path. */
  protected readonly unlabelled: C;
  private readonly children = new Map<string | undefined, C>();

  constructor(options: MetricOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
    this.unlabelled = this.newSeries([]);
    // A metric without labels always has its one series (0 until changed); a
    // labelled one prints only the label sets written so far.
    this.unlabelled.written = this.labelNames.length === 0;
    for (const registry of options.registers ?? []) registry.registerMetric(this);
  }

  protected abstract newSeries(labelValues: readonly (LabelValue | undefined)[]): C;

  /** The child for these label values, in the order of `labelNames`. */
  labels(...values: LabelValue[]): C {
    return this.child(values);
  }

  async get(): Promise<MetricJSON> {
    return { name: this.name, help: this.help, type: this.type, values: this.series().map((s) => ({ labels: this.labelObject(s), value: s.value })) };
  }

  text(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const s of this.series()) {
      const pairs = this.labelNames.flatMap((n, i) => (s.labelValues[i] === undefined ? [] : [`${n}="${escapeLabelValue(String(s.labelValues[i]))}"`]));
      lines.push(`${this.name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(s.value)}`);
    }
    return lines.join('\n');
  }

  protected seriesFor(labels: Labels<L> | undefined): C {
    if (labels === undefined) return this.unlabelled;
    for (const n in labels)
      if (!this.labelNames.includes(n as L)) throw new Error(`Added label "${n}" is not included in initial labelset: ${JSON.stringify(this.labelNames)}`);
    // A label left out is printed as absent (as prom-client does).
    return this.child(this.labelNames.map((n) => labels[n]));
  }

  private child(values: readonly (LabelValue | undefined)[]): C {
    if (values.length !== this.labelNames.length)
      throw new Error(`Invalid number of label values (${values.length}) for label names (${this.labelNames.length}) of ${this.name}`);
    const key = values.length === 1 ? keyPart(values[0]) : seriesKey(values);
    let s = this.children.get(key);
    if (!s) this.children.set(key, (s = this.newSeries(values)));
    return s;
  }

  private series(): C[] {
    return [this.unlabelled, ...this.children.values()].filter((s) => s.written);
  }

  private labelObject(s: Series): Record<string, LabelValue> {
    const out: Record<string, LabelValue> = {};
    this.labelNames.forEach((n, i) => {
      const v = s.labelValues[i];
      if (v !== undefined) out[n] = v;
    });
    return out;
  }
}

// Label-set keys, cheap and exact: one label's value is its own key; several are
// length-prefixed ("5:hello3:abc"), so no two label sets can share a key.
function keyPart(v: LabelValue | undefined): string | undefined {
  return v === undefined ? undefined : String(v);
}

function seriesKey(values: readonly (LabelValue | undefined)[]): string {
  let key = '';
  for (const v of values) key += v === undefined ? '-' : `${String(v).length}:${v}`;
  return key;
}

function checkedIncrement(n: number): number {
  if (!Number.isFinite(n)) throw new TypeError(`Value is not a valid number: ${n}`);
  if (n < 0) throw new Error('It is not possible to decrease a counter');
  return n;
}

function checkedNumber(n: number): number {
  if (typeof n !== 'number') throw new TypeError(`Value is not a valid number: ${String(n)}`);
  return n;
}

export class Counter<L extends string = never> extends Metric<L, CounterChild> {
  readonly type = 'counter';

  /** The value of the series without labels (read by the status page's sampler). */
  get value(): number {
    return this.unlabelled.value;
  }

  protected newSeries(labelValues: readonly (LabelValue | undefined)[]): CounterChild {
    return new CounterChild(labelValues);
  }

  inc(labelsOrAmount?: Labels<L> | number, amount?: number): void {
    if (labelsOrAmount === undefined) {
      // The hot path (every MQTT message): an addition to a field, no checks.
      this.unlabelled.value += 1;
      this.unlabelled.written = true;
    } else if (typeof labelsOrAmount === 'number') this.seriesFor(undefined).inc(labelsOrAmount);
    else this.seriesFor(labelsOrAmount).inc(amount);
  }
}

export class Gauge<L extends string = never> extends Metric<L, GaugeChild> {
  readonly type = 'gauge';

  protected newSeries(labelValues: readonly (LabelValue | undefined)[]): GaugeChild {
    return new GaugeChild(labelValues);
  }

  set(labelsOrValue: Labels<L> | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.seriesFor(undefined).set(labelsOrValue);
    else this.seriesFor(labelsOrValue).set(value as number);
  }

  inc(labelsOrAmount?: Labels<L> | number, amount?: number): void {
    if (typeof labelsOrAmount === 'object') this.seriesFor(labelsOrAmount).inc(amount);
    else this.seriesFor(undefined).inc(labelsOrAmount);
  }

  dec(labelsOrAmount?: Labels<L> | number, amount?: number): void {
    if (typeof labelsOrAmount === 'object') this.seriesFor(labelsOrAmount).dec(amount);
    else this.seriesFor(undefined).dec(labelsOrAmount);
  }
}

/** Integers plain, JavaScript's shortest round-trip form otherwise; the format's spellings of infinities and NaN. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

// HELP text escapes backslash and newline; label values also the double quote.
function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(s: string): string {
  return escapeHelp(s).replace(/"/g, '\\"');
}

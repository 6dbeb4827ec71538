// The in-house Prometheus registry: text exposition format 0.0.4, counters,
// gauges, labelled children, and the process metrics computed at scrape time.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Metrics } from '../../src/metrics.js';
import { Counter, formatValue, Gauge, Registry } from '../../src/prometheus.js';

/** Sample value of one series line of a scrape. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('prometheus registry', () => {
  let registry: Registry;
  beforeEach(() => {
    registry = new Registry();
  });

  it('prints HELP, TYPE and one line per series, blocks separated by blank lines', async () => {
    const c = new Counter({ name: 'a_total', help: 'Things counted', registers: [registry] });
    const g = new Gauge({ name: 'b', help: 'A level', labelNames: ['x'] as const, registers: [registry] });
    c.inc();
    c.inc(2);
    g.set({ x: 'one' }, 1.5);
    g.labels('two').set(-3);
    assert.equal(registry.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(
      await registry.metrics(),
      '# HELP a_total Things counted\n# TYPE a_total counter\na_total 3\n\n# HELP b A level\n# TYPE b gauge\nb{x="one"} 1.5\nb{x="two"} -3\n',
    );
  });

  it('shows unlabelled metrics at 0 from the start, labelled ones once a label set is written', async () => {
    new Counter({ name: 'plain_total', help: 'h', registers: [registry] });
    const labelled = new Counter({ name: 'labelled_total', help: 'h', labelNames: ['port', 'result'] as const, registers: [registry] });
    const child = labelled.labels('p', 'invalid');
    let text = await registry.metrics();
    assert.equal(sample(text, 'plain_total'), 0);
    assert.match(text, /# HELP labelled_total h\n# TYPE labelled_total counter\n$/, 'only HELP and TYPE');
    child.inc(0);
    text = await registry.metrics();
    assert.equal(sample(text, 'labelled_total{port="p",result="invalid"}'), 0);
  });

  it('prints labels in declaration order and leaves out a label not given', async () => {
    const c = new Counter({ name: 'c_total', help: 'h', labelNames: ['result', 'reason'] as const, registers: [registry] });
    c.inc({ reason: 'R', result: 'refused' });
    c.inc({ result: 'accepted' }, 2);
    const text = await registry.metrics();
    assert.equal(sample(text, 'c_total{result="refused",reason="R"}'), 1);
    assert.equal(sample(text, 'c_total{result="accepted"}'), 2);
  });

  it('escapes label values (backslash, double quote, newline) and HELP (backslash, newline)', async () => {
    const g = new Gauge({ name: 'e', help: 'line one\nback\\slash "quoted"', labelNames: ['v'] as const, registers: [registry] });
    g.set({ v: 'a\\b"c\nd' }, 1);
    const text = await registry.metrics();
    assert.ok(text.includes('# HELP e line one\\nback\\\\slash "quoted"\n'), text);
    assert.ok(text.includes('e{v="a\\\\b\\"c\\nd"} 1\n'), text);
  });

  it('formats numbers as prom-client does, with the format spellings of infinities and NaN', () => {
    assert.equal(formatValue(42), '42');
    assert.equal(formatValue(-0), '0');
    assert.equal(formatValue(0.1), '0.1');
    assert.equal(formatValue(1e21), '1e+21');
    assert.equal(formatValue(Infinity), '+Inf');
    assert.equal(formatValue(-Infinity), '-Inf');
    assert.equal(formatValue(NaN), 'NaN');
  });

  it('counters refuse to go down and refuse non-numbers', () => {
    const c = new Counter({ name: 'n_total', help: 'h', labelNames: ['k'] as const, registers: [registry] });
    assert.throws(() => c.inc(-1), /not possible to decrease a counter/);
    assert.throws(() => c.inc({ k: 'x' }, -1), /not possible to decrease a counter/);
    assert.throws(() => c.labels('x').inc(-0.5), /not possible to decrease a counter/);
    assert.throws(() => c.inc(NaN), /not a valid number/);
    assert.throws(() => c.inc({ other: 'x' } as never), /not included in initial labelset/);
    assert.throws(() => c.labels('x', 'y'), /Invalid number of label values/);
  });

  it('gauges set, inc and dec, with and without labels and through children', async () => {
    const g = new Gauge({ name: 'g', help: 'h', registers: [registry] });
    g.set(10);
    g.inc();
    g.inc(4);
    g.dec();
    g.dec(2);
    const l = new Gauge({ name: 'gl', help: 'h', labelNames: ['port'] as const, registers: [registry] });
    l.set({ port: 'a' }, 5);
    l.inc({ port: 'a' });
    l.dec({ port: 'a' }, 3);
    const b = l.labels('b');
    b.set(1);
    b.inc(2);
    b.dec();
    assert.throws(() => g.set(undefined as unknown as number), /not a valid number/);
    const text = await registry.metrics();
    assert.equal(sample(text, 'g'), 12);
    assert.equal(sample(text, 'gl{port="a"}'), 3);
    assert.equal(sample(text, 'gl{port="b"}'), 2);
  });

  it('hands out the same child for the same label values, also through inc(labels)', async () => {
    const c = new Counter({ name: 'k_total', help: 'h', labelNames: ['a', 'b'] as const, registers: [registry] });
    assert.equal(c.labels('x', 'y'), c.labels('x', 'y'));
    assert.notEqual(c.labels('x', 'y'), c.labels('x,y', ''));
    c.labels('x', 'y').inc();
    c.inc({ a: 'x', b: 'y' }, 2);
    const one = new Counter({ name: 'one_total', help: 'h', labelNames: ['n'] as const, registers: [registry] });
    one.labels(1).inc();
    one.inc({ n: '1' });
    const text = await registry.metrics();
    assert.equal(sample(text, 'k_total{a="x",b="y"}'), 3);
    assert.equal(sample(text, 'one_total{n="1"}'), 2, 'a number and its string are one label value');
  });

  it('refuses two metrics of one name, and runs collectors at scrape', async () => {
    new Gauge({ name: 'dup', help: 'h', registers: [registry] });
    assert.throws(() => new Gauge({ name: 'dup', help: 'h', registers: [registry] }), /already been registered/);
    const g = new Gauge({ name: 'scraped', help: 'h', registers: [registry] });
    let scrapes = 0;
    registry.addCollector(async () => {
      await new Promise((r) => setImmediate(r));
      g.set(++scrapes);
    });
    assert.equal(scrapes, 0, 'nothing runs before a scrape');
    assert.equal(sample(await registry.metrics(), 'scraped'), 1);
    assert.equal(sample(await registry.metrics(), 'scraped'), 2);
  });

  it('answers the queries the tests use: single metric, its labels and values, JSON', async () => {
    const c = new Counter({ name: 'q_total', help: 'h', labelNames: ['port', 'result'] as const, registers: [registry] });
    c.labels('p', 'ok').inc(3);
    assert.deepEqual(registry.getSingleMetric('q_total')?.labelNames, ['port', 'result']);
    assert.deepEqual((await registry.getSingleMetric('q_total')!.get()).values, [{ labels: { port: 'p', result: 'ok' }, value: 3 }]);
    assert.equal(await registry.getSingleMetricAsString('q_total'), '# HELP q_total h\n# TYPE q_total counter\nq_total{port="p",result="ok"} 3');
    assert.deepEqual(
      (await registry.getMetricsAsJSON()).map((m) => [m.name, m.type]),
      [['q_total', 'counter']],
    );
  });
});

describe('process metrics', () => {
  it('are computed at scrape, with prom-client names, and plausible', async () => {
    const registry = new Metrics().registry;
    const first = await registry.metrics();
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_cpu_system_seconds_total',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
      'nodejs_version_info',
    ])
      assert.match(first, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name);
    assert.ok(sample(first, 'process_resident_memory_bytes')! > 0);
    assert.ok(sample(first, 'nodejs_heap_size_used_bytes')! > 0);
    assert.ok(sample(first, 'nodejs_heap_size_total_bytes')! >= sample(first, 'nodejs_heap_size_used_bytes')!);
    const lag = sample(first, 'nodejs_eventloop_lag_seconds')!;
    assert.ok(lag > 0 && lag < 5, `lag ${lag}`);
    const start = sample(first, 'process_start_time_seconds')!;
    assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) <= 1, 'start time');
    const [major, minor, patch] = process.versions.node.split('.');
    assert.equal(sample(first, `nodejs_version_info{version="v${process.versions.node}",major="${major}",minor="${minor}",patch="${patch}"}`), 1);
    if (existsSync('/proc/self/status')) {
      assert.ok(sample(first, 'process_virtual_memory_bytes')! >= sample(first, 'process_resident_memory_bytes')!);
      assert.ok(sample(first, 'process_heap_bytes')! > 0);
      assert.ok(sample(first, 'process_open_fds')! > 2);
      assert.ok(sample(first, 'process_max_fds')! >= sample(first, 'process_open_fds')!);
    }

    // Burn some CPU: the totals grow (and stay the sum of user and system).
    const cpuBefore = sample(first, 'process_cpu_seconds_total')!;
    // Until the process has used 5 ms more CPU (what the metric reads), not for a stretch of wall time.
    const cpuAtStart = process.cpuUsage();
    const used = (): number => ((u) => u.user + u.system)(process.cpuUsage(cpuAtStart));
    let x = 0;
    while (used() < 5000) x += Math.sqrt(x + 1);
    assert.ok(x > 0);
    const second = await registry.metrics();
    const cpuAfter = sample(second, 'process_cpu_seconds_total')!;
    assert.ok(cpuAfter > cpuBefore, `${cpuAfter} > ${cpuBefore}`);
    const sum = sample(second, 'process_cpu_user_seconds_total')! + sample(second, 'process_cpu_system_seconds_total')!;
    assert.ok(Math.abs(sum - cpuAfter) < 1e-6);
  });

  it('are absent with processMetrics: false', async () => {
    const text = await new Metrics({ processMetrics: false }).registry.metrics();
    assert.doesNotMatch(text, /^# TYPE (process|nodejs)_/m);
  });
});

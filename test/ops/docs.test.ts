// docs/install.md documents every metric of the registry and every $SYS topic.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { HealthReport } from '../../src/health.js';
import { Metrics } from '../../src/metrics.js';
import { sysTopicValues } from '../../src/ops/sysTopics.js';

const DOC = readFileSync(new URL('../../docs/install.md', import.meta.url), 'utf8');

describe('docs/install.md', () => {
  it('has a row for every edgegate_ metric, with its labels', async () => {
    const registry = new Metrics({ processMetrics: false }).registry;
    const metrics = await registry.getMetricsAsJSON();
    assert.ok(metrics.length > 10);
    const problems: string[] = [];
    for (const m of metrics) {
      const row = DOC.split('\n').find((l) => l.startsWith(`| \`${m.name}\` |`));
      if (!row) {
        problems.push(`${m.name}: no row`);
        continue;
      }
      // The declared label names (kept on the metric object).
      const labels = registry.getSingleMetric(m.name)?.labelNames ?? [];
      for (const label of labels) if (!row.includes(`\`${label}\``)) problems.push(`${m.name}: label ${label} undocumented`);
    }
    assert.deepEqual(problems, []);
  });

  it('lists every $SYS/edgegate topic', () => {
    const topics = sysTopicValues({
      status: 'ok',
      healthy: true,
      version: '1',
      pid: 1,
      uptimeSec: 1,
      time: '',
      listeners: {},
      clientsConnected: 0,
      bridge: { state: 'connected', queue: { messages: 0 } },
      clock: { status: 'synced', offsetSec: 0 },
      serial: { ports: [{ name: 'x', state: 'open' }] },
      storage: { persistent: true },
    } as HealthReport);
    const missing = [...topics.keys()].map((t) => `$SYS/edgegate/${t.replace('serial/x/', 'serial/<name>/')}`).filter((t) => !DOC.includes(`\`${t}\``));
    assert.deepEqual(missing, []);
    assert.ok(DOC.includes('`$SYS/edgegate/started`'));
  });
});

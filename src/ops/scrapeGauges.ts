// Gauges that mirror state are set from the health report at every scrape, so
// /metrics and /healthz always agree (components may also set them as things
// happen; the report is the single source of truth either way).
import type { HealthReport } from '../health.js';
import type { Metrics } from '../metrics.js';
import { asRecord } from '../record.js';


export function refreshGaugesFromReport(metrics: Metrics, report: HealthReport, serving: boolean): void {
  metrics.healthy.set(report.healthy && serving ? 1 : 0);
  metrics.clientsConnected.set(report.clientsConnected);

  const bridge = report.bridge;
  metrics.bridgeConnected.set(bridge.enabled !== false && bridge.state === 'connected' ? 1 : 0);
  const queue = asRecord(bridge.queue);
  if (typeof queue?.messages === 'number') metrics.bridgeQueueMessages.set(queue.messages);
  if (typeof queue?.bytes === 'number') metrics.bridgeQueueBytes.set(queue.bytes);

  const ports = asRecord(report.serial)?.ports;
  if (Array.isArray(ports)) {
    for (const p of ports) {
      const port = asRecord(p);
      if (port && typeof port.name === 'string' && typeof port.state === 'string') metrics.serialPortOpen.set({ port: port.name }, port.state === 'open' ? 1 : 0);
    }
  }

  const store = asRecord(asRecord(report.storage)?.broker);
  if (typeof store?.retained === 'number') metrics.brokerRetained.set(store.retained);
  if (typeof store?.sessions === 'number') metrics.brokerSessions.set(store.sessions);
  if (typeof store?.queued === 'number') metrics.brokerQueued.set(store.queued);

  const clock = asRecord(report.clock);
  if (typeof clock?.offsetSec === 'number') metrics.clockOffsetSeconds.set(clock.offsetSec);
  if (typeof clock?.status === 'string') metrics.clockSynchronized.set(clock.status === 'synced' ? 1 : 0);
}

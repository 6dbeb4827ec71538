// Operations: HTTP health and metrics, $SYS status topics, systemd notification.
// Built last so that READY=1 is sent once everything else is up (and, stopping
// in reverse, STOPPING=1 is the first thing that happens on shutdown).
import { packageVersion } from '../buildInfo.js';
import type { Component } from '../component.js';
import type { DaemonContext } from '../context.js';
import { componentLogger } from '../log.js';
import { buildHealthReport, type HealthReport } from './health.js';
import { HttpEndpoint } from './http.js';
import { SdNotifier } from './sdNotify.js';
import { SysTopics } from './sysTopics.js';

export interface OpsOptions {
  /** Environment with NOTIFY_SOCKET / WATCHDOG_USEC (process.env by default). */
  env?: NodeJS.ProcessEnv;
}

export function opsComponents(ctx: DaemonContext, options: OpsOptions = {}): Component[] {
  const version = packageVersion();
  const startedMono = ctx.clock.monotonic();
  ctx.metrics.buildInfo.set({ version, node: process.versions.node }, 1);
  const report = (): HealthReport =>
    buildHealthReport(ctx.status, { version, uptimeMs: ctx.clock.monotonic() - startedMono, nowMs: ctx.clock.now() });

  const components: Component[] = [];
  if (ctx.config.http.enabled) {
    const http = new HttpEndpoint({ config: ctx.config.http, metrics: ctx.metrics, logger: componentLogger(ctx.logger, 'http'), report });
    // The bound address, also how tests and `edgegate status` users learn a port 0 choice.
    ctx.status.register('http', () => ({ enabled: true, ...(http.address() ?? {}) }));
    components.push(http);
  }
  components.push(new SysTopics({ broker: ctx.broker, clock: ctx.clock, logger: componentLogger(ctx.logger, 'sys'), report }));

  const notifier = new SdNotifier({
    clock: ctx.clock,
    logger: componentLogger(ctx.logger, 'systemd'),
    env: options.env,
    alive: () => ctx.broker.isServing(),
    statusText: () => statusLine(report()),
  });
  components.push({ name: 'sd-notify', start: () => notifier.ready(), stop: () => notifier.stopping() });
  return components;
}

/** The one line `systemctl status edgegate` shows. */
export function statusLine(r: HealthReport): string {
  const listeners = Object.entries(r.listeners).map(([name, a]) => `${name} ${a.host}:${a.port}`).join(', ') || 'no listeners';
  const clients = `${r.clientsConnected} client${r.clientsConnected === 1 ? '' : 's'}`;
  return `${r.healthy ? 'serving' : 'unhealthy'}: ${listeners}; ${clients}`;
}

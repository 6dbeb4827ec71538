// Operations: HTTP health and metrics, $SYS status topics, systemd notification.
// Built last so that READY=1 is sent once everything else is up (and, stopping
// in reverse, STOPPING=1 is the first thing that happens on shutdown).

import { RevocationStore } from '../auth/revocations.js';
import type { Component } from '../component.js';
import { packageVersion } from '../config/buildInfo.js';
import { buildHealthReport, type HealthReport } from '../health.js';
import { componentLogger } from '../log.js';
import type { OpsDeps } from './deps.js';
import { HttpEndpoint } from './http.js';
import { checkPageAuth } from './pageAuthPolicy.js';
import { StatusSampler } from './sampler.js';
import { SdNotifier } from './sdNotify.js';
import { SysTopics } from './sysTopics.js';

export interface OpsOptions {
  /** Environment with NOTIFY_SOCKET / WATCHDOG_USEC (process.env by default). */
  env?: NodeJS.ProcessEnv;
}

export function opsComponents(ctx: OpsDeps, options: OpsOptions = {}): Component[] {
  const version = packageVersion();
  const startedMono = ctx.clock.monotonic();
  ctx.metrics.buildInfo.set({ version, node: process.versions.node }, 1);
  const report = (detail = false): HealthReport =>
    buildHealthReport(ctx.status, { version, uptimeMs: ctx.clock.monotonic() - startedMono, nowMs: ctx.clock.now() }, { detail });

  const components: Component[] = [];
  if (ctx.config.http.enabled) {
    // A login-protected page needs a local key that can sign admin tokens: refuse to start otherwise (exit 2).
    checkPageAuth(ctx.config.http, ctx.keys.list());
    // Sampled from start-up (cheap: docs/benchmarks.md), so the charts cover the last hour when the page first opens.
    const sampler = ctx.config.http.statusPage
      ? new StatusSampler({
          clock: ctx.clock,
          metrics: ctx.metrics,
          status: ctx.status,
          connectedClients: () => ctx.broker.connectedClients(),
          intervalMs: ctx.config.http.sampleIntervalSec * 1000,
        })
      : undefined;
    if (sampler) components.push(sampler);
    const revocations = new RevocationStore(ctx.database);
    const http = new HttpEndpoint({
      config: ctx.config.http,
      metrics: ctx.metrics,
      logger: componentLogger(ctx.logger, 'http'),
      report,
      page: {
        http: ctx.config.http,
        jwt: ctx.config.auth.jwt,
        clock: ctx.clock,
        logger: componentLogger(ctx.logger, 'status-page'),
        keys: () => ctx.keys.list(),
        // With what only the page shows (behind its login when one is required).
        report: () => report(true),
        broker: ctx.broker,
        sampler,
        revocations: () => revocations,
        maxRevocations: ctx.config.auth.revocation.maxEntries,
        refuseFromNow: (kind, value, reason) => ctx.authenticator.refuseFromNow(kind, value, reason),
      },
    });
    ctx.status.register('http', () => http.status());
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
  const listeners =
    Object.entries(r.listeners)
      .map(([name, a]) => `${name} ${a.host}:${a.port}`)
      .join(', ') || 'no listeners';
  const clients = `${r.clientsConnected} client${r.clientsConnected === 1 ? '' : 's'}`;
  return `${r.healthy ? 'serving' : 'unhealthy'}: ${listeners}; ${clients}`;
}

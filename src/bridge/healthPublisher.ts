// The gateway's health summary on the cloud: a retained JSON document on
// `<remotePrefix>edgegate/<clientId>/health` (beside the retained online/offline
// state topic), published at each (re)connect, every bridge.healthIntervalSec,
// when the gateway's health changes (checked every few seconds: healthy or not,
// clock status, serial ports open or not, clients connected or none) and, with
// state "offline", when the gateway stops. `edgegate fleet status` reads them.
// Published straight on the uplink while connected (QoS 1), never queued: only
// the latest summary matters.
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import { errorMessage } from '../errors.js';
import { buildHealthReport, type HealthReport } from '../health.js';
import { type Logger, logFailure } from '../log.js';
import type { Bridge } from './bridge.js';
import type { BridgeDeps } from './deps.js';

/** How often the summary is compared with the last one published, to publish a change promptly. */
const CHANGE_CHECK_MS = 5000;

export interface HealthSummary {
  clientId: string;
  version: string;
  state: 'online' | 'offline';
  status: HealthReport['status'];
  uptimeSec: number;
  clients: number;
  queue: { messages: number; bytes: number; oldestAgeSec: number | null };
  clock: { status: string; offsetSec: number };
  serial: Array<{ name: string; state: string }>;
  time: string;
  /** bridge.healthIntervalSec: a summary older than about twice this is stale. */
  intervalSec: number;
}

export function healthSummary(report: HealthReport, clientId: string, state: HealthSummary['state'], intervalSec: number): HealthSummary {
  const bridge = report.bridge.enabled === false ? undefined : report.bridge;
  return {
    clientId,
    version: report.version,
    state,
    status: report.status,
    uptimeSec: report.uptimeSec,
    clients: report.clientsConnected,
    queue: { messages: bridge?.queue?.messages ?? 0, bytes: bridge?.queue?.bytes ?? 0, oldestAgeSec: bridge?.oldestQueuedAgeSec ?? null },
    clock: { status: report.clock.status ?? 'unknown', offsetSec: report.clock.offsetSec ?? 0 },
    serial: (report.serial.ports ?? []).map((p) => ({ name: p.name, state: p.state })),
    time: report.time,
    intervalSec,
  };
}

/** What counts as a change worth publishing at once. */
function signature(s: HealthSummary): string {
  return JSON.stringify([s.status, s.clock.status, s.serial, s.clients > 0]);
}

export class HealthPublisher implements Component {
  readonly name = 'bridge-health';
  private timer?: TimerHandle;
  private checkTimer?: TimerHandle;
  private startedMono = 0;
  private lastSignature?: string;
  private active = false;

  constructor(
    private readonly ctx: Pick<BridgeDeps, 'config' | 'clock' | 'status'>,
    private readonly bridge: Bridge,
    private readonly version: string,
    private readonly logger: Logger,
  ) {}

  get topic(): string {
    return this.bridge.remoteTopic('health');
  }

  async start(): Promise<void> {
    const intervalSec = this.ctx.config.bridge.healthIntervalSec;
    if (intervalSec <= 0) return;
    this.active = true;
    this.startedMono = this.ctx.clock.monotonic();
    // Deferred: the bridge is still setting up its connection when it reports "connected".
    this.bridge.onStateChange((state) => {
      if (state === 'connected') setImmediate(() => this.publishOnline());
    });
    this.timer = this.ctx.clock.setInterval(intervalSec * 1000, () => this.publishOnline());
    this.checkTimer = this.ctx.clock.setInterval(Math.min(CHANGE_CHECK_MS, intervalSec * 1000), () => {
      if (signature(this.summary('online')) !== this.lastSignature) this.publishOnline();
    });
    if (this.bridge.connectionState === 'connected') await this.publish('online');
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.timer?.cancel();
    this.checkTimer?.cancel();
    // Last words while the uplink is still up (the bridge stops after this).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.publish('offline', true), new Promise((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
  }

  private summary(state: HealthSummary['state']): HealthSummary {
    const report = buildHealthReport(this.ctx.status, {
      version: this.version,
      uptimeMs: this.ctx.clock.monotonic() - this.startedMono,
      nowMs: this.ctx.clock.now(),
    });
    return healthSummary(report, this.bridge.clientId, state, this.ctx.config.bridge.healthIntervalSec);
  }

  /** From timers and events, which do not wait for it. */
  private publishOnline(): void {
    this.publish('online').catch(logFailure(this.logger, 'publishing the health summary'));
  }

  private async publish(state: HealthSummary['state'], stopping = false): Promise<void> {
    if (!this.active && !stopping) return;
    try {
      const summary = this.summary(state);
      const sent = await this.bridge.publishRemote(this.topic, JSON.stringify(summary), { qos: 1, retain: true });
      if (sent) this.lastSignature = signature(summary);
    } catch (err) {
      this.logger.debug({ err: errorMessage(err) }, 'could not publish the health summary');
    }
  }
}

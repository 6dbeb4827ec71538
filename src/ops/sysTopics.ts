// Retained $SYS/edgegate/... topics with the essentials of the health report,
// for tooling that only speaks MQTT (as Mosquitto's $SYS/broker/...).
//
// Refreshed every REFRESH_MS and shortly after a client connects or disconnects
// (aedes announces those on $SYS/<id>/new/clients and .../disconnect/clients),
// but a topic is only published when its value changed: subscribers are not
// woken, and nothing is written, for values that stay the same.
//
// Clients read these with a subscription to `$SYS/edgegate/#` (a plain `#` does
// not match topics starting with '$', MQTT 3.1.1 section 4.7.2) if their token's
// ACL allows it; clients can never publish here (reserved for the gateway).
import type { LocalBroker } from '../broker/broker.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import type { HealthReport } from '../health.js';
import { type Logger, logFailure } from '../log.js';

export const SYS_PREFIX = '$SYS/edgegate/';
export const SYS_REFRESH_MS = 10_000;
/** Connection bursts (a fleet reconnecting after an outage) collapse into one refresh. */
export const SYS_DEBOUNCE_MS = 1_000;

export interface SysTopicsDeps {
  broker: LocalBroker;
  clock: GatewayClock;
  logger: Logger;
  report: () => HealthReport;
  /** aedes's broker id: its connection announcements come on $SYS/<id>/... */
  brokerId?: string;
}

/** A topic level from a free-form name: no wildcards or separators. */
function level(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 may not appear in a topic (MQTT-4.7.3-2)
  return name.replace(/[+#/\u0000]/g, '_') || '_';
}

/** The report without the fields that change on every read (they would republish every time). */
export type StableReport = Omit<HealthReport, 'time' | 'uptimeSec' | 'clock'> & { clock: Omit<HealthReport['clock'], 'now'> };

export function stableReport(report: HealthReport): StableReport {
  const { time: _time, uptimeSec: _uptime, ...rest } = report;
  const { now: _now, ...clock } = rest.clock;
  void _time;
  void _uptime;
  void _now;
  return { ...rest, clock };
}

/** Topic (without prefix) → payload, for one health report. */
export function sysTopicValues(report: HealthReport): Map<string, string> {
  const out = new Map<string, string>();
  const stable = stableReport(report);
  out.set('health', JSON.stringify(stable));
  out.set('version', report.version);
  out.set('healthy', String(report.healthy));
  out.set('listeners', JSON.stringify(report.listeners));
  out.set('clients/connected', String(report.clientsConnected));
  const { clock, storage, bridge, serial } = stable;
  if (clock.status !== undefined) out.set('clock/status', clock.status);
  if (clock.offsetSec !== undefined) out.set('clock/offset', String(clock.offsetSec));
  if (storage.persistent !== undefined) out.set('storage/persistent', String(storage.persistent));
  // The bridge also publishes its own online/offline topic (bridge.stateTopic, $SYS/edgegate/bridge/state).
  if (bridge.enabled === false) out.set('bridge/status', 'disabled');
  else {
    out.set('bridge/status', bridge.state ?? 'unknown');
    if (bridge.queue) out.set('bridge/queue/messages', String(bridge.queue.messages));
  }
  for (const port of serial.ports ?? []) out.set(`serial/${level(port.name)}/state`, port.state);
  return out;
}

export class SysTopics implements Component {
  readonly name = 'sys-topics';
  private readonly published = new Map<string, string>();
  private interval?: TimerHandle;
  private debounce?: TimerHandle;
  private unsubscribes: Array<() => void> = [];
  private refreshing?: Promise<void>;
  private stopped = true;

  constructor(private readonly deps: SysTopicsDeps) {}

  async start(): Promise<void> {
    this.stopped = false;
    const id = this.deps.brokerId ?? 'edgegate';
    for (const event of ['new/clients', 'disconnect/clients']) {
      this.unsubscribes.push(this.deps.broker.subscribeInternal(`$SYS/${id}/${event}`, () => this.soon()));
    }
    this.deps.broker
      .publishInternal({ topic: `${SYS_PREFIX}started`, payload: new Date(this.deps.clock.now()).toISOString(), qos: 0, retain: true }, 'ops')
      .catch(() => undefined);
    await this.refresh();
    this.interval = this.deps.clock.setInterval(SYS_REFRESH_MS, () => this.refreshInBackground());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interval?.cancel();
    this.debounce?.cancel();
    this.interval = this.debounce = undefined;
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.unsubscribes = [];
    await this.refreshing;
  }

  /** Publishes every topic whose value changed since the last publish. */
  private refreshInBackground(): void {
    this.refresh().catch(logFailure(this.deps.logger, 'refreshing the $SYS topics'));
  }

  refresh(): Promise<void> {
    // One refresh at a time; a request during one is covered by the next tick or event.
    this.refreshing ??= this.publishChanges().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private soon(): void {
    if (this.stopped || this.debounce) return;
    this.debounce = this.deps.clock.setTimer(SYS_DEBOUNCE_MS, () => {
      this.debounce = undefined;
      this.refreshInBackground();
    });
  }

  private async publishChanges(): Promise<void> {
    if (this.stopped) return;
    let values: Map<string, string>;
    try {
      values = sysTopicValues(this.deps.report());
    } catch (err) {
      this.deps.logger.error({ err }, 'cannot build the $SYS status');
      return;
    }
    for (const [suffix, payload] of values) {
      if (this.stopped) return;
      if (this.published.get(suffix) === payload) continue;
      try {
        await this.deps.broker.publishInternal({ topic: SYS_PREFIX + suffix, payload, qos: 0, retain: true }, 'ops');
        this.published.set(suffix, payload);
      } catch (err) {
        this.deps.logger.warn({ err, topic: SYS_PREFIX + suffix }, 'cannot publish $SYS status');
      }
    }
  }
}

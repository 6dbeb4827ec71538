// systemd's notify protocol (sd_notify(3)) for `Type=notify`: READY=1 once the
// listeners are up, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on shutdown.
//
// The protocol is one datagram on the AF_UNIX socket named by NOTIFY_SOCKET
// (a path, or an abstract name written with a leading '@'). Node.js has no
// AF_UNIX datagram sockets, so without a compiled addon the messages go through
// systemd's own `systemd-notify` binary. Two consequences, both handled:
//  - the sender is a child process, not the main PID, so the unit needs
//    `NotifyAccess=all` (any process of the service's cgroup may notify);
//  - systemd attributes a message to a unit by the sender's PID, which must still
//    be alive when systemd reads it. `systemd-notify` (systemd >= 246) waits for a
//    BARRIER=1 round trip before exiting, so we never pass `--no-block`.
// The datagram leaves as soon as the process runs; only the confirmation waits
// (up to 5 s when a receiver keeps the barrier's descriptor, as socat does). So
// messages are not queued behind each other's confirmations: each goes out at
// once, with a cap on the processes alive at the same time.
import { execFile } from 'node:child_process';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import { type Logger, logFailure } from '../log.js';

/** Delivers one notify message (newline-separated KEY=VALUE assignments). */
export type NotifySender = (assignments: string[]) => Promise<void>;

const SEND_TIMEOUT_MS = 10_000;
/** Watchdog pings are skipped while this many notifications await confirmation. */
const MAX_IN_FLIGHT = 3;
/** How long shutdown waits for STOPPING=1 to be delivered. */
const STOPPING_WAIT_MS = 1_500;
/** Never ping faster than this, whatever WATCHDOG_USEC says (each ping is a process). */
const MIN_WATCHDOG_INTERVAL_MS = 100;

/** Sends through `systemd-notify KEY=VALUE...`, which reads NOTIFY_SOCKET itself. */
export function systemdNotifySender(binary = 'systemd-notify', env: NodeJS.ProcessEnv = process.env): NotifySender {
  return (assignments) =>
    new Promise((resolve, reject) => {
      execFile(binary, assignments, { env, timeout: SEND_TIMEOUT_MS, windowsHide: true }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`${binary} failed: ${String(stderr).trim() || err.message}`, { cause: err }));
        else resolve();
      });
    });
}

/**
 * The watchdog ping interval asked for by systemd, or null: half of
 * WATCHDOG_USEC, and only if WATCHDOG_PID is unset or names this process
 * (the same rule as sd_watchdog_enabled(3)).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | null {
  const usecText = env.WATCHDOG_USEC;
  if (!usecText || !/^\d+$/.test(usecText)) return null;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined && pidText !== '' && Number(pidText) !== pid) return null;
  return Math.max(MIN_WATCHDOG_INTERVAL_MS, Math.floor(usec / 2000));
}

/** One line of STATUS= text: no newlines (they would start a new assignment). */
export function statusAssignment(text: string): string {
  return `STATUS=${text.replace(/[\r\n]+/g, ' ').slice(0, 200)}`;
}

export interface SdNotifierOptions {
  clock: GatewayClock;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** How messages leave; `systemd-notify` by default. Injectable for tests. */
  send?: NotifySender;
  /** Watchdog pings are sent only while this holds (a wedged broker gets restarted). */
  alive?: () => boolean;
  /** A one-line status shown by `systemctl status` (sent when it changes). */
  statusText?: () => string;
}

export class SdNotifier {
  readonly enabled: boolean;
  readonly watchdogMs: number | null;
  private readonly send: NotifySender;
  private inFlight = 0;
  private timer?: TimerHandle;
  private lastStatus = '';
  private failed = false;
  private stopped = false;

  constructor(private readonly options: SdNotifierOptions) {
    const env = options.env ?? process.env;
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    this.watchdogMs = this.enabled ? watchdogIntervalMs(env, options.pid ?? process.pid) : null;
    this.send = options.send ?? systemdNotifySender('systemd-notify', env);
  }

  /**
   * READY=1 (with the first STATUS=), then the watchdog if systemd asked for one.
   * Returns once READY=1 is on its way; its confirmation is not awaited.
   */
  async ready(): Promise<void> {
    if (!this.enabled) return;
    this.stopped = false;
    this.notify(['READY=1', ...this.statusIfChanged()], true).catch(logFailure(this.options.logger, 'notifying systemd'));
    if (this.watchdogMs !== null) {
      this.options.logger.info({ intervalMs: this.watchdogMs }, 'systemd watchdog enabled');
      this.timer = this.options.clock.setInterval(this.watchdogMs, () => this.ping());
    }
  }

  /** STOPPING=1; waits (bounded) for it to leave so systemd sees it before the exit. */
  async stopping(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.enabled) return;
    // The rest of the shutdown (closing clients, flushing the queue) must not wait
    // for a slow notification; the exit deadline in `edgegate run` is a few seconds.
    let deadline: TimerHandle | undefined;
    await Promise.race([
      this.notify(['STOPPING=1', statusAssignment('stopping')], true),
      new Promise<void>((resolve) => (deadline = this.options.clock.setTimer(STOPPING_WAIT_MS, resolve))),
    ]);
    deadline?.cancel();
  }

  private ping(): void {
    if (this.stopped) return;
    if (this.options.alive && !this.options.alive()) {
      this.options.logger.warn('not sending the watchdog ping: the broker is not serving');
      return;
    }
    this.notify(['WATCHDOG=1', ...this.statusIfChanged()], false).catch(logFailure(this.options.logger, 'notifying systemd'));
  }

  private statusIfChanged(): string[] {
    const text = this.options.statusText?.();
    if (!text || text === this.lastStatus) return [];
    this.lastStatus = text;
    return [statusAssignment(text)];
  }

  /**
   * Sends at once; a failure is logged (once per streak), never thrown. A watchdog
   * ping is dropped while MAX_IN_FLIGHT others await confirmation: processes never
   * pile up on a slow system, and the next tick tries again.
   */
  private async notify(assignments: string[], essential: boolean): Promise<void> {
    if (!essential && this.inFlight >= MAX_IN_FLIGHT) {
      this.options.logger.debug({ inFlight: this.inFlight }, 'watchdog ping skipped: earlier notifications still unconfirmed');
      return;
    }
    this.inFlight++;
    try {
      await this.send(assignments);
      if (this.failed) this.options.logger.info('systemd notification works again');
      this.failed = false;
    } catch (err) {
      // A missing binary or an unreachable socket must not flood the journal.
      if (!this.failed) this.options.logger.warn({ err: (err as Error).message, message: assignments[0] }, 'systemd notification failed');
      this.failed = true;
    } finally {
      this.inFlight--;
    }
  }
}

// One serial device kept open: opened at start, and after it is missing, unplugged
// or fails, closed and reopened with backoff (serialport never reopens by itself;
// an unplug shows as `close` with `err.disconnected === true`). Knows nothing of
// MQTT: it hands out bytes and accepts bytes. A fresh SerialPortStream is made for
// every attempt, because a stream that saw a read error stays primed for its old fd.
import { SerialPort } from 'serialport';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { SerialPortConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { ReopenBackoff } from './reopenBackoff.js';

/** closed: not running; waiting: opening, or missing/failed with a reopen scheduled; open. */
export type PortState = 'closed' | 'waiting' | 'open';

export interface SerialOpenOptions {
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
}

/** What we use of serialport's SerialPortStream (so any binding's stream fits). */
export interface SerialStream {
  readonly isOpen: boolean;
  readonly writableLength: number;
  open(cb: (err: Error | null) => void): void;
  close(cb?: (err: Error | null) => void): void;
  write(data: Buffer, cb: (err: Error | null | undefined) => void): boolean;
  pause(): unknown;
  resume(): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'close', fn: (err: (Error & { disconnected?: boolean }) | null) => void): unknown;
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
}

/**
 * Makes an unopened stream. Injectable: tests pass one building a SerialPortStream
 * over @serialport/binding-mock (test/serial/support/mockPorts.ts).
 */
export type SerialStreamFactory = (options: SerialOpenOptions) => SerialStream;

/** The operating system's serial ports (bindings-cpp, chosen by `serialport`). */
export const systemStreamFactory: SerialStreamFactory = (o) => new SerialPort({ ...o, autoOpen: false });

export interface SerialPortHandlers {
  data(chunk: Buffer): void;
  /** The port stopped delivering (closed, unplugged, failed): drop any partial line. */
  lost(): void;
  stateChanged(state: PortState): void;
}

export interface LastError {
  code: string;
  message: string;
  at: string;
}

/** Commands beyond this many unwritten bytes are refused: a slow UART must not grow memory. */
const MAX_PENDING_WRITE_BYTES = 64 * 1024;
const CLOSE_TIMEOUT_MS = 2000;
/** An open that never completes (a wedged driver) is abandoned and retried like a failure. */
const OPEN_TIMEOUT_MS = 10_000;

export class ReopeningSerialPort {
  private state: PortState = 'closed';
  private stream?: SerialStream;
  /** Bumped whenever a stream is abandoned, so its late events are ignored. */
  private generation = 0;
  private timer?: TimerHandle;
  private openTimer?: TimerHandle;
  private running = false;
  /** Backpressure applies to every stream, including one opened while paused. */
  private paused = false;
  private readonly backoff: ReopenBackoff;
  private openedAt = 0;
  private failureStreak = 0;
  private lastLoggedCode?: string;
  errors = 0;
  lastError?: LastError;

  constructor(
    private readonly config: SerialPortConfig,
    private readonly deps: { clock: GatewayClock; logger: Logger; factory: SerialStreamFactory; handlers: SerialPortHandlers },
  ) {
    this.backoff = new ReopenBackoff(config.reopen.minSec * 1000, config.reopen.maxSec * 1000);
  }

  getState(): PortState {
    return this.state;
  }

  isOpen(): boolean {
    return this.state === 'open';
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.setState('waiting'); // until the first open succeeds
    this.attempt();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.openTimer?.cancel();
    const stream = this.stream;
    this.abandon();
    if (stream?.isOpen) await this.closeBounded(stream);
    if (this.state !== 'closed') this.deps.logger.info({ path: this.config.path }, 'serial port closed');
    this.setState('closed');
  }

  /** Queues bytes for the device; false when the port is not open or its output is backed up. */
  write(data: Buffer): boolean {
    const stream = this.stream;
    if (this.state !== 'open' || !stream || !stream.isOpen) return false;
    if (stream.writableLength + data.length > MAX_PENDING_WRITE_BYTES) return false;
    const generation = this.generation;
    stream.write(data, (err) => {
      if (err && generation === this.generation) this.deps.logger.debug({ err: err.message }, 'serial write failed');
    });
    return true;
  }

  /** Backpressure from the publisher: stop reading (the kernel and device buffer meanwhile). */
  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  /** A device that hangs in close (pending output on a dead UART) must not hold up shutdown. */
  private closeBounded(stream: SerialStream): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.deps.clock.setTimer(CLOSE_TIMEOUT_MS, () => {
        this.deps.logger.warn({ path: this.config.path }, 'serial port did not close in time; abandoning it');
        resolve();
      });
      stream.close(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  private attempt(): void {
    this.timer = undefined;
    if (!this.running) return;
    const generation = ++this.generation;
    const current = (): boolean => generation === this.generation;
    let stream: SerialStream;
    try {
      stream = this.deps.factory({
        path: this.config.path,
        baudRate: this.config.baudRate,
        dataBits: this.config.dataBits,
        parity: this.config.parity,
        stopBits: this.config.stopBits,
      });
    } catch (err) {
      this.openFailed(err);
      return;
    }
    this.stream = stream;
    // An 'error' without a listener would crash the daemon: always listen.
    stream.on('error', (err: Error) => {
      if (current()) this.lost(err);
    });
    stream.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
      if (current()) this.lost(err ?? new Error('port closed'));
    });
    stream.on('data', (chunk: Buffer) => {
      if (current()) this.deps.handlers.data(chunk);
    });
    if (this.paused) stream.pause();
    const openTimer = (this.openTimer = this.deps.clock.setTimer(OPEN_TIMEOUT_MS, () => {
      if (current()) this.openFailed(Object.assign(new Error(`open did not complete within ${OPEN_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }));
    }));
    stream.open((err) => {
      openTimer.cancel();
      if (!current()) {
        if (!err) stream.close();
        return;
      }
      if (err) this.openFailed(err);
      else this.opened();
    });
  }

  private opened(): void {
    this.openedAt = this.deps.clock.monotonic();
    this.deps.logger.info({ path: this.config.path, afterFailures: this.failureStreak }, 'serial port open');
    this.failureStreak = 0;
    this.lastLoggedCode = undefined;
    this.setState('open');
  }

  private openFailed(err: unknown): void {
    this.abandon();
    const e = this.recordError(err);
    this.failureStreak++;
    const delay = this.backoff.next();
    // Logged once per state change (and when the reason changes, e.g. ENOENT → EACCES), not per retry.
    if (this.lastLoggedCode !== e.code) {
      this.lastLoggedCode = e.code;
      this.deps.logger.warn(
        {
          path: this.config.path,
          code: e.code,
          err: e.message,
          retryInSec: delay / 1000,
          ...(e.code === 'EACCES' ? { hint: 'add the user running edgegate to the dialout group' } : {}),
        },
        'serial port unavailable; retrying with backoff',
      );
    } else {
      this.deps.logger.debug({ path: this.config.path, code: e.code, retryInSec: delay / 1000 }, 'serial port still unavailable');
    }
    this.setState('waiting');
    this.schedule(delay);
  }

  /** The open port closed, vanished or failed. */
  private lost(err: Error & { disconnected?: boolean }): void {
    if (this.state !== 'open') return;
    const stream = this.stream;
    this.abandon();
    if (stream?.isOpen) stream.close(() => undefined);
    const e = this.recordError(err);
    // A port that stayed up a while starts the backoff afresh; a flapping one keeps backing off.
    if (this.deps.clock.monotonic() - this.openedAt >= this.config.reopen.maxSec * 1000) this.backoff.reset();
    const delay = this.backoff.next();
    this.lastLoggedCode = e.code;
    this.deps.logger.warn(
      { path: this.config.path, code: e.code, err: e.message, disconnected: err.disconnected === true, retryInSec: delay / 1000 },
      'serial port closed; reopening with backoff',
    );
    this.setState('waiting');
    this.deps.handlers.lost();
    this.schedule(delay);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(delayMs, () => this.attempt());
  }

  private abandon(): void {
    this.generation++;
    this.stream = undefined;
  }

  private recordError(err: unknown): LastError {
    const e = err as (Error & { code?: unknown; disconnected?: boolean }) | undefined;
    const code = typeof e?.code === 'string' ? e.code : e?.disconnected ? 'DISCONNECTED' : (errnoCode(e?.message) ?? 'ERROR');
    this.errors++;
    this.lastError = { code, message: e?.message ?? String(err), at: new Date(this.deps.clock.now()).toISOString() };
    return this.lastError;
  }

  private setState(state: PortState): void {
    if (state === this.state) return;
    this.state = state;
    this.deps.handlers.stateChanged(state);
  }
}

/** bindings-cpp gives no code, only strerror() in the message ("Error: No such file or directory, cannot open /dev/x"). */
function errnoCode(message: string | undefined): string | undefined {
  if (!message) return undefined;
  if (/no such file/i.test(message)) return 'ENOENT';
  if (/permission denied/i.test(message)) return 'EACCES';
  if (/resource busy|cannot lock port/i.test(message)) return 'EBUSY'; // another program holds the port
  if (/input\/output error/i.test(message)) return 'EIO';
  if (/inappropriate ioctl/i.test(message)) return 'ENOTTY'; // the path is not a serial device
  if (/is a directory/i.test(message)) return 'EISDIR';
  return undefined;
}

// Real pseudo-terminal pairs made by socat: the daemon opens `daemonSide`, the test
// plays the device on `deviceSide`. "Unplugging" is killing socat (it removes both
// links and the daemon's side reads EIO); "plugging back" is starting it again on
// the same link paths, which then point at new /dev/pts/N.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { settlesWithin, waitUntil } from '../../helpers/wait.js';

const started = new Set<SocatPair>();
// Should mocha exit before the after hooks ran (--exit, a crash), no socat outlives it.
process.once('exit', () => {
  for (const p of started) p.killNow();
});

export class SocatPair {
  readonly daemonSide: string;
  readonly deviceSide: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly dir: string,
    name: string,
  ) {
    this.daemonSide = join(dir, `${name}-gw`);
    this.deviceSide = join(dir, `${name}-dev`);
  }

  static tempDir(): string {
    return mkdtempSync(join(tmpdir(), 'edgegate-serial-'));
  }

  /** Starts socat and waits (bounded) until both links exist. */
  async plug(): Promise<void> {
    if (this.child) throw new Error('already plugged');
    const child = spawn('socat', [`pty,raw,echo=0,link=${this.daemonSide}`, `pty,raw,echo=0,link=${this.deviceSide}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    started.add(this);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitUntil(() => existsSync(this.daemonSide) && existsSync(this.deviceSide), { what: `socat links in ${this.dir}` });
  }

  killNow(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  /** Kills socat (the "unplug") and waits for it to exit and remove its links. */
  async unplug(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    started.delete(this);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    if (this.exited) await settlesWithin(this.exited, 3000);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await waitUntil(() => !existsSync(this.daemonSide), { timeoutMs: 3000, what: 'socat to remove its link' });
  }
}

/** Kills every socat still running (for after hooks) and removes a temp dir. */
export async function unplugAll(dir?: string): Promise<void> {
  await Promise.all([...started].map((p) => p.unplug().catch(() => undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** The device end of a PTY pair: writes lines, collects what the gateway writes. */
export class Device {
  received = '';
  closed = false;

  private constructor(private readonly port: SerialPort) {
    port.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    port.on('close', () => (this.closed = true));
    port.on('error', () => undefined);
  }

  static async open(path: string): Promise<Device> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    return new Device(port);
  }

  /** Writes and waits until the data left our side. */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(data, (err) => {
        if (err) return reject(err);
        this.port.drain((e) => (e ? reject(e) : resolve()));
      });
    });
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.close(() => resolve()));
  }
}

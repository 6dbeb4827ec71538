// A real Mosquitto (Debian package) for tests: its own temp config, a free
// 127.0.0.1 port, and control over its life (stop, restart on the same port, kill).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './wait.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port; rejects after `ms`. */
export async function waitForPort(port: number, ms = 5000): Promise<void> {
  const accepts = (): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  await waitUntil(accepts, { timeoutMs: ms, what: `something to listen on 127.0.0.1:${port}`, everyMs: 25 });
}

export interface MosquittoOptions {
  port?: number;
  /** A TLS listener instead of plain TCP. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** Keep sessions and queued messages across stop/restart (saved on SIGTERM). */
  persistence?: boolean;
  /** Extra mosquitto.conf lines (e.g. a bridge `connection` section). */
  extra?: string[];
}

export class Mosquitto {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: MosquittoOptions,
  ) {}

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const port = options.port ?? (await freePort());
    const m = new Mosquitto(port, mkdtempSync(join(tmpdir(), 'edgegate-mosquitto-')), options);
    await m.launch();
    return m;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  output(): string {
    return this.log;
  }

  private async launch(): Promise<void> {
    const o = this.options;
    const lines = [
      'user root', // when the tests run as root, do not drop to "mosquitto" (it could not read the temp dir)
      ...(o.persistence ? ['persistence true', `persistence_location ${this.dir}/`] : ['persistence false']),
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      `listener ${this.port} 127.0.0.1`,
      'allow_anonymous true',
      ...(o.tls ? [`cafile ${o.tls.caFile}`, `certfile ${o.tls.certFile}`, `keyfile ${o.tls.keyFile}`] : []),
      ...(o.extra ?? []),
    ];
    const file = join(this.dir, 'mosquitto.conf');
    writeFileSync(file, lines.join('\n') + '\n');
    const child = spawn(MOSQUITTO_BIN, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (d: Buffer): void => {
      this.log = (this.log + d.toString()).slice(-16_384);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    try {
      await Promise.race([
        waitForPort(this.port),
        this.exited.then(() => {
          throw new Error(`mosquitto exited at start: ${this.log}`);
        }),
      ]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** Stops it (SIGTERM; SIGKILL after 3 s) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
    this.child = undefined;
  }

  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Starts it again on the same port (after stop/kill). */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

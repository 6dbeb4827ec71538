// The real daemon (`edgegate run`, from source through tsx, as test/cli/support.ts
// runs the CLI) as a child process, for the power-cut and kill -9 suites: its
// configuration (env EDGEGATE_DATA_DIR + NODE_CONFIG), readiness, /healthz, kill -9,
// and a registry of everything started so an afterEach can always clean up
// (processes by their PID only, MQTT clients, temp dirs).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { startCli } from '../../cli/support.js';
import { waitUntil } from '../../helpers/wait.js';

export type CliChild = ChildProcess & { out: { stdout: string; stderr: string } };

// ---------- seeded randomness ----------

/** mulberry32: a small seeded PRNG (as in test/powercut/lazyfs.test.ts). */
export { mulberry32 as rng } from '../../helpers/prng.js';

/** An integer in [lo, hi]. */
export const between = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/**
 * Lets the load (or a boot) run for a seeded time before a kill, a cut or a cloud flap
 * lands: the fault schedule, an input of these tests. Never a wait for something to
 * happen: that is waitUntil, on the condition itself.
 */
export const letRun = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

// ---------- cleanup registry ----------

const liveChildren = new Set<ChildProcess>();
const liveClients = new Set<MqttClient>();
const tempDirs = new Set<string>();

export function trackClient<T extends MqttClient>(c: T): T {
  liveClients.add(c);
  c.once('end', () => liveClients.delete(c));
  return c;
}

export function trackChild<T extends ChildProcess>(c: T): T {
  liveChildren.add(c);
  c.once('exit', () => liveChildren.delete(c));
  return c;
}

export function makeTempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

function exitedOf(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(res, ms);
    c.once('exit', () => (clearTimeout(t), res()));
  });
}

/** For afterEach: SIGKILL every child this module started (by its PID), end every client, remove temp dirs. */
export async function cleanupAll(): Promise<void> {
  for (const c of liveClients) c.end(true);
  liveClients.clear();
  const children = [...liveChildren];
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  await Promise.all(children.map((c) => exitedOf(c, 5000)));
  liveChildren.clear();
}

/** Removes the temp dirs made with makeTempDir (after mounts inside them are gone). */
export function removeTempDirs(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

// ---------- configuration ----------

export interface GatewaySpec {
  /** The data directory (EDGEGATE_DATA_DIR), e.g. inside the lazyfs mount. */
  dataDir: string;
  /** MQTT listener (127.0.0.1). */
  port: number;
  /** /healthz (127.0.0.1). */
  httpPort: number;
  /** The cloud the bridge connects to (nothing may listen there: the queue fills). */
  cloudPort: number;
  /** A directory that does not exist: NODE_CONFIG_DIR (only the embedded defaults and NODE_CONFIG apply). */
  noConfigDir: string;
  bridgeClientId?: string;
  /** Merged over the config below (shallowly per top-level key). */
  extra?: Record<string, unknown>;
}

/** The `out` rule bridged: data/# → up/data/#. */
export const BRIDGED_FILTER = 'data/#';
export const CLOUD_FILTER = 'up/data/#';

export function gatewayConfig(spec: GatewaySpec): Record<string, unknown> {
  const base: Record<string, unknown> = {
    log: { level: 'info', format: 'json' },
    listeners: { tcp: { enabled: true, host: '127.0.0.1', port: spec.port }, tls: { enabled: false } },
    http: { enabled: true, host: '127.0.0.1', port: spec.httpPort, statusPage: false },
    // Big enough that no bound drops anything in these runs: a drop would look like a loss.
    broker: { queueLimit: 1_000_000 },
    auth: { rateLimit: { maxFailures: 0 }, revocation: { pollIntervalSec: 0.5 } },
    // Persisted every second: the floor is written under load too.
    clock: { persistIntervalSec: 1 },
    bridge: {
      enabled: true,
      url: `mqtt://127.0.0.1:${spec.cloudPort}`,
      clientId: spec.bridgeClientId ?? 'gw-powercut',
      reconnect: { minSec: 0.05, maxSec: 0.3 },
      topics: [{ pattern: BRIDGED_FILTER, direction: 'out', qos: 1, localPrefix: '', remotePrefix: 'up/' }],
    },
  };
  for (const [k, v] of Object.entries(spec.extra ?? {})) {
    const b = base[k];
    base[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? { ...(b as object), ...(v as object) } : v;
  }
  return base;
}

/** The environment of the daemon and of the CLI commands run against the same data dir. */
export function gatewayEnv(spec: GatewaySpec): NodeJS.ProcessEnv {
  return { EDGEGATE_DATA_DIR: spec.dataDir, NODE_CONFIG: JSON.stringify(gatewayConfig(spec)), NODE_CONFIG_DIR: spec.noConfigDir };
}

/** A CLI command (`edgegate token revoke ...`) against the gateway's data dir, tracked for cleanup. */
export function startGatewayCli(spec: GatewaySpec, args: string[]): CliChild {
  return trackChild(startCli(args, gatewayEnv(spec)) as CliChild);
}

export function cliExit(child: CliChild, ms = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res, rej) => {
    if (child.exitCode !== null || child.signalCode !== null) return res({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      rej(new Error(`CLI did not exit within ${ms} ms:\n${child.out.stderr}`));
    }, ms);
    child.once('exit', (code, signal) => (clearTimeout(t), res({ code, signal })));
  });
}

// ---------- the daemon ----------

export interface Health {
  httpStatus: number;
  body: Record<string, any>;
}

export class GatewayProcess {
  readonly child: CliChild;
  readonly spawnedAt = Date.now();
  /** Wall time it answered /healthz with the broker serving; undefined until then. */
  readyAt?: number;
  private readonly exitP: Promise<{ code: number | null; signal: string | null }>;

  private constructor(readonly spec: GatewaySpec) {
    this.child = trackChild(startCli(['run'], gatewayEnv(spec)) as CliChild);
    this.exitP = new Promise((res) => this.child.once('exit', (code, signal) => res({ code, signal })));
  }

  /** Spawns `edgegate run` without waiting. */
  static spawn(spec: GatewaySpec): GatewayProcess {
    return new GatewayProcess(spec);
  }

  /** Spawns it and waits until it serves (rejects with its log if it exits or takes longer than `ms`). */
  static async start(spec: GatewaySpec, ms = 20_000): Promise<GatewayProcess> {
    const g = new GatewayProcess(spec);
    await g.ready(ms);
    return g;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.child.out.stdout + this.child.out.stderr;
  }

  /** Parsed pino lines (stdout and stderr). */
  logLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const l of this.log().split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* a line cut by the kill */
      }
    }
    return out;
  }

  /** Waits until /healthz answers with the broker serving (the HTTP endpoint starts last). */
  async ready(ms = 20_000): Promise<number> {
    const serving = async (): Promise<boolean> => {
      if (!this.alive) throw new Error(`edgegate exited at start (${this.child.exitCode ?? this.child.signalCode}):\n${this.log().slice(-6000)}`);
      if (!/"msg":"edgegate started"/.test(this.child.out.stdout + this.child.out.stderr)) return false;
      return (await this.healthz().catch(() => undefined))?.body.broker?.serving === true;
    };
    try {
      await waitUntil(serving, { timeoutMs: ms, what: 'edgegate to serve', everyMs: 25 });
    } catch (err) {
      if (!(err as Error).message.startsWith('waitUntil')) throw err;
      throw new Error(`edgegate not ready within ${ms} ms:\n${this.log().slice(-6000)}`);
    }
    this.readyAt = Date.now();
    return this.readyAt - this.spawnedAt;
  }

  async healthz(): Promise<Health> {
    const res = await fetch(`http://127.0.0.1:${this.spec.httpPort}/healthz`, { signal: AbortSignal.timeout(5000) });
    return { httpStatus: res.status, body: (await res.json()) as Record<string, any> };
  }

  /** kill -9 (synchronous: the signal is sent when this returns). */
  kill9(): void {
    if (this.alive && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** SIGTERM: an orderly stop. */
  terminate(): void {
    if (this.alive && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGTERM');
  }

  async exited(ms = 15_000): Promise<{ code: number | null; signal: string | null }> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exitP, new Promise<'timeout'>((res) => (t = setTimeout(() => res('timeout'), ms)))]);
    clearTimeout(t);
    if (r === 'timeout') {
      this.kill9();
      throw new Error(`edgegate (pid ${this.pid}) did not exit within ${ms} ms`);
    }
    return r;
  }

  /** What makes a boot unclean: the in-memory fallback, a fatal error. */
  bootProblems(): string[] {
    const problems: string[] = [];
    if (/database unusable/.test(this.log())) problems.push('log: "database unusable" (in-memory fallback)');
    for (const l of this.logLines()) {
      if (typeof l.level === 'number' && l.level >= 60) problems.push(`log: fatal: ${String(l.msg)} ${JSON.stringify(l.err ?? '')}`.slice(0, 400));
    }
    return problems;
  }

  /** Log lines at level error or above (for the report). */
  errors(): string[] {
    return this.logLines()
      .filter((l) => typeof l.level === 'number' && l.level >= 50)
      .map((l) => `${String(l.msg)} ${l.err ? JSON.stringify(l.err).slice(0, 200) : ''}`);
  }
}

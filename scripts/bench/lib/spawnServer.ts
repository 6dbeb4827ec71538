// Starts servers under test as SEPARATE child processes on loopback, so that
// their memory and CPU (read from /proc) are theirs alone: the edgegate daemon
// through its real CLI (`edgegate run`), plain aedes, or any command.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';
import { cliPackageRoot, REPO_ROOT } from './paths.js';
import { cpuTimeMs, peakRssKiB, rssKiB } from './procStats.js';

export { REPO_ROOT };
/** `node --import tsx src/cli/main.ts`: the CLI from source, no build needed. */
export const EDGEGATE_CLI = ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts')];

export interface ServerProcess {
  name: string;
  pid: number;
  port: number;
  child: ChildProcess;
  rssKiB(): number;
  peakRssKiB(): number;
  cpuTimeMs(): number;
  /** From spawn until the port first accepted a TCP connection (start-to-listening). */
  readyMs: number;
  /** The last 64 KiB of the process's stdout+stderr. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM), SIGKILL after `timeoutMs`; resolves with the exit and how long it took. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export interface SpawnServerOptions {
  name: string;
  /** Executable (default: this node binary). */
  command?: string;
  args: string[];
  port: number;
  host?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Give up when the port does not accept connections within this time (default 30 s). */
  readyTimeoutMs?: number;
  /** How often the port is tried while waiting (default 50 ms; smaller for start-up timing). */
  pollMs?: number;
}

const OUTPUT_LIMIT = 64 * 1024;

function portAccepts(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Spawns a server and waits until its port accepts TCP connections. */
export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  const host = opts.host ?? '127.0.0.1';
  const t0 = performance.now();
  const child = spawn(opts.command ?? process.execPath, opts.args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => {
      hasExited = true;
      res({ code, signal });
    }),
  );
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  while (!(await portAccepts(opts.port, host))) {
    if (hasExited) throw new Error(`${opts.name} exited before listening:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${opts.name} did not listen on ${host}:${opts.port} in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
  const readyMs = performance.now() - t0;
  const pid = child.pid!;
  return {
    name: opts.name,
    pid,
    port: opts.port,
    child,
    readyMs,
    rssKiB: () => rssKiB(pid),
    peakRssKiB: () => peakRssKiB(pid),
    cpuTimeMs: () => cpuTimeMs(pid),
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000) {
      const t0 = performance.now();
      if (!hasExited) {
        child.kill(signal);
        const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        const r = await exited;
        clearTimeout(killer);
        return { ...r, ms: performance.now() - t0 };
      }
      return { ...(await exited), ms: 0 };
    },
  };
}

export interface EdgegateProcess extends ServerProcess {
  dataDir: string;
  /** Removes the data directory if this helper created it. */
  cleanup(): void;
}

export interface SpawnEdgegateOptions {
  /** Config overrides, passed as NODE_CONFIG (merged over config/default.json). */
  config?: Record<string, unknown>;
  /** Existing data directory (kept); default: a fresh temp dir removed by cleanup(). */
  dataDir?: string;
  /** TCP port; default: a free one. */
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Extra node flags before the CLI (e.g. ['--max-old-space-size=64']). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  pollMs?: number;
  /** Run this bundled CLI file (see bundle.ts) with plain node instead of src/ through tsx. */
  cliFile?: string;
}

/**
 * `edgegate run` in a child process on 127.0.0.1, from source (tsx), with a
 * temp data dir, the HTTP endpoint off unless configured, and log level warn.
 * A `cliFile` runs from its own package root (two levels above its directory):
 * that tree's config/ as NODE_CONFIG_DIR and its directory as cwd, so that an
 * older build (BENCH_BASELINE_CLI) reads the defaults it was written for.
 */
export async function spawnEdgegate(opts: SpawnEdgegateOptions = {}): Promise<EdgegateProcess> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'edgegate-bench-'));
  const port = opts.port ?? (await freePort());
  const user = opts.config ?? {};
  const config = {
    log: { level: 'warn' },
    http: { enabled: false },
    ...user,
    dataDir,
    listeners: {
      ...(user.listeners as object | undefined),
      tcp: { enabled: true, host: '127.0.0.1', port, ...((user.listeners as { tcp?: object } | undefined)?.tcp ?? {}) },
    },
  };
  const packageRoot = opts.cliFile && existsSync(join(cliPackageRoot(opts.cliFile), 'config')) ? cliPackageRoot(opts.cliFile) : REPO_ROOT;
  const proc = await spawnServer({
    name: 'edgegate',
    args: [...(opts.nodeArgs ?? []), ...(opts.cliFile ? [opts.cliFile] : EDGEGATE_CLI), 'run'],
    port,
    cwd: packageRoot,
    env: { NODE_CONFIG: JSON.stringify(config), NODE_CONFIG_DIR: join(packageRoot, 'config'), ...opts.env },
    readyTimeoutMs: opts.readyTimeoutMs,
    pollMs: opts.pollMs,
  });
  return { ...proc, dataDir, cleanup: () => ownDir && rmSync(dataDir, { recursive: true, force: true }) };
}

/** Plain aedes without authentication (scripts/bench/lib/servers/plainAedes.ts) in a child process. */
export async function spawnPlainAedes(opts: { port?: number; nodeArgs?: string[]; file?: string; pollMs?: number } = {}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const entry = opts.file ? [opts.file] : ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench', 'lib', 'servers', 'plainAedes.ts')];
  return spawnServer({
    name: 'aedes',
    args: [...(opts.nodeArgs ?? []), ...entry, String(port)],
    port,
    pollMs: opts.pollMs,
  });
}

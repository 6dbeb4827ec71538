// The real `edgegate` CLI in a child process (TypeScript through tsx), as
// systemd would run it: configuration from NODE_CONFIG, logs on stderr.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The CLI command line: node --import tsx src/cli/main.ts ... */
export function cliArgs(...args: string[]): string[] {
  return ['--import', 'tsx', 'src/cli/main.ts', ...args];
}

/** process.env without anything that would leak the test runner's systemd or config context. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'NODE_CONFIG', 'NODE_CONFIG_DIR', 'NODE_ENV']) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith('EDGEGATE_')) delete env[k];
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface ChildDaemon {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  waitForLog(match: (line: Record<string, unknown>) => boolean, what: string, ms?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnDaemon(config: Record<string, unknown>, env: Record<string, string | undefined> = {}): ChildDaemon {
  const child = spawn(process.execPath, cliArgs('run'), {
    cwd: REPO_ROOT,
    env: cleanEnv({ NODE_CONFIG: JSON.stringify(config), ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let text = '';
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    child,
    logs,
    stderr: () => text,
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    waitForLog(match, what, ms = 20_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = logs.find(match);
          if (!hit) return;
          clearTimeout(t);
          waiters.delete(check);
          resolve(hit);
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${what}: no such log line within ${ms} ms; stderr:\n${text}`));
        }, ms);
        waiters.add(check);
        void exited.then(() => {
          if (!waiters.has(check)) return;
          waiters.delete(check);
          clearTimeout(t);
          reject(new Error(`${what}: the daemon exited first; stderr:\n${text}`));
        });
      });
    },
  };
}

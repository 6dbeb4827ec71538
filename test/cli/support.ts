// Runs the real `edgegate` CLI from source (`node --import tsx src/cli/main.ts`)
// in a child process, with a clean environment apart from what the test sets.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../helpers/wait.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// tsx by absolute URL: `--import tsx` would be resolved from the child's cwd (a temp dir).
const CLI = ['--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'src', 'cli', 'main.ts')];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment for a CLI run: no inherited EDGEGATE_* / NODE_CONFIG*, plus `env`. */
export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('EDGEGATE_') && !k.startsWith('NODE_CONFIG') && k !== 'NODE_ENV') base[k] = v;
  }
  return { ...base, ...env };
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO_ROOT): ChildProcess & { out: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    out: { stdout: string; stderr: string };
  };
  child.out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (child.out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (child.out.stderr += d.toString()));
  return child;
}

export function exitOf(child: ChildProcess & { out: { stdout: string; stderr: string } }, timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resolvePromise({ code: child.exitCode, signal: child.signalCode as NodeJS.Signals | null, ...child.out });
    }
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not exit within ${timeoutMs} ms:\n${child.out.stderr}`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(t);
      resolvePromise({ code, signal, ...child.out });
    });
  });
}

/** Runs a CLI command to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<CliResult> {
  return exitOf(startCli(args, env, cwd));
}

/** Resolves once `pred(stderr)` holds for the running process's output. */
export async function waitForOutput(
  child: ChildProcess & { out: { stdout: string; stderr: string } },
  pred: (stderr: string) => boolean,
  ms = 15_000,
): Promise<void> {
  try {
    await waitUntil(() => pred(child.out.stderr) || child.exitCode !== null, { timeoutMs: ms, what: 'the expected output' });
  } catch {
    throw new Error(`expected output not seen:\n${child.out.stderr}`);
  }
  if (!pred(child.out.stderr)) throw new Error(`process exited (${child.exitCode}):\n${child.out.stderr}`);
}

/** Parses pino JSON lines from stderr (non-JSON lines are skipped). */
export function logLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

// Runs the real `edgegate` CLI under strace and returns the file-system calls it
// made, with file descriptors resolved to paths (-y): how a test sees that a
// write is fsynced, renamed into place and its directory fsynced, in that order,
// without a power-cut rig. Tests skip when strace is not installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CliResult, cliEnv, REPO_ROOT } from '../cli/support.js';

export const straceAvailable = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;

/** The syscalls worth seeing for durability: data and directory syncs, renames, links, creations. */
export const DURABILITY_CALLS = ['fsync', 'fdatasync', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'unlink', 'unlinkat', 'mkdir', 'mkdirat'];

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface TracedResult extends CliResult {
  /** One line per call, in order, without the pid prefix: `fsync(21</tmp/x/.jwt-secret.1.ab.tmp>) = 0`. */
  calls: string[];
}

export function runCliTraced(args: string[], env: NodeJS.ProcessEnv, cwd: string, syscalls = DURABILITY_CALLS, timeoutMs = 30_000): Promise<TracedResult> {
  const out = mkdtempSync(join(tmpdir(), 'edgegate-strace-'));
  const traceFile = join(out, 'trace');
  // --seccomp-bpf: only the traced calls stop the process, so the CLI runs at nearly full speed.
  const child = spawn(
    'strace',
    [
      '-f',
      '-qq',
      '-y',
      '--seccomp-bpf',
      '-e',
      `trace=${syscalls.join(',')}`,
      '-o',
      traceFile,
      process.execPath,
      '--import',
      TSX,
      join(REPO_ROOT, 'src', 'cli', 'main.ts'),
      ...args,
    ],
    { cwd, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`traced CLI did not exit within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      try {
        const calls = readFileSync(traceFile, 'utf8')
          .split('\n')
          .map((l) => l.replace(/^\d+\s+/, ''))
          .filter((l) => l !== '' && !l.startsWith('---') && !l.startsWith('+++'));
        resolve({ code, signal, stdout, stderr, calls });
      } catch (err) {
        reject(err as Error);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  });
}

/** Index of the first call at or after `from` that matches, or -1. */
export function indexOfCall(calls: string[], pattern: RegExp, from = 0): number {
  for (let i = from; i < calls.length; i++) if (pattern.test(calls[i]!)) return i;
  return -1;
}

/** Escapes a path for use inside a RegExp. */
export function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

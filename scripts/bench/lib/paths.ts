import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (scripts/bench/lib is three levels below it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The compiled daemon as installed gateways run it (`npm run build`), or undefined before a build. */
export function builtCli(): string | undefined {
  const file = resolve(REPO_ROOT, 'dist', 'cli', 'main.js');
  return existsSync(file) ? file : undefined;
}

/** The package root of a CLI file at <root>/dist/cli/main.js (two levels above its directory). */
export function cliPackageRoot(cliFile: string): string {
  return resolve(dirname(cliFile), '..', '..');
}

/** The version of `name` installed under `root`/node_modules, or undefined. */
export function installedVersion(name: string, root: string = REPO_ROOT): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Whether the aedes installed under `root` speaks MQTT 5 (aedes 2.x does, 1.x only 3.1/3.1.1). */
export function aedesSpeaksMqtt5(root: string = REPO_ROOT): boolean {
  return Number((installedVersion('aedes', root) ?? '0').split('.')[0]) >= 2;
}

/**
 * A second, older edgegate build to measure in the same run as this one:
 * BENCH_BASELINE_CLI=<its dist/cli/main.js>, e.g. a `git worktree` of an older
 * commit with its own `npm ci && npm run build`. The daemon then runs from that
 * tree: its own node_modules (its aedes), config/ and cwd. Its kind is
 * "edgegate-aedes1" (the name of the comparison it was added for: aedes 1.2 → 2),
 * and its plain aedes baseline "aedes1" is scripts/bench/lib/servers/plainAedes.ts
 * bundled against that tree's node_modules.
 */
export interface BaselineBuild {
  cli: string;
  root: string;
  aedesVersion: string;
}

export function baselineBuild(env: NodeJS.ProcessEnv = process.env): BaselineBuild | undefined {
  const cli = env.BENCH_BASELINE_CLI;
  if (!cli) return undefined;
  const file = resolve(cli);
  if (!existsSync(file)) throw new Error(`BENCH_BASELINE_CLI=${cli}: no such file (build that tree first: npm ci && npm run build)`);
  const root = cliPackageRoot(file);
  return { cli: file, root, aedesVersion: installedVersion('aedes', root) ?? 'unknown' };
}

/**
 * The build measured as "edgegate": BENCH_CLI=<a dist/cli/main.js> runs that build
 * from its own tree (its node_modules, config/, src/ for in-process figures, and
 * the plain aedes baseline on its aedes), e.g. a git worktree pinned at one commit
 * while others edit this one; else this repository's `npm run build` output
 * (cli undefined before a build).
 */
export interface EdgegateBuild {
  cli: string | undefined;
  root: string;
  aedesVersion: string;
}

export function edgegateBuild(env: NodeJS.ProcessEnv = process.env): EdgegateBuild {
  const cli = env.BENCH_CLI;
  if (!cli) return { cli: builtCli(), root: REPO_ROOT, aedesVersion: installedVersion('aedes') ?? 'unknown' };
  const file = resolve(cli);
  if (!existsSync(file)) throw new Error(`BENCH_CLI=${cli}: no such file (build that tree first: npm ci && npm run build)`);
  const root = cliPackageRoot(file);
  return { cli: file, root, aedesVersion: installedVersion('aedes', root) ?? 'unknown' };
}

// Compiles a TypeScript entry point into one plain-JS file for benchmarks, so the
// measured process carries no tsx loader (whose hook thread adds ~30 MiB RSS).
// The output lives in a temp "package root" whose config/, node_modules/,
// package.json and dist/build-info.json link back to the repository, so the
// code's own path logic (PACKAGE_ROOT = two levels above the file) holds.
// esbuild comes with tsx (a dev dependency); without it, callers fall back to tsx.
// `depsRoot` (default: this repository) is the tree whose node_modules the bundle
// resolves its packages from at run time: another checkout's, to run e.g. the
// plain aedes server on that checkout's aedes (BENCH_BASELINE_CLI, paths.ts).
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export interface Bundle {
  /** The bundled entry, to run with plain `node <file>`. */
  file: string;
  cleanup(): void;
}

/** Bundles `entry` (relative to the repo) into <tmp>/dist/<name>/main.js; undefined if esbuild is unavailable. */
export async function bundleEntry(entry: string, name: string, depsRoot: string = REPO_ROOT): Promise<Bundle | undefined> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const root = mkdtempSync(join(tmpdir(), 'edgegate-bundle-'));
  for (const link of ['config', 'node_modules', 'package.json']) symlinkSync(join(link === 'node_modules' ? depsRoot : REPO_ROOT, link), join(root, link));
  mkdirSync(join(root, 'dist', name), { recursive: true });
  const buildInfo = join(REPO_ROOT, 'dist', 'build-info.json');
  if (existsSync(buildInfo)) symlinkSync(buildInfo, join(root, 'dist', 'build-info.json'));
  const file = join(root, 'dist', name, 'main.js');
  await esbuild.build({
    entryPoints: [join(REPO_ROOT, entry)],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  return { file, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

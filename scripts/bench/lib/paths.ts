import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (scripts/bench/lib is three levels below it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The compiled daemon as installed gateways run it (`npm run build`), or undefined before a build. */
export function builtCli(): string | undefined {
  const file = resolve(REPO_ROOT, 'dist', 'cli', 'main.js');
  return existsSync(file) ? file : undefined;
}

import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (scripts/bench/lib is three levels below it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

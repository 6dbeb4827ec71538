// When this build was made: the lowest time the gateway clock can ever read
// (a token that had expired when the software was built can never be valid).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './config/load.js';

export function buildTimeMs(): number {
  try {
    const info = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dist', 'build-info.json'), 'utf8')) as { builtAtMs?: number };
    return typeof info.builtAtMs === 'number' ? info.builtAtMs : 0;
  } catch {
    return 0;
  }
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// The state directory: created owner-only (0700) on first start.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';

export function ensureDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  try {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  } catch (err) {
    throw ConfigError.at('dataDir', `cannot create ${dir}: ${errorMessage(err)}`);
  }
  return dir;
}

// The state directory: created owner-only (0700) on first start.
import { chmodSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';
import { mkdirDurableSync } from './atomicFile.js';

export function ensureDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  try {
    // Durable (its parent fsynced): after a power cut on first start the directory,
    // and with it the generated secret written into it, must still be found.
    if (mkdirDurableSync(dir, 0o700) !== undefined) chmodSync(dir, 0o700);
  } catch (err) {
    throw ConfigError.at('dataDir', `cannot create ${dir}: ${errorMessage(err)}`);
  }
  return dir;
}

// `edgegate config check`: validate and print the effective config, secrets redacted.

import { configDirs } from '../config/load.js';
import { redactConfig } from '../config/validate.js';
import { configOrExit } from './common.js';

export async function configCheck(): Promise<void> {
  const dirs = configDirs();
  const config = await configOrExit();
  process.stderr.write(`configuration is valid (read from ${dirs.join(', ')})\n`);
  process.stdout.write(JSON.stringify(redactConfig(config), null, 2) + '\n');
}

// Shared CLI plumbing: loading config with the right exit codes.

import { deprecatedKeysIn } from '../config/deprecations.js';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { ConfigError, EdgegateError, errorMessage } from '../errors.js';

/**
 * Loads and validates the configuration; on failure prints why and exits 2.
 * A deprecated key gets one warning line on stderr (never stdout: scripts read
 * that), except for `edgegate run`, whose daemon logs it as a warn line instead.
 */
export async function configOrExit(options: { warnDeprecated?: boolean } = {}): Promise<GatewayConfig> {
  let config: GatewayConfig;
  try {
    config = await loadConfig();
  } catch (err) {
    failAndExit(err);
  }
  if (options.warnDeprecated ?? true) {
    for (const d of deprecatedKeysIn(config)) process.stderr.write(`edgegate: warning: ${d.key} is deprecated: use ${d.use} (the old key still applies)\n`);
  }
  return config;
}

/** Prints an error the way a user can act on and exits (2 for config, 1 otherwise). */
export function failAndExit(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`edgegate: ${err.message}\n`);
    process.exit(ConfigError.EXIT_CODE);
  }
  const code = err instanceof EdgegateError ? ` [${err.code}]` : '';
  process.stderr.write(`edgegate: ${errorMessage(err)}${code}\n`);
  process.exit(1);
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

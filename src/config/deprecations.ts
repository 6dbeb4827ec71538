// Keys that still work under an old name. The old value is copied to the new key
// during validation (validate.ts), and whoever starts with the configuration (the
// daemon, the CLI) warns once, naming the key to use instead.
import type { GatewayConfig } from './types.js';

export interface Deprecation {
  key: string;
  use: string;
}

/** Copies deprecated keys onto their successors; returns those found set. */
export function applyDeprecatedAliases(config: GatewayConfig): Deprecation[] {
  const found: Deprecation[] = [];
  // bridge.queue.sync (until storage.sync covered every write): when set, it still decides.
  if (config.bridge.queue.sync !== '') {
    config.storage.sync = config.bridge.queue.sync;
    found.push({ key: 'bridge.queue.sync', use: 'storage.sync' });
  }
  return found;
}

/** The deprecated keys set in a validated configuration (for the start-up warning). */
export function deprecatedKeysIn(config: GatewayConfig): Deprecation[] {
  return config.bridge.queue.sync !== '' ? [{ key: 'bridge.queue.sync', use: 'storage.sync' }] : [];
}

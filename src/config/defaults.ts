// The schema's defaults as one document: what config/default.json holds (it is
// generated from this, scripts/config-generate.ts). node-config still reads the
// file at start-up, so the installed package's /etc/edgegate/default.json stays
// a readable reference of every default.
import { configSpec } from './schema.js';
import { join, type Spec } from './spec.js';

/**
 * The default of every key outside arrays (array items get theirs when they are
 * checked). Throws naming the key when one has none: every key outside arrays
 * must have a default, or a configuration directory holding only local.json
 * would not make a complete configuration.
 */
export function defaultsOf(spec: Spec, path = ''): unknown {
  if (spec.kind === 'object') {
    return Object.fromEntries(Object.entries(spec.fields).map(([key, field]) => [key, defaultsOf(field, join(path, key))]));
  }
  if (spec.default === undefined) throw new Error(`${path}: the schema gives no default`);
  return structuredClone(spec.default);
}

/** The text of config/default.json. */
export function defaultJsonText(): string {
  return JSON.stringify(defaultsOf(configSpec), null, 2) + '\n';
}

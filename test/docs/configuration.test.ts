// docs/configuration.md must have one row for every key of the schema, and
// config/default.json a default for every key outside arrays.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { embeddedDefaults } from '../../src/config/load.js';
import { configSpec } from '../../src/config/schema.js';
import type { Spec } from '../../src/config/spec.js';

function keyPaths(spec: Spec, path: string, out: string[]): string[] {
  if (spec.kind === 'object') for (const [k, s] of Object.entries(spec.fields)) keyPaths(s, path ? `${path}.${k}` : k, out);
  else if (spec.kind === 'array' && spec.items.kind === 'object') {
    out.push(`${path}[]`);
    keyPaths(spec.items, `${path}[]`, out);
  } else out.push(path);
  return out;
}

function has(obj: unknown, path: string): boolean {
  let cur = obj as Record<string, unknown> | undefined;
  for (const part of path.split('.')) {
    if (cur === undefined || typeof cur !== 'object' || !(part in cur)) return false;
    cur = cur[part] as Record<string, unknown>;
  }
  return true;
}

describe('configuration documentation', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const paths = keyPaths(configSpec, '', []);

  it('documents every key in the one table', () => {
    const missing = paths.filter((p) => !doc.includes(`| \`${p}\` |`));
    assert.deepEqual(missing, []);
  });

  it('has a default in config/default.json for every key outside arrays', () => {
    const defaults = embeddedDefaults();
    const missing = paths.filter((p) => !p.includes('[]') && !has(defaults, p));
    assert.deepEqual(missing, []);
  });
});

// config/default.json is generated from the schema (npm run config:generate):
// node-config reads the file, the schema holds the defaults, and they must agree
// key by key, so what `npm start` runs on is what the schema and the docs say.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultJsonText, defaultsOf } from '../../src/config/defaults.js';
import { buildConfig } from '../../src/config/load.js';
import { configSpec } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { REPO_ROOT } from '../cli/support.js';

/** Every leaf path of a JSON value (arrays and objects with no keys count as leaves). */
function leaves(value: unknown, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out);
  } else out.set(path, value);
  return out;
}

describe('config/default.json', () => {
  const text = readFileSync(join(REPO_ROOT, 'config', 'default.json'), 'utf8');

  it('holds the schema default of every key, key by key', () => {
    const file = leaves(JSON.parse(text));
    const schema = leaves(defaultsOf(configSpec));
    const differing = [...new Set([...file.keys(), ...schema.keys()])]
      .filter((k) => JSON.stringify(file.get(k)) !== JSON.stringify(schema.get(k)))
      .map((k) => `${k}: default.json ${JSON.stringify(file.get(k))}, schema ${JSON.stringify(schema.get(k))}`);
    assert.deepEqual(differing, []);
  });

  it('is exactly what npm run config:generate writes (key order, layout)', () => {
    assert.equal(text, defaultJsonText(), 'config/default.json is out of date: run npm run config:generate');
  });

  it('validates to the same configuration as the schema alone (what buildConfig and npm start run on)', () => {
    assert.deepEqual(buildConfig(), validateConfig({}));
  });
});

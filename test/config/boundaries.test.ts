// The configuration is below every capability: src/config/ imports nothing from
// auth, broker, bridge, serial, ops or cli (they import from it), so validating
// a configuration never loads a capability.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../cli/support.js';

const CAPABILITIES = ['auth', 'broker', 'bridge', 'serial', 'ops', 'cli'];

describe('src/config/ dependencies', () => {
  it('imports nothing from a capability folder', () => {
    const configDir = join(REPO_ROOT, 'src', 'config');
    const files = readdirSync(configDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 0);
    const offending: string[] = [];
    for (const file of files) {
      const source = readFileSync(join(configDir, file), 'utf8');
      for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = relative(join(REPO_ROOT, 'src'), resolve(dirname(join(configDir, file)), specifier!));
        if (CAPABILITIES.includes(target.split(/[\\/]/)[0]!)) offending.push(`src/config/${file} imports ${specifier}`);
      }
    }
    assert.deepEqual(offending, []);
  });
});

// docs/errors.md and the catalogue in src/errors.ts must list the same codes, and
// no error a user can meet escapes the catalogue: a code string outside it, or an
// error class that does not carry a code (extends Error instead of EdgegateError).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FleetRefusalReason } from '../../src/auth/fleetProtocol.js';
import { REASONS } from '../../src/auth/reasons.js';
import { ERROR_CODES } from '../../src/errors.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const CODES = Object.keys(ERROR_CODES);

/** The source files of src/, as [path relative to src/, text]. */
function sources(): [string, string][] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => [f.split('\\').join('/'), readFileSync(join(SRC, f), 'utf8')]);
}

/** The codes of the table's rows: `| \`EDGEGATE_…\` |` at the start of a line. */
function documentedCodes(doc: string): string[] {
  return [...doc.matchAll(/^\| `(EDGEGATE_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);
}

/** The row of `code` in docs/errors.md. */
function rowOf(doc: string, code: string): string {
  return doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`)) ?? '';
}

describe('error codes', () => {
  const doc = read('docs/errors.md');

  it('are EDGEGATE_ names with a one-line meaning', () => {
    assert.ok(CODES.length >= 13);
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^EDGEGATE_[A-Z0-9_]+$/);
      assert.ok(meaning.length > 0 && !meaning.includes('\n'), code);
    }
  });

  it('has a row in docs/errors.md for every code of the catalogue', () => {
    const documented = new Set(documentedCodes(doc));
    assert.deepEqual(
      CODES.filter((c) => !documented.has(c)),
      [],
    );
  });

  it('documents no code the catalogue does not have, and each once', () => {
    const documented = documentedCodes(doc);
    assert.deepEqual(
      documented.filter((c) => !(c in ERROR_CODES)),
      [],
    );
    assert.deepEqual(
      documented.filter((c, i) => documented.indexOf(c) !== i),
      [],
    );
  });

  // The two refusals share one code each; their reasons are what a user sees, so they are documented too.
  it('documents every reason of an authentication refusal in authentication.md', () => {
    const auth = read('docs/authentication.md');
    assert.deepEqual(
      Object.keys(REASONS).filter((r) => !auth.includes(`| \`${r}\` |`)),
      [],
    );
    assert.ok(rowOf(doc, 'EDGEGATE_AUTH_REFUSED').includes('authentication.md#refusals-and-reason-codes'));
  });

  it('names every reason of a fleet refusal in its row', () => {
    // A Record over the union: the compiler fails this test when a reason is added or removed.
    const reasons: Record<FleetRefusalReason, true> = {
      unsigned: true,
      malformed: true,
      too_large: true,
      unknown_key: true,
      bad_signature: true,
      replay: true,
    };
    const row = rowOf(doc, 'EDGEGATE_FLEET_REFUSED');
    assert.deepEqual(
      Object.keys(reasons).filter((r) => !row.includes(`\`${r}\``)),
      [],
    );
  });

  it('uses no EDGEGATE_ string in src/ that is neither a catalogue code nor an environment variable', () => {
    // Environment variables share the prefix; config/custom-environment-variables.json declares them.
    const envVars = new Set(read('config/custom-environment-variables.json').match(/EDGEGATE_[A-Z0-9_]+/g));
    const stray: string[] = [];
    for (const [file, text] of sources()) {
      if (file === 'errors.ts') continue;
      for (const m of text.matchAll(/(['"`])(EDGEGATE_[A-Z0-9_]+)\1/g)) {
        if (!(m[2]! in ERROR_CODES) && !envVars.has(m[2]!)) stray.push(`${file}: ${m[2]}`);
      }
    }
    assert.deepEqual(stray, []);
  });

  it('has every error class of src/ extend EdgegateError, so that it carries a code', () => {
    // Classes that may extend an error class without a code, each with why. None may today.
    const allowed: Record<string, string> = {};
    const parentOf = new Map<string, string>();
    const where = new Map<string, string>();
    for (const [file, text] of sources()) {
      for (const m of text.matchAll(/\bclass\s+(?:(\w+)\s*(?:<[^>{]*>)?\s+)?extends\s+([\w.]+)/g)) {
        const name = m[1] ?? `(anonymous class in ${file})`;
        parentOf.set(name, m[2]!.split('.').pop()!);
        where.set(name, file);
      }
    }
    // Sanity: the scan sees the classes it is about.
    for (const known of ['AuthRefusal', 'FleetRefusal', 'JwksFetchError', 'SnapshotTooLarge', 'ConfigError']) assert.ok(parentOf.has(known), known);
    const uncoded: string[] = [];
    for (const name of parentOf.keys()) {
      let current = name;
      const seen = new Set<string>();
      while (parentOf.has(current) && current !== 'EdgegateError' && !seen.has(current)) {
        seen.add(current);
        current = parentOf.get(current)!;
      }
      // Past EdgegateError (the root) the chain left src/: a built-in or library error class, or no error at all.
      if (current !== 'EdgegateError' && /Error$/.test(current) && !(name in allowed)) uncoded.push(`${where.get(name)}: ${name} extends ${current}`);
    }
    assert.deepEqual(uncoded, []);
  });
});

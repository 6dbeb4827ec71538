// The key table of docs/configuration.md is generated from the schema (npm run
// config:generate): every column of every row (key, type, default, meaning) must
// be what the schema says, in the schema's order.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyRows, keyTable, TABLE_END, TABLE_START, withKeyTable } from '../../src/config/docTable.js';
import { REPO_ROOT } from '../cli/support.js';

/** The rows between the markers, split into cells (a pipe inside a cell is written `\|`, never ` | `). */
function documentedRows(doc: string): string[][] {
  const table = doc.slice(doc.indexOf(TABLE_START) + TABLE_START.length, doc.indexOf(TABLE_END));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.slice(2, -2).split(/ \| /));
}

describe('configuration documentation, generated from the schema', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');

  it('has its key table between the markers', () => {
    assert.ok(doc.includes(TABLE_START) && doc.indexOf(TABLE_END) > doc.indexOf(TABLE_START));
  });

  it('documents every key with the type, default and meaning of the schema, column by column', () => {
    const documented = new Map(documentedRows(doc).map((cells) => [cells[0], cells]));
    const expected = keyTable(keyRows())
      .split('\n')
      .slice(2)
      .map((line) => line.slice(2, -2).split(/ \| /));
    const wrong: string[] = [];
    for (const cells of expected) {
      const row = documented.get(cells[0]);
      if (!row) {
        wrong.push(`${cells[0]}: missing`);
        continue;
      }
      ['key', 'type', 'default', 'meaning'].forEach((column, i) => {
        if (row[i] !== cells[i]) wrong.push(`${cells[0]} ${column}: documented ${JSON.stringify(row[i])}, schema ${JSON.stringify(cells[i])}`);
      });
    }
    const known = new Set(expected.map((cells) => cells[0]));
    for (const key of documented.keys()) if (!known.has(key)) wrong.push(`${key}: not in the schema`);
    assert.deepEqual(wrong, []);
  });

  it('is exactly what npm run config:generate writes', () => {
    assert.equal(doc, withKeyTable(doc), 'docs/configuration.md is out of date: run npm run config:generate');
  });

  it('gives every key a description, and a default unless it is required', () => {
    for (const row of keyRows()) {
      assert.notEqual(row.meaning.trim(), '', row.key);
      assert.notEqual(row.default, '', row.key);
    }
  });
});

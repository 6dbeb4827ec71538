// The key table of docs/configuration.md, written from the schema: one row per
// key with its type, default and description. scripts/config-generate.ts puts it
// between the markers; test/docs/configurationTable.test.ts fails when the
// committed table differs from what the schema says.
import { configSpec } from './schema.js';
import { join, type Spec } from './spec.js';

export const TABLE_START = '<!-- config-table: generated from src/config/schema.ts by `npm run config:generate`; edit the schema, not this table -->';
export const TABLE_END = '<!-- /config-table -->';

export interface KeyRow {
  key: string;
  type: string;
  default: string;
  meaning: string;
}

/** Every documented key in schema order: leaves, plus `x[]` for a list of objects followed by its items' keys. */
export function keyRows(spec: Spec = configSpec, path = ''): KeyRow[] {
  if (spec.kind === 'object') return Object.entries(spec.fields).flatMap(([key, field]) => keyRows(field, join(path, key)));
  const list = spec.kind === 'array' && spec.items.kind === 'object';
  const row = { key: list ? `${path}[]` : path, type: typeOf(spec), default: defaultOf(spec), meaning: spec.description ?? '' };
  if (row.meaning === '') throw new Error(`${path}: the schema gives no description`);
  if (list) return [row, ...keyRows(spec.items, `${path}[]`)];
  return [row];
}

/** The table, header included, as Markdown lines. */
export function keyTable(rows: KeyRow[] = keyRows()): string {
  const cells = (r: KeyRow): string[] => [code(r.key), r.type, r.default, r.meaning];
  return ['| key | type | default | meaning |', '|---|---|---|---|', ...rows.map((r) => `| ${cells(r).map(escapeCell).join(' | ')} |`)].join('\n');
}

/** `doc` with the text between the table markers replaced by the table the schema gives. */
export function withKeyTable(doc: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`the markers ${TABLE_START} and ${TABLE_END} are missing`);
  // Blank lines around the table: Markdown must not read a marker as part of it.
  return `${doc.slice(0, start + TABLE_START.length)}\n\n${keyTable()}\n\n${doc.slice(end)}`;
}

function code(value: string | number): string {
  return `\`${value}\``;
}

// A `|` inside a cell, even inside a code span, would end the cell.
function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function defaultOf(spec: Spec): string {
  if (spec.kind === 'object' || spec.default === undefined) return 'required' in spec && spec.required ? 'required' : '';
  return shown(spec.default);
}

// An empty string or one with a control character (the "\n" delimiter) is shown as a JSON string.
function shown(value: unknown): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
  if (typeof value === 'string') return code(value === '' || /[\u0000-\u001f]/.test(value) ? JSON.stringify(value) : value);
  return code(JSON.stringify(value));
}

/** Human words for a key's type; `many` for the items of a list or the values of an object. */
function typeOf(spec: Spec, many = false): string {
  const s = many ? 's' : '';
  const oneOf = (values: readonly (string | number)[]): string => `${many ? 'each ' : ''}one of ${values.map(shown).join(', ')}`;
  switch (spec.kind) {
    case 'string':
      if (spec.enum) return oneOf(spec.enum);
      if (spec.file) return `file path${s}`;
      return `${spec.secret ? 'secret ' : ''}${spec.nonEmpty ? 'non-empty ' : ''}string${s}`;
    case 'number':
      if (spec.values) return oneOf(spec.values);
      return `${spec.integer ? 'integer' : 'number'}${s}${range(spec.min, spec.max)}`;
    case 'boolean':
      return `boolean${s}`;
    case 'object':
      return `object${s}`;
    case 'record':
      return `object of ${typeOf(spec.values, true)}`;
    case 'array': {
      const items = typeOf(spec.items, true);
      const bound = spec.maxItems === undefined ? '' : ` (at most ${spec.maxItems})`;
      return `${items.startsWith('each ') ? `list, ${items}` : `list of ${items}`}${bound}`;
    }
  }
}

function range(min: number | undefined, max: number | undefined): string {
  // Number.MAX_SAFE_INTEGER is "no maximum" (JSON numbers beyond it lose precision).
  const upper = max === undefined || max >= Number.MAX_SAFE_INTEGER ? undefined : max;
  if (min !== undefined && upper !== undefined) return `, ${min}..${upper}`;
  if (min !== undefined) return `, >= ${min}`;
  if (upper !== undefined) return `, <= ${upper}`;
  return '';
}

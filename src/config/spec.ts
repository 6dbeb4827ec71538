// A tiny declarative schema language: enough to validate the whole config with
// key-path errors, fill defaults (node-config does not merge defaults into array
// items), know which keys are secrets or file paths, and derive the TypeScript
// types (Infer) — so the schema is the only place a key is written down. Each key
// also carries its default and description: config/default.json and the key
// table of docs/configuration.md are generated from them (defaults.ts, docTable.ts).
import { closestKey } from './suggest.js';

/** What every key may carry for its documentation (Markdown, one table cell). */
interface Documented {
  description?: string;
}

export interface StringSpec<T extends string = string> extends Documented {
  kind: 'string';
  enum?: readonly T[];
  secret?: boolean;
  file?: boolean;
  default?: T;
  required?: boolean;
  nonEmpty?: boolean;
}
export interface NumberSpec<T extends number = number> extends Documented {
  kind: 'number';
  integer?: boolean;
  min?: number;
  max?: number;
  /** The only values allowed (checked after the range, whose messages come first). */
  values?: readonly T[];
  default?: T;
  required?: boolean;
}
export interface BooleanSpec extends Documented {
  kind: 'boolean';
  default?: boolean;
  required?: boolean;
}
export interface ObjectSpec<F extends Fields = Fields> extends Documented {
  kind: 'object';
  fields: F;
  required?: boolean;
}
export interface RecordSpec<V extends Spec = Spec> extends Documented {
  kind: 'record';
  values: V;
  default?: Record<string, unknown>;
}
export interface ArraySpec<I extends Spec = Spec> extends Documented {
  kind: 'array';
  items: I;
  default?: unknown[];
  maxItems?: number;
}
export type Spec = StringSpec | NumberSpec | BooleanSpec | ObjectSpec | RecordSpec | ArraySpec;
export type Fields = { readonly [key: string]: Spec };

/** The TypeScript type of a value that passed `check` against a spec of type S. */
export type Infer<S extends Spec> =
  S extends StringSpec<infer T>
    ? T
    : S extends NumberSpec<infer T>
      ? T
      : S extends BooleanSpec
        ? boolean
        : S extends ObjectSpec<infer F>
          ? { -readonly [K in keyof F]: Infer<F[K]> }
          : S extends RecordSpec<infer V>
            ? Record<string, Infer<V>>
            : S extends ArraySpec<infer I>
              ? Infer<I>[]
              : never;

// The builders of a key that is documented (a row of the table) take its default and description.
type Options<S, Also extends string = never> = Omit<S, 'kind' | Also>;
export const str = (opts: Options<StringSpec> = {}): StringSpec => ({ kind: 'string', ...opts });
export const num = (opts: Options<NumberSpec> = {}): NumberSpec => ({ kind: 'number', ...opts });
export const int = (min: number, max: number, def: number, description: string): NumberSpec => ({
  kind: 'number',
  integer: true,
  min,
  max,
  default: def,
  description,
});
export const bool = (def: boolean, description: string): BooleanSpec => ({ kind: 'boolean', default: def, description });
export const obj = <F extends Fields>(fields: F): ObjectSpec<F> => ({ kind: 'object', fields });
export const oneOf = <const T extends string>(values: readonly T[], def?: NoInfer<T>, description?: string): StringSpec<T> => ({
  kind: 'string',
  enum: values,
  default: def,
  description,
});
export const file = (description: string): StringSpec => ({ kind: 'string', file: true, default: '', description });
export const secret = (description: string): StringSpec => ({ kind: 'string', secret: true, default: '', description });
export const port = (def: number, description: string): NumberSpec => int(0, 65535, def, description);
export const list = <I extends Spec>(items: I, opts: Options<ArraySpec<I>, 'items'> = {}): ArraySpec<I> => ({ kind: 'array', items, default: [], ...opts });
export const record = <V extends Spec>(values: V, description: string): RecordSpec<V> => ({ kind: 'record', values, default: {}, description });

/**
 * A number that must be one of `values` (its type is their union). The range and
 * integer checks derived from them come first, so a contiguous run of integers
 * (QoS 0..1, data bits 5..8) is refused with the same messages as int(min, max).
 */
export const numOf = <const T extends number>(values: readonly T[], def: NoInfer<T>, description: string): NumberSpec<T> => ({
  kind: 'number',
  integer: values.every((v) => Number.isInteger(v)),
  min: Math.min(...values),
  max: Math.max(...values),
  values,
  default: def,
  description,
});

export interface Problem {
  path: string;
  message: string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}

/** Validates `value` against `spec`, returning a normalised copy with defaults filled in. */
export function check(spec: Spec, value: unknown, path: string, problems: Problem[]): unknown {
  const fail = (message: string): undefined => {
    problems.push({ path, message });
    return undefined;
  };
  if (value === undefined) {
    if ('default' in spec && spec.default !== undefined) return structuredClone(spec.default);
    if (spec.kind === 'object') return check(spec, {}, path, problems);
    return fail('is required');
  }
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string') return fail(`must be a string, got ${describe(value)}`);
      if (spec.enum && !spec.enum.includes(value)) {
        return fail(`must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`);
      }
      if (spec.nonEmpty && value.length === 0) return fail('must not be empty');
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`must be a number, got ${describe(value)}`);
      if (spec.integer && !Number.isInteger(value)) return fail(`must be an integer, got ${value}`);
      if (spec.min !== undefined && value < spec.min) return fail(`must be >= ${spec.min}, got ${value}`);
      if (spec.max !== undefined && value > spec.max) return fail(`must be <= ${spec.max}, got ${value}`);
      if (spec.values && !spec.values.includes(value)) return fail(`must be one of ${spec.values.join(', ')}, got ${value}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') return fail(`must be true or false, got ${describe(value)}`);
      return value;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`must be an object, got ${describe(value)}`);
      const out: Record<string, unknown> = {};
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (Object.hasOwn(spec.fields, key)) continue;
        const meant = closestKey(key, Object.keys(spec.fields));
        problems.push({ path: join(path, key), message: meant ? `is not a known key; did you mean "${join(path, meant)}"?` : 'is not a known key' });
      }
      for (const [key, fieldSpec] of Object.entries(spec.fields)) {
        out[key] = check(fieldSpec, input[key], join(path, key), problems);
      }
      return out;
    }
    case 'record': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`must be an object, got ${describe(value)}`);
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) out[key] = check(spec.values, v, join(path, key), problems);
      return out;
    }
    case 'array': {
      if (!Array.isArray(value)) return fail(`must be an array, got ${describe(value)}`);
      if (spec.maxItems !== undefined && value.length > spec.maxItems) return fail(`must have at most ${spec.maxItems} items`);
      return value.map((item, i) => check(spec.items, item, `${path}[${i}]`, problems));
    }
  }
}

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Calls `visit` for every string leaf whose spec has the given flag, with its key path. */
export function walkFlagged(
  spec: Spec,
  value: unknown,
  flag: 'secret' | 'file',
  visit: (path: string, value: string, set: (v: string) => void) => void,
  path = '',
  set: (v: string) => void = () => undefined,
): void {
  if (value === undefined || value === null) return;
  if (spec.kind === 'string' && spec[flag] && typeof value === 'string') visit(path, value, set);
  else if (spec.kind === 'object' && typeof value === 'object') {
    const rec = value as Record<string, unknown>;
    for (const [k, s] of Object.entries(spec.fields)) walkFlagged(s, rec[k], flag, visit, join(path, k), (v) => (rec[k] = v));
  } else if (spec.kind === 'array' && Array.isArray(value)) {
    for (const [i, item] of value.entries()) walkFlagged(spec.items, item, flag, visit, `${path}[${i}]`, (v) => (value[i] = v));
  } else if (spec.kind === 'record' && typeof value === 'object') {
    const rec = value as Record<string, unknown>;
    for (const k of Object.keys(rec)) walkFlagged(spec.values, rec[k], flag, visit, join(path, k), (v) => (rec[k] = v));
  }
}

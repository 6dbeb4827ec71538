// A tiny declarative schema language: enough to validate the whole config with
// key-path errors, fill defaults inside array items (node-config does not merge
// defaults into arrays) and know which keys are secrets or file paths.
import { closestKey } from './suggest.js';

export type Spec =
  | { kind: 'string'; enum?: readonly string[]; secret?: boolean; file?: boolean; default?: string; required?: boolean; nonEmpty?: boolean }
  | { kind: 'number'; integer?: boolean; min?: number; max?: number; default?: number; required?: boolean }
  | { kind: 'boolean'; default?: boolean; required?: boolean }
  | { kind: 'object'; fields: Record<string, Spec>; required?: boolean }
  | { kind: 'record'; values: Spec; default?: Record<string, unknown> }
  | { kind: 'array'; items: Spec; default?: unknown[]; maxItems?: number };

export const str = (opts: Omit<Extract<Spec, { kind: 'string' }>, 'kind'> = {}): Spec => ({ kind: 'string', ...opts });
export const num = (opts: Omit<Extract<Spec, { kind: 'number' }>, 'kind'> = {}): Spec => ({ kind: 'number', ...opts });
export const int = (min: number, max: number, def?: number): Spec => ({ kind: 'number', integer: true, min, max, default: def });
export const bool = (def?: boolean): Spec => ({ kind: 'boolean', default: def });
export const obj = (fields: Record<string, Spec>): Spec => ({ kind: 'object', fields });
export const oneOf = (values: readonly string[], def?: string): Spec => ({ kind: 'string', enum: values, default: def });
export const file = (): Spec => ({ kind: 'string', file: true });
export const secret = (): Spec => ({ kind: 'string', secret: true });
export const port = (): Spec => int(0, 65535);

export interface Problem {
  path: string;
  message: string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}

/** Validates `value` against `spec`, returning a normalised copy with item defaults filled in. */
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
      if (spec.enum && !spec.enum.includes(value)) return fail(`must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`);
      if (spec.nonEmpty && value.length === 0) return fail('must not be empty');
      return value;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`must be a number, got ${describe(value)}`);
      if (spec.integer && !Number.isInteger(value)) return fail(`must be an integer, got ${value}`);
      if (spec.min !== undefined && value < spec.min) return fail(`must be >= ${spec.min}, got ${value}`);
      if (spec.max !== undefined && value > spec.max) return fail(`must be <= ${spec.max}, got ${value}`);
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

function join(path: string, key: string): string {
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
    value.forEach((item, i) => walkFlagged(spec.items, item, flag, visit, `${path}[${i}]`, (v) => (value[i] = v)));
  } else if (spec.kind === 'record' && typeof value === 'object') {
    const rec = value as Record<string, unknown>;
    for (const k of Object.keys(rec)) walkFlagged(spec.values, rec[k], flag, visit, join(path, k), (v) => (rec[k] = v));
  }
}

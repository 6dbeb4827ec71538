// Turns one framed line into an MQTT payload according to the port's format:
//  json: the line must be JSON; published compact (insignificant whitespace removed,
//        numbers and strings kept exactly as the device wrote them)
//  kv:   `t=21.5 h=40 ok=true name="living room"` → {"t":21.5,"h":40,"ok":true,"name":"living room"}
//  text: the line's bytes as they are
// A line that does not parse yields a stable reason code instead of a payload.

export type LineFormat = 'json' | 'kv' | 'text';
export type ParseFailure = 'SERIAL_INVALID_UTF8' | 'SERIAL_INVALID_JSON' | 'SERIAL_INVALID_KV';
export type FormatResult = { ok: true; payload: Buffer } | { ok: false; reason: ParseFailure };

// fatal: a line with invalid UTF-8 (line noise) is rejected rather than "repaired" with U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function formatLine(format: LineFormat, line: Buffer): FormatResult {
  if (format === 'text') return { ok: true, payload: Buffer.from(line) };
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { ok: false, reason: 'SERIAL_INVALID_UTF8' };
  }
  if (format === 'json') {
    const compact = compactJson(text);
    return compact === undefined ? { ok: false, reason: 'SERIAL_INVALID_JSON' } : { ok: true, payload: Buffer.from(compact, 'utf8') };
  }
  const object = parseKeyValues(text);
  return object === undefined ? { ok: false, reason: 'SERIAL_INVALID_KV' } : { ok: true, payload: Buffer.from(JSON.stringify(object), 'utf8') };
}

/** The JSON text without insignificant whitespace, or undefined when it is not JSON. */
export function compactJson(text: string): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!/[ \t\r\n]/.test(text)) return text;
  // Valid JSON, so the only whitespace that matters is inside strings.
  let out = '';
  let runStart = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      out += text.slice(runStart, i);
      runStart = i + 1;
    }
  }
  return out + text.slice(runStart);
}

// A JSON number (with an optional leading "+"). Integers with leading zeros such as
// serial numbers ("id=00123") stay strings so nothing is lost.
const NUMBER = /^[-+]?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/**
 * `k=v` pairs separated by spaces or tabs; undefined when a token is not `key=value`.
 * A value may be double-quoted to hold spaces, tabs or `=` (`name="living room"`):
 * inside the quotes `\"` is a quote and `\\` a backslash (any other backslash is kept
 * as it is); a quoted value is always a string and must be followed by a space, a tab or
 * the end of the line. An unterminated quote makes the line invalid.
 */
export function parseKeyValues(text: string): Record<string, unknown> | undefined {
  // A prototype-less object: a key named "__proto__" is just a key.
  const out = Object.create(null) as Record<string, unknown>;
  let pairs = 0;
  const n = text.length;
  let i = 0;
  for (;;) {
    while (i < n && isBlank(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isBlank(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x3d) i++;
    if (i === start || i >= n || text.charCodeAt(i) !== 0x3d) return undefined; // empty key, or a token without '='
    const key = text.slice(start, i);
    i++; // '='
    if (i < n && text.charCodeAt(i) === 0x22) {
      const quoted = readQuoted(text, i + 1);
      if (quoted === undefined) return undefined;
      out[key] = quoted.value;
      i = quoted.end;
      if (i < n && !isBlank(text.charCodeAt(i))) return undefined; // `a="x"y`
    } else {
      const vStart = i;
      while (i < n && !isBlank(text.charCodeAt(i))) i++;
      out[key] = typedValue(text.slice(vStart, i));
    }
    pairs++;
  }
  return pairs > 0 ? out : undefined;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** The value of a quoted string whose opening quote is just before `from`, and the index after the closing quote. */
function readQuoted(text: string, from: number): { value: string; end: number } | undefined {
  let value = '';
  let runStart = from;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return { value: value + text.slice(runStart, i), end: i + 1 };
    if (c === 0x5c && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next === 0x22 || next === 0x5c) {
        value += text.slice(runStart, i);
        runStart = i + 1; // keep the escaped character itself
        i++;
      }
    }
  }
  return undefined; // unterminated
}

function typedValue(value: string): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (NUMBER.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return value;
}

// JSON from outside the process - a /healthz answer fetched over HTTP, a health
// summary read from the cloud, a token's claims, a request body - has no known
// shape: it is checked where it comes in, with these. What the daemon builds
// itself (the status board, the health report) is typed by its owners instead.

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** A JSON object; any key may be missing. */
export interface JsonObject {
  [key: string]: JsonValue | undefined;
}

/** `value` when it is a JSON object (not null, not an array), else undefined. */
export function jsonObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/** The JSON object `text` holds; undefined when it is not JSON, or JSON but not an object. */
export function parseJsonObject(text: string): JsonObject | undefined {
  try {
    return jsonObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** `value` when it is a string, else undefined. */
export function jsonString(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `value` when it is a number, else undefined. */
export function jsonNumber(value: JsonValue | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

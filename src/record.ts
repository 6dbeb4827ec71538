// The status object is JSON-shaped and read by several consumers (/healthz, $SYS,
// the metrics scrape, `edgegate status`, the status page): one check for "is this
// a plain object?" instead of one per reader.

/** `value` as an object with string keys, or undefined when it is not one (null, array, scalar). */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

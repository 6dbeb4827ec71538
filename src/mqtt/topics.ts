// MQTT topic filter matching (MQTT 3.1.1 section 4.7) and filter containment.

/** Does `topic` (a topic name) match `filter`? Wildcard filters never match `$` topics (4.7.2). */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Is every topic matched by `requested` also matched by `allowed`? So `cmd/c1/#`
 * contains `cmd/c1/x/+` and `cmd/c1`, but not `cmd/#`.
 */
export function filterContains(allowed: string, requested: string): boolean {
  if (requested.startsWith('$') !== allowed.startsWith('$') && (allowed.startsWith('+') || allowed.startsWith('#'))) return false;
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    const level = a[i];
    if (level === '#') return i === a.length - 1;
    if (i >= r.length) return false;
    const req = r[i];
    if (req === '#') return false;
    if (level === '+') continue;
    if (req === '+' || req !== level) return false;
  }
  if (r.length === a.length) return true;
  return false;
}

/** A syntactically valid filter per 4.7.1: `#` only last and alone, `+` alone in its level. */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => {
    if (level.includes('#')) return level === '#' && i === levels.length - 1;
    if (level.includes('+')) return level === '+';
    return true;
  });
}

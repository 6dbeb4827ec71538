// The oldest Node.js edgegate runs on. 20.12 brought crypto.hash (the one-shot
// digest every CONNECT uses); on an older Node the daemon would fail at import
// with "'node:crypto' does not provide an export named 'hash'", which tells a
// user nothing. package.json "engines" and scripts/install.sh say the same.
export const MIN_NODE_VERSION = '20.12.0';

/** True when `version` ("v20.11.1" or "20.11.1") is at least `minimum`. */
export function nodeVersionAtLeast(version: string, minimum = MIN_NODE_VERSION): boolean {
  const have = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  const need = minimum.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) !== need[i]) return (have[i] ?? 0) > need[i]!;
  }
  return true;
}

/** The message for a Node.js that is too old, naming what to install. */
export function nodeTooOldMessage(version: string): string {
  return `edgegate needs Node.js >= ${MIN_NODE_VERSION}; this is ${version}. Install a current Node.js 20 or 22 (see docs/install.md).\n`;
}

// When this build was made: the lowest time the gateway clock can ever read
// (a token that had expired when the software was built can never be valid).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './load.js';

function buildInfo(): { builtAtMs?: number; commit?: string } {
  try {
    return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dist', 'build-info.json'), 'utf8')) as { builtAtMs?: number; commit?: string };
  } catch {
    return {};
  }
}

export function buildTimeMs(): number {
  const at = buildInfo().builtAtMs;
  return typeof at === 'number' ? at : 0;
}

/** The package's version (a release's carries its commit already: 0.1.0+3f2a9c1e0b4d, scripts/release.sh). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What `edgegate --version` prints: the version with the commit it was built from as semver build metadata, when known. */
export function versionWithCommit(): string {
  const version = packageVersion();
  if (version.includes('+')) return version;
  const commit = buildInfo().commit;
  return commit ? `${version}+${commit}` : version;
}

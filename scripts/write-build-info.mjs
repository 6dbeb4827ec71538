// Records the build in dist/build-info.json: its time (the gateway clock's lowest
// floor) and the commit it was built from (shown by `edgegate --version` as semver
// build metadata, 0.1.0+3f2a9c1e0b4d; ".dirty" when the tree had changes).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const git = (...args) => {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
};
const head = git('rev-parse', '--short=12', 'HEAD');
const commit = head && git('status', '--porcelain', '--untracked-files=no') ? `${head}.dirty` : head;
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist', 'build-info.json'), JSON.stringify({ builtAtMs: Date.now(), ...(commit ? { commit } : {}) }) + '\n');

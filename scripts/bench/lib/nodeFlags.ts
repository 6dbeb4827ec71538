// The node flags the gateway runs with, read from systemd/edgegate.service's
// ExecStart= (the one place they are set; `npm start` repeats them, checked by
// test/ops/systemdUnit.test.ts), so benchmarks measure the daemon as installed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export function unitNodeFlags(unitFile = join(REPO_ROOT, 'systemd', 'edgegate.service')): string[] {
  const line = readFileSync(unitFile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ExecStart='));
  if (!line) throw new Error(`no ExecStart= in ${unitFile}`);
  const words = line.slice('ExecStart='.length).trim().split(/\s+/);
  return words.slice(1).filter((w) => w.startsWith('--'));
}

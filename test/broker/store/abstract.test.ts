// aedes-persistence's own abstract suite (50 tests, node:test) against the
// gateway's SQLite persistence, in a child process (abstractSuite.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../cli/support.js';

describe("aedes-persistence's abstract test suite against the SQLite persistence", function () {
  this.timeout(120_000);
  it('passes every test', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=tap', join(REPO_ROOT, 'test', 'broker', 'store', 'abstractSuite.ts')],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 110_000 },
    );
    const tap = run.stdout;
    const count = (name: string): number => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? -1);
    const failed = tap.split('\n').filter((l) => l.startsWith('not ok'));
    assert.deepEqual(failed, [], run.stderr);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(count('tests') >= 50, `tests: ${count('tests')}`);
    assert.equal(count('pass'), count('tests'));
  });
});

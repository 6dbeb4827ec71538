// The Node.js version check of the CLI entry: a Node older than 20.12 gets one
// clear line naming the minimum instead of a link error from deep inside.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MIN_NODE_VERSION, nodeTooOldMessage, nodeVersionAtLeast } from '../../src/cli/nodeVersion.js';

describe('Node.js version check', () => {
  it('compares versions numerically', () => {
    assert.equal(nodeVersionAtLeast('v20.12.0'), true);
    assert.equal(nodeVersionAtLeast('v20.20.2'), true);
    assert.equal(nodeVersionAtLeast('22.1.0'), true);
    assert.equal(nodeVersionAtLeast('v20.11.1'), false);
    assert.equal(nodeVersionAtLeast('v20.9.0'), false, 'not a string comparison');
    assert.equal(nodeVersionAtLeast('v18.19.0'), false);
    assert.equal(nodeVersionAtLeast(process.version), true, 'the Node running the tests is supported');
  });

  it('names the minimum and what to do', () => {
    const text = nodeTooOldMessage('v20.11.1');
    assert.match(text, /Node\.js >= 20\.12\.0; this is v20\.11\.1/);
    assert.match(text, /docs\/install\.md/);
    assert.ok(text.endsWith('\n'));
  });

  it('is the minimum package.json states', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, `>=${MIN_NODE_VERSION}`);
  });
});

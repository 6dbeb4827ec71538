import assert from 'node:assert/strict';
import { DecorrelatedJitterBackoff } from '../../src/bridge/backoff.js';
import { TopicRules } from '../../src/bridge/rules.js';
import { topicMatches } from '../../src/mqtt/topics.js';
import { rule } from './support.js';

describe('bridge topic rules (Mosquitto mapping)', () => {
  const rules = new TopicRules([
    rule('sensors/#', 'out', 1, 'site/', 'cloud/gw1/'),
    rule('cmd/+', 'in', 1, 'local/', 'cloud/gw1/'),
    rule('sync/#', 'both', 0, '', 'gw/'),
  ]);

  it('maps out: local = localPrefix + pattern → remote = remotePrefix + pattern', () => {
    assert.deepEqual(rules.mapOut('site/sensors/t1')?.topic, 'cloud/gw1/sensors/t1');
    assert.equal(rules.mapOut('sensors/t1'), undefined);
    assert.equal(rules.mapOut('local/cmd/x'), undefined, 'an in rule never forwards out');
    assert.equal(rules.mapOut('sync/a')?.topic, 'gw/sync/a');
    assert.equal(rules.mapOut('sync/a')?.qos, 0);
  });

  it('maps in: remote = remotePrefix + pattern → local = localPrefix + pattern', () => {
    assert.equal(rules.mapIn('cloud/gw1/cmd/valve')?.topic, 'local/cmd/valve');
    assert.equal(rules.mapIn('cloud/gw1/cmd/valve/extra'), undefined);
    assert.equal(rules.mapIn('cloud/gw1/sensors/t1'), undefined, 'an out rule never brings in');
    assert.equal(rules.mapIn('gw/sync/b')?.topic, 'sync/b');
  });

  it('subscribes on the cloud to remotePrefix + pattern of in/both rules', () => {
    assert.deepEqual(
      [...rules.remoteSubscriptions()],
      [
        ['cloud/gw1/cmd/+', 1],
        ['gw/sync/#', 0],
      ],
    );
  });

  it('never lets wildcards match $ topics', () => {
    assert.equal(topicMatches('#', '$SYS/x'), false);
    assert.equal(topicMatches('+/x', '$SYS/x'), false);
    assert.equal(topicMatches('$SYS/#', '$SYS/x'), true);
    assert.equal(new TopicRules([rule('#', 'out', 1)]).mapOut('$SYS/edgegate/bridge/state'), undefined);
  });
});

describe('decorrelated jitter backoff', () => {
  it('stays within [base, cap] and at most triples, and resets', () => {
    const b = new DecorrelatedJitterBackoff(100, 5000);
    let prev = 100;
    for (let i = 0; i < 200; i++) {
      const d = b.next();
      assert.ok(d >= 100 && d <= 5000, `delay ${d}`);
      assert.ok(d <= Math.max(100, prev * 3) + 1e-9, `delay ${d} after ${prev}`);
      prev = d;
    }
    const high = new DecorrelatedJitterBackoff(100, 5000, () => 1);
    const seq = Array.from({ length: 6 }, () => high.next());
    assert.deepEqual(seq, [300, 900, 2700, 5000, 5000, 5000]);
    high.reset();
    assert.equal(high.next(), 300);
    assert.equal(new DecorrelatedJitterBackoff(100, 5000, () => 0).next(), 100);
  });
});

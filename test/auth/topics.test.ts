// Topic matching and filter containment (MQTT 3.1.1 section 4.7), the ACL claim
// forms and placeholders, and the claim checks: the pure functions the broker's
// hooks rely on, with the edge cases spelled out.
import assert from 'node:assert/strict';
import { parseAclClaim } from '../../src/auth/acl.js';
import { checkClaims, checkTimes, expiryMs } from '../../src/auth/claims.js';
import { AuthRefusal } from '../../src/auth/reasons.js';
import { filterContains, isValidFilter, topicMatches } from '../../src/mqtt/topics.js';

const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AuthRefusal ? err.reason : 'other';
  }
};

describe('topics', () => {
  it('matches topic names against filters', () => {
    const yes: Array<[string, string]> = [
      ['a/b', 'a/b'],
      ['a/+', 'a/b'],
      ['a/#', 'a'],
      ['a/#', 'a/b/c'],
      ['#', 'a/b'],
      ['+/+', 'a/b'],
      ['a/+/c', 'a//c'.replace('//', '/x/')],
      ['+', ''],
      ['$SYS/#', '$SYS/x'],
    ];
    const no: Array<[string, string]> = [
      ['a/b', 'a/c'],
      ['a/+', 'a/b/c'],
      ['a/+', 'a'],
      ['#', '$SYS/x'],
      ['+/x', '$SYS/x'],
      ['a/b/#', 'a/c'],
    ];
    for (const [f, t] of yes) assert.ok(topicMatches(f, t), `${f} should match ${t}`);
    for (const [f, t] of no) assert.ok(!topicMatches(f, t), `${f} should not match ${t}`);
  });
  it('containment: cmd/c1/# contains cmd/c1/x/+ and cmd/c1, not cmd/#', () => {
    const yes: Array<[string, string]> = [
      ['cmd/c1/#', 'cmd/c1/x/+'],
      ['cmd/c1/#', 'cmd/c1'],
      ['cmd/c1/#', 'cmd/c1/#'],
      ['cmd/+/x', 'cmd/c1/x'],
      ['cmd/+/x', 'cmd/+/x'],
      ['#', 'a/#'],
      ['a/+/#', 'a/b/+/c'],
    ];
    const no: Array<[string, string]> = [
      ['cmd/c1/#', 'cmd/#'],
      ['cmd/c1/#', 'cmd/+/x'],
      ['cmd/+/x', 'cmd/#'],
      ['cmd/+/x', 'cmd/+/+'],
      ['a/b', 'a/+'],
      ['#', '$SYS/#'],
      ['+/x', '$SYS/x'],
      ['a/+', 'a/b/c'],
    ];
    for (const [a, r] of yes) assert.ok(filterContains(a, r), `${a} should contain ${r}`);
    for (const [a, r] of no) assert.ok(!filterContains(a, r), `${a} should not contain ${r}`);
  });
  it('validates filters (4.7.1)', () => {
    for (const f of ['a', 'a/+', '#', 'a/#', '+/+/#', '/']) assert.ok(isValidFilter(f), f);
    for (const f of ['', 'a/#/b', 'a#', 'a/b+', '+a', 'x\u0000y']) assert.ok(!isValidFilter(f), JSON.stringify(f));
  });
});

describe('ACL claim', () => {
  const id = { username: 'alice', clientId: 'c1' };
  it('EMQX 4 form: pub / sub / all with placeholders', () => {
    const acl = parseAclClaim({ pub: ['s/%c/#'], sub: ['cmd/%u/+'], all: ['shared/#'] }, id, 'deny');
    assert.ok(acl.canPublish('s/c1/t'));
    assert.ok(!acl.canPublish('s/c2/t'));
    assert.ok(!acl.canPublish('cmd/alice/x'));
    assert.ok(acl.canSubscribe('cmd/alice/x'));
    assert.ok(!acl.canSubscribe('cmd/alice/#'));
    assert.ok(acl.canPublish('shared/a') && acl.canSubscribe('shared/#'));
    assert.ok(!acl.canSubscribe('s/c1/#'));
  });
  it('EMQX 5 form: first matching rule wins, deny overlaps refuse a subscription, no match denies', () => {
    const acl = parseAclClaim(
      [
        { permission: 'deny', action: 'subscribe', topic: 'a/secret/#' },
        { permission: 'allow', action: 'all', topic: 'a/#' },
      ],
      id,
      'allow',
    );
    assert.ok(acl.canSubscribe('a/public/+'));
    assert.ok(!acl.canSubscribe('a/#'), 'overlaps a denied filter');
    assert.ok(!acl.canSubscribe('a/+/x'), 'could match a/secret/x');
    assert.ok(acl.canPublish('a/secret/x'), 'the deny rule is for subscribe only');
    assert.ok(!acl.canPublish('b'));
  });
  it('an empty claim denies everything; a missing claim follows defaultAcl', () => {
    assert.ok(!parseAclClaim({}, id, 'allow').canPublish('x'));
    assert.ok(!parseAclClaim([], id, 'allow').canSubscribe('x'));
    assert.ok(parseAclClaim(undefined, id, 'allow').canPublish('x'));
    assert.ok(!parseAclClaim(undefined, id, 'deny').canPublish('x'));
  });
  it('placeholders with no value or a wildcard value drop the filter', () => {
    const acl = parseAclClaim({ all: ['u/%u/#'] }, { clientId: 'c', username: '' }, 'allow');
    assert.ok(!acl.canPublish('u//x') && !acl.canPublish('u/x'));
    const plus = parseAclClaim({ all: ['u/%c/#'] }, { clientId: '+', username: 'a' }, 'allow');
    assert.ok(!plus.canSubscribe('u/+/#'));
  });
  it('EMQX 5 extras: ${username}/${clientid}, "eq" topics, qos and retain conditions', () => {
    const acl = parseAclClaim(
      [
        { permission: 'deny', action: 'publish', topic: 't/${clientid}/cfg', retain: true },
        { permission: 'allow', action: 'publish', topic: 't/${clientid}/#' },
        { permission: 'allow', action: 'subscribe', topic: 'eq bcast/#' },
        { permission: 'allow', action: 'subscribe', topic: 'u/${username}/+', qos: [0, 1] },
      ],
      id,
      'deny',
    );
    assert.ok(acl.canPublish('t/c1/cfg', { qos: 1, retain: false }));
    assert.ok(!acl.canPublish('t/c1/cfg', { qos: 1, retain: true }), 'retained publish denied');
    assert.ok(acl.canPublish('t/c1/x/y', { qos: 0, retain: true }));
    assert.ok(acl.canSubscribe('bcast/#'), 'eq matches the exact filter');
    assert.ok(!acl.canSubscribe('bcast/news'), 'eq does not expand wildcards');
    assert.ok(acl.canSubscribe('u/alice/x', 1));
    assert.ok(!acl.canSubscribe('u/alice/x', 2), 'qos 2 not listed');
    const eqPub = parseAclClaim([{ permission: 'allow', action: 'publish', topic: 'eq a/+' }], id, 'deny');
    assert.ok(eqPub.canPublish('a/+') === true && !eqPub.canPublish('a/b'));
  });
  it('rules with conditions this gateway cannot evaluate: allow never matches, deny always applies', () => {
    const acl = parseAclClaim(
      [
        { permission: 'deny', action: 'publish', topic: 'x/secret', ipaddr: '10.0.0.0/8' },
        { permission: 'allow', action: 'all', topic: 'admin/#', username_re: '^admin$' },
        { permission: 'allow', action: 'all', topic: 'x/#' },
      ],
      id,
      'allow',
    );
    assert.ok(!acl.canPublish('x/secret'));
    assert.ok(acl.canPublish('x/other'));
    assert.ok(!acl.canPublish('admin/y'));
  });
  it('verifyClaims accepts ${username} and ${clientid} too', () => {
    assert.equal(
      reasonOf(() => checkClaims({ sub: 'alice', cid: 'c1' }, { sub: '${username}', cid: '${clientid}' }, id)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkClaims({ sub: 'bob' }, { sub: '${username}' }, id)),
      'JWT_CLAIM_MISMATCH',
    );
  });
  it('refuses unknown forms with JWT_ACL_INVALID', () => {
    for (const bad of [
      'x',
      42,
      { pub: 'a/b' },
      { write: ['a'] },
      [{ permission: 'allow', action: 'read', topic: 'a' }],
      [null],
      { pub: [1] },
      [{ topic: 'a', qos: [3] }],
      [{ topic: 'a', retain: 'yes' }],
    ]) {
      assert.equal(
        reasonOf(() => parseAclClaim(bad, id, 'allow')),
        'JWT_ACL_INVALID',
        JSON.stringify(bad),
      );
      // Parsed claims are memoised by their text: a refused claim must be refused again.
      assert.equal(
        reasonOf(() => parseAclClaim(bad, id, 'allow')),
        'JWT_ACL_INVALID',
        JSON.stringify(bad),
      );
    }
  });
  it('the same claim text fills placeholders per connection (the parsed claim is shared)', () => {
    const claim = { pub: ['sensors/%c/#', 'eq raw/%u/+'], sub: ['cmd/${clientid}/%u'] };
    const a = parseAclClaim(JSON.parse(JSON.stringify(claim)), { clientId: 'ca', username: 'ua' }, 'deny');
    const b = parseAclClaim(JSON.parse(JSON.stringify(claim)), { clientId: 'cb', username: 'ub' }, 'deny');
    const wild = parseAclClaim(JSON.parse(JSON.stringify(claim)), { clientId: '#', username: 'ua' }, 'deny');
    assert.ok(a.canPublish('sensors/ca/t') && !a.canPublish('sensors/cb/t'));
    assert.ok(b.canPublish('sensors/cb/t') && !b.canPublish('sensors/ca/t'));
    assert.ok(a.canPublish('raw/ua/+') && !a.canPublish('raw/ua/x') && b.canPublish('raw/ub/+'));
    assert.ok(a.canSubscribe('cmd/ca/ua') && !a.canSubscribe('cmd/cb/ub') && b.canSubscribe('cmd/cb/ub'));
    assert.ok(!wild.canPublish('sensors/#/t') && !wild.canPublish('sensors/x/t'), 'a wildcard client id never widens');
    assert.ok(wild.canPublish('raw/ua/+'), 'rules without that placeholder still apply');
  });
});

describe('claim checks', () => {
  const now = 1_800_000_000_000;
  const rules = { clockToleranceSec: 30, maxAgeSec: 0 };
  it('exp/nbf boundaries with tolerance', () => {
    assert.equal(
      reasonOf(() => checkTimes({ exp: now / 1000 - 29 }, now, rules)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkTimes({ exp: now / 1000 - 30 }, now, rules)),
      'JWT_EXPIRED',
    );
    assert.equal(
      reasonOf(() => checkTimes({ nbf: now / 1000 + 30 }, now, rules)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkTimes({ nbf: now / 1000 + 31 }, now, rules)),
      'JWT_NOT_YET_VALID',
    );
    assert.equal(
      reasonOf(() => checkTimes({ exp: '1' as unknown as number }, now, rules)),
      'JWT_TIME_INVALID',
    );
    assert.equal(expiryMs({ exp: 100 }, 30), 130_000);
    assert.equal(expiryMs({}, 30), null);
  });
  it('verifyClaims: string equality, array containment, missing fails, placeholders', () => {
    const id = { username: 'u1', clientId: 'c1' };
    const v = { sub: '%u', cid: '%c', site: 'p7', both: '%u-%c' };
    assert.equal(
      reasonOf(() => checkClaims({ sub: 'u1', cid: 'c1', site: 'p7', both: 'u1-c1' }, v, id)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkClaims({ sub: 'u1', cid: ['x', 'c1'], site: ['p7'], both: 'u1-c1' }, v, id)),
      undefined,
    );
    assert.equal(
      reasonOf(() => checkClaims({ sub: 'u1', cid: 'c1', both: 'u1-c1' }, v, id)),
      'JWT_CLAIM_MISMATCH',
    );
    assert.equal(
      reasonOf(() => checkClaims({ sub: 'u2', cid: 'c1', site: 'p7', both: 'u1-c1' }, v, id)),
      'JWT_CLAIM_MISMATCH',
    );
    assert.equal(
      reasonOf(() => checkClaims({ sub: { u: 'u1' } as unknown as string }, { sub: '%u' }, id)),
      'JWT_CLAIM_MISMATCH',
    );
    assert.equal(
      reasonOf(() => checkClaims({ sub: '' }, { sub: '%u' }, { clientId: 'c', username: '' })),
      'JWT_CLAIM_MISMATCH',
    );
  });
});

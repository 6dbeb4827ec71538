import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { migrateAuth } from '../../src/auth/authSchema.js';
import { FailureRateLimiter } from '../../src/auth/rateLimit.js';
import { RevocationList, RevocationStore } from '../../src/auth/revocations.js';
import { TokenCache } from '../../src/auth/tokenCache.js';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';

const silent = pino({ level: 'silent' });

function setup() {
  const time = new FakeTimeSource(Date.now());
  const clock = new GatewayClock(time);
  const db = new Database(':memory:');
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  migrateAuth(db);
  return { time, clock, db };
}

const rows = (db: Database.Database) => (db.prepare('SELECT count(*) AS n FROM auth_token_cache').get() as { n: number }).n;

describe('offline units: token cache', () => {
  it('writes in batches (one transaction per flush), not per authentication', () => {
    const { time, clock, db } = setup();
    const cache = new TokenCache(db, clock, { maxEntries: 5000, negativeTtlSec: 60, clockToleranceSec: 30 }, silent);
    const exp = Math.floor(time.systemNow() / 1000) + 3600;
    for (let i = 0; i < 1000; i++) cache.rememberValid(`h${i}`, { keyId: 'k', payload: { sub: `s${i}`, exp } });
    assert.equal(rows(db), 0, 'nothing written synchronously during the storm');
    time.advance(1000);
    assert.equal(rows(db), 1000);
    assert.equal(time.pendingTimers(), 0, 'one flush timer, fired once');
  });

  it('is an LRU bounded by maxEntries, on disk too, and reloads most recent first', () => {
    const { clock, db } = setup();
    const opts = { maxEntries: 3, negativeTtlSec: 60, clockToleranceSec: 30 };
    const cache = new TokenCache(db, clock, opts, silent);
    for (const h of ['a', 'b', 'c']) cache.rememberValid(h, { keyId: 'k', payload: { sub: h } });
    assert.ok(cache.lookup('a', clock.now())); // a becomes most recent
    cache.rememberValid('d', { keyId: 'k', payload: { sub: 'd' } }); // evicts b
    assert.equal(cache.lookup('b', clock.now()), undefined);
    cache.flushNow();
    assert.deepEqual(
      (db.prepare('SELECT hash FROM auth_token_cache ORDER BY hash').all() as Array<{ hash: string }>).map((r) => r.hash),
      ['a', 'c', 'd'],
    );
    const reloaded = new TokenCache(db, clock, opts, silent);
    assert.equal(
      reloaded.load(() => true),
      3,
    );
  });

  it('keeps negative entries apart (a forged-token flood cannot evict valid ones) and expires them', () => {
    const { time, clock, db } = setup();
    const cache = new TokenCache(db, clock, { maxEntries: 10, negativeTtlSec: 60, clockToleranceSec: 30 }, silent);
    cache.rememberValid('good', { keyId: 'k', payload: {} });
    for (let i = 0; i < 5000; i++) cache.rememberInvalid(`bad${i}`, 'JWT_SIGNATURE', clock.now());
    assert.equal(cache.lookup('good', clock.now())?.kind, 'valid');
    assert.ok(cache.size().negative <= 10);
    assert.equal(cache.lookup('bad4999', clock.now())?.kind, 'invalid');
    time.advance(61_000);
    assert.equal(cache.lookup('bad4999', clock.now()), undefined);
  });

  it('drops entries of keys no longer trusted, and expired ones when loading', () => {
    const { time, clock, db } = setup();
    const opts = { maxEntries: 10, negativeTtlSec: 60, clockToleranceSec: 30 };
    const cache = new TokenCache(db, clock, opts, silent);
    const now = Math.floor(time.systemNow() / 1000);
    cache.rememberValid('k1-token', { keyId: 'k1', payload: { exp: now + 3600 } });
    cache.rememberValid('k2-token', { keyId: 'k2', payload: { exp: now + 3600 } });
    cache.rememberValid('old-token', { keyId: 'k1', payload: { exp: now + 10 } });
    assert.equal(
      cache.dropUntrusted((id) => id === 'k1'),
      1,
    );
    assert.equal(cache.lookup('k2-token', clock.now()), undefined);
    cache.flushNow();
    time.advance(60_000);
    const reloaded = new TokenCache(db, clock, opts, silent);
    assert.equal(
      reloaded.load(() => true),
      1,
      'only the unexpired entry of a trusted key',
    );
  });
});

describe('offline units: rate limiter and revocations', () => {
  it('bounds the addresses it remembers', () => {
    const { clock } = setup();
    const rl = new FailureRateLimiter({ maxFailures: 5, windowSec: 60, banSec: 300, maxTracked: 100 }, clock, silent);
    for (let i = 0; i < 10_000; i++) rl.recordFailure(`10.0.${i >> 8}.${i & 255}`, 'JWT_SIGNATURE');
    assert.ok(rl.status().trackedAddresses <= 100);
    for (let i = 0; i < 5; i++) rl.recordFailure('192.0.2.1', 'JWT_SIGNATURE');
    assert.equal(rl.isBanned('192.0.2.1'), true);
    const disabled = new FailureRateLimiter({ maxFailures: 0, windowSec: 60, banSec: 300 }, clock, silent);
    for (let i = 0; i < 100; i++) disabled.recordFailure('x', 'JWT_SIGNATURE');
    assert.equal(disabled.isBanned('x'), false, 'maxFailures 0 disables');
  });

  it('jti revocations expire with the token seen carrying them; sub revocations stay', () => {
    const { time, clock, db } = setup();
    const store = new RevocationStore(db);
    const list = new RevocationList();
    const g0 = store.generation();
    store.revoke('jti', 'j1', 'leak', clock.now());
    store.revoke('jti', 'j-unseen', '', clock.now());
    store.revoke('sub', 's1', '', clock.now());
    assert.equal(store.generation(), g0 + 3);
    list.replace(store.list());
    list.onSeen = (jti, exp) => store.noteExpiry(jti, exp);
    const exp = Math.floor(time.systemNow() / 1000) + 60;
    assert.equal(list.isRevoked({ jti: 'j1', exp }), true);
    assert.equal(list.isRevoked({ sub: 's1' }), true);
    assert.equal(list.isRevoked({ sub: 's2', jti: 'j2' }), false);
    assert.equal(store.pruneExpired(clock.now(), 30), 0);
    time.advance(91_000);
    assert.equal(store.pruneExpired(clock.now(), 30), 1);
    assert.deepEqual(
      store
        .list()
        .map((r) => `${r.kind}:${r.value}`)
        .sort(),
      ['jti:j-unseen', 'sub:s1'],
    );
    assert.equal(store.unrevoke('sub', 's1'), true);
    assert.equal(store.unrevoke('sub', 's1'), false);
  });
});

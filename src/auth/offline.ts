// Offline verification, assembled for the daemon: the persisted time floor, the
// persisted JWKS, the verified-token cache, revocations and failed-auth rate
// limiting. createOfflineAuth() loads every persisted piece BEFORE the broker
// listens (so a gateway rebooting without uplink verifies at once) and returns
// the authenticator's ports plus the components to start before the broker.

import { ClockPersister } from '../clock/clockPersister.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import { TimeFloorStore } from '../clock/timeFloorStore.js';
import type { Component } from '../component.js';
import type { GatewayConfig } from '../config/types.js';
import { componentLogger, type Logger } from '../log.js';
import { topicMatches } from '../mqtt/topics.js';
import type { StatusBoard } from '../status.js';
import type { Sqlite } from '../storage/database.js';
import type { KeyRefreshPort, RateLimitPort, RevocationPort, TokenCachePort } from './authenticator.js';
import { migrateAuth } from './authSchema.js';
import { BanStore } from './banStore.js';
import { BanWatcher } from './banWatcher.js';
import { SNAPSHOT_SUFFIX } from './fleetProtocol.js';
import { FleetRevocationReceiver } from './fleetReceiver.js';
import { FleetState } from './fleetState.js';
import { FleetVerifier, loadFleetKeys } from './fleetVerifier.js';
import { JwksKeySource, type JwksStatus } from './jwks.js';
import { JwksStore } from './jwksStore.js';
import type { KeyRing } from './keys.js';
import { FailureRateLimiter, type RateLimitStatus } from './rateLimit.js';
import { RevocationList, RevocationStore } from './revocations.js';
import { type RevocationBrokerView, RevocationWatcher } from './revocationWatcher.js';
import { TokenCache } from './tokenCache.js';

export interface OfflineAuthContext {
  config: GatewayConfig;
  clock: GatewayClock;
  logger: Logger;
  status: StatusBoard;
  keys: KeyRing;
  database: Sqlite;
  /** Counts revocations refused when auth.revocation.maxEntries is reached (optional: the CLI has none). */
  metrics?: {
    revocationsRefused: { inc(labels: { source: string }): void };
    fleetRevocationsRefused?: { inc(labels: { reason: string }): void };
    fleetRevocationsApplied?: { inc(labels: { type: string }): void };
  };
}

export interface AuthStatus {
  /** False: the auth tables were unusable, everything is kept in memory only. */
  persistent: boolean;
  /** Null when auth.cache is off. */
  cache: ReturnType<TokenCache['size']> | null;
  /** Null without auth.jwt.jwks.url. */
  jwks: JwksStatus | null;
  revocations: ReturnType<RevocationList['size']> & { maxEntries: number; fleet: number; fleetKeys: Array<{ kid: string; seq: number }> };
  rateLimit: RateLimitStatus;
}

declare module '../status.js' {
  interface StatusMap {
    auth: AuthStatus;
  }
}

export interface OfflineAuth {
  ports: { cache?: TokenCachePort; revocations: RevocationPort; rateLimit: RateLimitPort; keyRefresh: KeyRefreshPort };
  /** Components to start before the broker (so they stop after it). */
  components(broker: RevocationBrokerView): Component[];
}

/** Runs `fn` against the database; on failure logs clearly and returns undefined (memory-only operation). */
function tryStorage<T>(log: Logger, what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    log.error({ err: (err as Error).message }, `${what}: database unusable; continuing from memory`);
    return undefined;
  }
}

export async function createOfflineAuth(ctx: OfflineAuthContext): Promise<OfflineAuth> {
  const { config, clock, keys } = ctx;
  const log = componentLogger(ctx.logger, 'offline-auth');
  const db = tryStorage(log, 'auth tables', () => (migrateAuth(ctx.database), ctx.database));

  // 1. The time floor first: every later check of a token's time depends on it.
  const floorStore = tryStorage(log, 'clock floor', () => new TimeFloorStore(ctx.database));
  const persister = floorStore ? new ClockPersister(clock, floorStore, config.clock.persistIntervalSec, componentLogger(ctx.logger, 'clock')) : undefined;
  persister?.loadFloor();

  // 2. The token cache (filled from disk after the JWKS keys are back in the ring).
  const cacheCfg = config.auth.cache;
  const cache = cacheCfg.enabled
    ? new TokenCache(
        db,
        clock,
        { maxEntries: cacheCfg.maxEntries, negativeTtlSec: cacheCfg.negativeTtlSec, clockToleranceSec: config.auth.jwt.clockToleranceSec },
        componentLogger(ctx.logger, 'token-cache'),
      )
    : undefined;
  const isTrusted = (keyId: string): boolean => keys.has(keyId);

  // 3. The persisted JWKS, before any network call.
  const jwks = new JwksKeySource({
    config: config.auth.jwt.jwks,
    keys,
    clock,
    store: db ? new JwksStore(db) : undefined,
    logger: componentLogger(ctx.logger, 'jwks'),
    onKeysChanged: () => cache?.dropUntrusted(isTrusted),
  });
  await jwks.loadPersisted();
  const loaded = cache?.load(isTrusted) ?? 0;
  if (loaded > 0) log.info({ entries: loaded }, 'loaded the persisted token cache');

  // 4. Revocations and the rate limiter.
  const revocations = new RevocationList();
  const revocationStore = db ? new RevocationStore(db) : undefined;
  const bans = db ? new BanWatcher({ db, store: new BanStore(db), clock, logger: componentLogger(ctx.logger, 'rate-limit') }) : undefined;
  const rateLimit = new FailureRateLimiter(config.auth.rateLimit, clock, componentLogger(ctx.logger, 'rate-limit'), bans);
  bans?.attach(rateLimit);

  // 5. Signed fleet revocations: keys read now (a bad key file stops start-up, exit 2), seq per key from disk.
  const revocationCfg = config.auth.revocation;
  const fleetKeys = revocationCfg.topic ? await loadFleetKeys(revocationCfg.keys) : [];
  const fleetVerifier = new FleetVerifier(fleetKeys);
  // Its tables are created and read only when a revocation topic is set.
  const fleetState =
    (revocationCfg.topic &&
      db &&
      tryStorage(log, 'fleet revocation state', () => {
        const s = new FleetState(db);
        s.load();
        return s;
      })) ||
    new FleetState(undefined);
  if (revocationCfg.topic) {
    log.info(
      { topic: revocationCfg.topic, keys: fleetVerifier.keyIds, requireSigned: revocationCfg.requireSigned },
      'revocation topic: accepting signed fleet revocations',
    );
    const snapshotTopic = revocationCfg.topic + SNAPSHOT_SUFFIX;
    const delivered = config.bridge.topics.some(
      (r) => r.direction !== 'out' && snapshotTopic.startsWith(r.localPrefix) && topicMatches(r.pattern, snapshotTopic.slice(r.localPrefix.length)),
    );
    if (config.bridge.enabled && !delivered) {
      log.warn(
        { topic: snapshotTopic },
        `no bridge in rule brings the retained revocation snapshot: use the pattern "${revocationCfg.topic}/#" (docs/fleet.md)`,
      );
    }
    if (!revocationCfg.requireSigned)
      log.warn(
        { topic: revocationCfg.topic },
        'auth.revocation.requireSigned is false: unsigned revocation messages are applied (anyone who may publish on the cloud topic can revoke and unrevoke)',
      );
  }

  ctx.status.register('auth', () => ({
    persistent: db !== undefined,
    cache: cache?.size() ?? null,
    jwks: jwks.enabled ? jwks.status() : null,
    revocations: {
      ...revocations.size(),
      maxEntries: config.auth.revocation.maxEntries,
      fleet: fleetState.size,
      fleetKeys: fleetVerifier.keyIds.map((kid) => ({ kid, seq: fleetState.lastSeq(kid) })),
    },
    rateLimit: rateLimit.status(),
  }));

  return {
    ports: { cache, revocations, rateLimit, keyRefresh: jwks },
    components(broker) {
      const fleet = new FleetRevocationReceiver({
        verifier: fleetVerifier,
        state: fleetState,
        applier: { apply: (changes, source) => watcher.applyChanges(changes, source) },
        logger: componentLogger(ctx.logger, 'fleet-revocations'),
        nowMs: () => clock.now(),
        monotonicMs: () => clock.monotonic(),
        onRefused: (reason) => ctx.metrics?.fleetRevocationsRefused?.inc({ reason }),
        onApplied: (type) => ctx.metrics?.fleetRevocationsApplied?.inc({ type }),
      });
      const watcher: RevocationWatcher = new RevocationWatcher({
        store: revocationStore,
        list: revocations,
        clock,
        logger: componentLogger(ctx.logger, 'revocations'),
        pollIntervalSec: config.auth.revocation.pollIntervalSec,
        clockToleranceSec: config.auth.jwt.clockToleranceSec,
        topic: config.auth.revocation.topic,
        broker,
        knownPayloads: () => cache?.payloads() ?? [],
        maxEntries: config.auth.revocation.maxEntries,
        onRefused: (source) => ctx.metrics?.revocationsRefused.inc({ source }),
        fleet,
        requireSigned: revocationCfg.requireSigned,
      });
      watcher.loadNow();
      return [persister, cache, jwks, watcher, bans].filter((c): c is NonNullable<typeof c> => c !== undefined);
    },
  };
}

// Keys from a JWKS endpoint, usable offline. The last good set is persisted and
// loaded before any network call; a failed refresh never discards it (EMQX
// drops it after 5 failures and every sensor locks out). It stops being used
// only after auth.jwt.jwks.maxStaleSec with no successful refresh. An unknown
// kid triggers one out-of-cycle refresh at most every 30 s, shared by all the
// connections that asked for it.
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import type { JwksConfig } from '../config/types.js';
import { type Logger, logFailure } from '../log.js';
import type { KeyRefreshPort } from './authenticator.js';
import { fetchJwksDocument } from './jwksFetch.js';
import { type JwksStore, parseJwks } from './jwksStore.js';
import type { KeyRing } from './keys.js';

export const UNKNOWN_KID_REFRESH_GAP_MS = 30_000;

export interface JwksKeySourceDeps {
  config: JwksConfig;
  keys: KeyRing;
  clock: GatewayClock;
  store?: JwksStore;
  logger: Logger;
  /** Called after the JWKS keys in the ring changed (cache entries of removed keys are dropped). */
  onKeysChanged: () => void;
}

export interface JwksStatus {
  url: string;
  keys: number;
  lastGoodAt: string | null;
  lastError: string | null;
  /** No refresh succeeded for auth.jwt.jwks.maxStaleSec: its keys are no longer trusted. */
  stale: boolean;
}

export class JwksKeySource implements Component, KeyRefreshPort {
  readonly name = 'jwks';
  private current: JWK[] | undefined;
  private currentText = '';
  private lastGoodAtMs = 0;
  private lastError: string | null = null;
  private stale = false;
  private inFlight?: Promise<boolean>;
  private lastOutOfCycleMono?: number;
  private timer?: TimerHandle;
  private stopped = false;
  private caPem?: string;
  private failures = 0;

  constructor(private readonly deps: JwksKeySourceDeps) {}

  get enabled(): boolean {
    return this.deps.config.url !== '';
  }

  /** Puts the persisted last good set into the key ring. Runs before the broker listens. */
  async loadPersisted(): Promise<boolean> {
    const { store, config, logger } = this.deps;
    if (!this.enabled || !store) return false;
    try {
      const stored = store.load();
      if (!stored) return false;
      if (stored.url !== config.url) {
        logger.info({ url: config.url }, 'persisted JWKS came from another URL; ignoring it');
        return false;
      }
      const parsed = await parseJwks(stored.jwks);
      this.install(parsed.jwks, parsed.keys);
      this.lastGoodAtMs = stored.fetchedAtMs;
      logger.info({ keys: parsed.keys.length, fetchedAt: new Date(stored.fetchedAtMs).toISOString() }, 'loaded the persisted JWKS');
      this.checkStale();
      return !this.stale;
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'persisted JWKS unreadable; waiting for the endpoint');
      return false;
    }
  }

  async start(): Promise<void> {
    if (!this.enabled) return;
    this.stopped = false;
    this.timer = this.deps.clock.setInterval(this.deps.config.refreshIntervalSec * 1000, () => {
      this.refresh('periodic').catch(logFailure(this.deps.logger, 'JWKS refresh'));
    });
    // With a persisted set, sensors are served at once and the refresh runs in
    // the background; with none, wait for the first fetch (bounded by timeoutSec).
    if (this.current && !this.stale) this.refresh('start').catch(logFailure(this.deps.logger, 'JWKS refresh'));
    else await this.refresh('start');
  }

  /** Does not wait for a fetch in flight (it may take timeoutSec): its result is dropped once stopped. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
  }

  async refreshForUnknownKid(kid: string): Promise<boolean> {
    if (!this.enabled || this.stopped) return false;
    if (this.inFlight) return this.inFlight;
    const mono = this.deps.clock.monotonic();
    if (this.lastOutOfCycleMono !== undefined && mono - this.lastOutOfCycleMono < UNKNOWN_KID_REFRESH_GAP_MS) return false;
    this.lastOutOfCycleMono = mono;
    this.deps.logger.info({ kid }, 'unknown kid: refreshing the JWKS out of cycle');
    return this.refresh('unknown kid');
  }

  /** One refresh at a time; concurrent callers share it. Resolves true when the keys changed. */
  refresh(why: string): Promise<boolean> {
    this.inFlight ??= this.fetchAndInstall(why).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  status(): JwksStatus {
    return {
      url: this.deps.config.url,
      keys: this.current?.length ?? 0,
      lastGoodAt: this.lastGoodAtMs ? new Date(this.lastGoodAtMs).toISOString() : null,
      lastError: this.lastError,
      stale: this.stale,
    };
  }

  private async fetchAndInstall(why: string): Promise<boolean> {
    const { config, clock, logger, store } = this.deps;
    try {
      if (config.caFile !== '' && this.caPem === undefined) this.caPem = readFileSync(config.caFile, 'utf8');
      const res = await fetchJwksDocument(config.url, { timeoutMs: config.timeoutSec * 1000, caPem: this.caPem });
      if (res.dateMs !== undefined) clock.observeTrustedTime(res.dateMs, 'jwks');
      let doc: unknown;
      try {
        doc = JSON.parse(res.body);
      } catch {
        throw new Error('response is not JSON');
      }
      const parsed = await parseJwks(doc);
      if (parsed.skipped.length > 0) logger.warn({ skipped: parsed.skipped }, 'JWKS entries skipped');
      // An empty set is treated as a failed refresh: keep the last good keys.
      if (parsed.keys.length === 0) throw new Error('no usable public key in the JWKS');
      if (this.stopped) return false;
      const text = JSON.stringify(parsed.jwks);
      const changed = text !== this.currentText || this.stale;
      if (changed) this.install(parsed.jwks, parsed.keys);
      this.lastGoodAtMs = clock.now();
      this.stale = false;
      if (this.failures > 0 || changed) logger.info({ why, keys: parsed.keys.length, changed, kids: parsed.keys.map((k) => k.kid ?? null) }, 'JWKS refreshed');
      this.failures = 0;
      this.lastError = null;
      try {
        store?.save({ url: config.url, jwks: parsed.jwks, fetchedAtMs: this.lastGoodAtMs });
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'could not persist the JWKS; keeping it in memory');
      }
      return changed;
    } catch (err) {
      if (this.stopped) return false;
      this.failures++;
      this.lastError = (err as Error).message;
      // First failure of a streak at warn, the rest at debug: an offline gateway should not flood its log.
      logger[this.failures === 1 ? 'warn' : 'debug'](
        { why, err: this.lastError, failures: this.failures, keptKeys: this.current?.length ?? 0 },
        'JWKS refresh failed; keeping the last good key set',
      );
      this.checkStale();
      return false;
    }
  }

  private install(jwks: JWK[], keys: Parameters<KeyRing['replace']>[1]): void {
    this.current = jwks;
    this.currentText = JSON.stringify(jwks);
    this.deps.keys.replace('jwks', keys);
    this.deps.onKeysChanged();
  }

  /** After maxStaleSec (0 = no limit) with no successful refresh, the JWKS keys stop being trusted. */
  private checkStale(): void {
    const { maxStaleSec } = this.deps.config;
    if (this.stale || maxStaleSec <= 0 || !this.current) return;
    if (this.deps.clock.now() - this.lastGoodAtMs <= maxStaleSec * 1000) return;
    this.stale = true;
    this.deps.keys.replace('jwks', []);
    this.deps.onKeysChanged();
    this.deps.logger.error(
      { lastGoodAt: new Date(this.lastGoodAtMs).toISOString(), maxStaleSec },
      'the JWKS has not been refreshed for longer than auth.jwt.jwks.maxStaleSec; its keys are no longer trusted',
    );
  }
}

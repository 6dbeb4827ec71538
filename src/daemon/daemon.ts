// Builds the components, starts them in order and stops them in reverse.

import { join } from 'node:path';
import type { DestinationStream } from 'pino';
import { Authenticator } from '../auth/authenticator.js';
import { loadConfiguredKeys } from '../auth/keySetup.js';
import { KeyRing } from '../auth/keys.js';
import { createOfflineAuth } from '../auth/offline.js';
import type { BridgeDeps } from '../bridge/deps.js';
import { LocalBroker } from '../broker/broker.js';
import { registerClockStatus } from '../clock/clockStatus.js';
import { GatewayClock } from '../clock/gatewayClock.js';
import { systemTimeSource, type TimeSource } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import { buildTimeMs } from '../config/buildInfo.js';
import { deprecatedKeysIn } from '../config/deprecations.js';
import type { GatewayConfig } from '../config/types.js';
import type { SharedServices } from '../context.js';
import { componentLogger, createRootLogger, type Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { opsComponents } from '../ops/index.js';
import type { SerialDeps } from '../serial/deps.js';
import { StatusBoard } from '../status.js';
import { DATABASE_FILE, openDatabase, openInMemoryDatabase, type Sqlite } from '../storage/database.js';
import { ensureDataDir } from '../storage/dataDir.js';
import { type DataDirLock, lockDataDir } from '../storage/dataDirLock.js';
import { GroupCommit, isDiskFull } from '../storage/groupCommit.js';
import { registerStorageStatus } from '../storage/storageStatus.js';
import { WalSync } from '../storage/walSync.js';

export interface DaemonOptions {
  timeSource?: TimeSource;
  logDestination?: DestinationStream;
  logger?: Logger;
  /** Collect Node.js process metrics (off in tests running many daemons). */
  processMetrics?: boolean;
}

export class Daemon {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly clock: GatewayClock;
  readonly metrics: Metrics;
  readonly status = new StatusBoard();
  readonly keys: KeyRing;
  broker?: LocalBroker;
  authenticator?: Authenticator;
  database?: Sqlite;
  private started: Component[] = [];
  private stopping?: Promise<void>;
  private dataDirLock?: DataDirLock;
  groupCommit?: GroupCommit;

  constructor(config: GatewayConfig, options: DaemonOptions = {}) {
    this.config = config;
    this.logger = options.logger ?? createRootLogger(config.log, options.logDestination);
    this.metrics = new Metrics({ processMetrics: options.processMetrics });
    this.clock = new GatewayClock(options.timeSource ?? systemTimeSource, {
      floorMs: buildTimeMs(),
      maxOffsetSec: config.clock.maxOffsetSec,
      onStatusChange: (s, previous) =>
        componentLogger(this.logger, 'clock')[s.status === 'synced' ? 'info' : 'warn'](
          { status: s.status, previous, offsetSec: s.offsetSec, floor: new Date(s.floorMs).toISOString() },
          s.status === 'unsynchronized'
            ? 'system clock is behind the time floor; token checks use the floor'
            : s.status === 'skewed'
              ? 'system clock differs from a trusted source; token checks use the corrected time'
              : 'system clock synchronized',
        ),
    });
    this.keys = new KeyRing(config.auth.jwt.algorithms);
  }

  async start(): Promise<void> {
    const log = componentLogger(this.logger, 'daemon');
    for (const d of deprecatedKeysIn(this.config)) log.warn({ key: d.key, use: d.use }, `${d.key} is deprecated: use ${d.use} (the old key still applies)`);
    const dataDir = ensureDataDir(this.config.dataDir);
    // One daemon per data directory (exit 2 naming the holder's PID); taken before anything in it is opened.
    this.dataDirLock = lockDataDir(dataDir);
    if (this.dataDirLock.pidFileProblem) log.warn({ problem: this.dataDirLock.pidFileProblem }, 'data directory locked, but its PID file could not be written');
    const { database, persistent } = this.openStorage(dataDir, log);
    this.database = database;
    // One transaction per turn for everything written. storage.sync = full: one fdatasync of the WAL
    // per group, off the event loop (storage/walSync.ts), so the next turn's messages are read and
    // committed while it runs and share the next one. No gathering delay: a waiting PUBACK is latency.
    const walSync = persistent && this.config.storage.sync === 'full' ? new WalSync(database.name) : undefined;
    const group = new GroupCommit(database, { delayMs: 0, walSync, monotonicMs: () => this.clock.monotonic() });
    this.groupCommit = group;
    group.onRollback((err) => {
      this.metrics.storageCommitFailures.inc();
      log.error(
        { err: (err as Error).message, diskFull: isDiskFull(err) },
        'database commit failed: nothing of it was acknowledged; retrying with the next writes',
      );
    });
    registerStorageStatus(this.status, {
      group,
      file: join(dataDir, DATABASE_FILE),
      persistent,
      sync: this.config.storage.sync,
      storedCounts: () => this.broker?.storedCounts(),
    });
    const configured = await loadConfiguredKeys(this.config.auth.jwt, dataDir);
    this.keys.replaceConfigured(configured.keys);
    if (configured.generatedNow) {
      log.warn(
        { file: configured.generatedSecretFile },
        'no JWT key configured: generated a random secret; mint a token with `edgegate token mint --sub <name>`',
      );
    } else if (configured.generatedSecretFile) {
      log.info({ file: configured.generatedSecretFile }, 'using the generated JWT secret; mint tokens with `edgegate token mint --sub <name>`');
    }
    registerClockStatus(this.clock, { status: this.status, metrics: this.metrics });

    // Persisted time floor, JWKS, token cache and revocations: loaded before the broker listens.
    const offline = await createOfflineAuth({
      config: this.config,
      clock: this.clock,
      logger: this.logger,
      status: this.status,
      keys: this.keys,
      database,
      metrics: this.metrics,
    });
    this.authenticator = new Authenticator({
      keys: this.keys,
      clock: this.clock,
      rules: this.config.auth.jwt,
      logger: componentLogger(this.logger, 'auth'),
      ...offline.ports,
    });
    this.broker = new LocalBroker({
      config: this.config,
      authenticator: this.authenticator,
      clock: this.clock,
      logger: componentLogger(this.logger, 'broker'),
      metrics: this.metrics,
      database,
      group,
      status: this.status,
    });
    const brokerComponent: Component = { name: 'broker', start: () => this.broker!.start(), stop: () => this.broker!.stop() };

    // Each capability gets only what it uses (bridge/index.ts, serial/index.ts, ops/index.ts say what).
    const services: SharedServices = { logger: this.logger, metrics: this.metrics, status: this.status };
    const shared = { ...services, config: this.config, clock: this.clock, broker: this.broker };
    const components = [
      ...offline.components(this.broker),
      brokerComponent,
      ...(await optionalComponents({ ...shared, database, groupCommit: group, persistent })),
      ...opsComponents({ ...shared, keys: this.keys, database, authenticator: this.authenticator }),
    ];
    for (const component of components) {
      await component.start();
      this.started.push(component);
    }
    log.info({ listeners: this.broker.addresses() }, 'edgegate started');
  }

  /**
   * Opens the database. A corrupt or unreadable file must not stop sensors from
   * authenticating: the daemon then runs on an in-memory database, loudly.
   */
  private openStorage(dataDir: string, log: Logger): { database: Sqlite; persistent: boolean } {
    const file = join(dataDir, DATABASE_FILE);
    try {
      return { database: openDatabase(file, { synchronous: this.config.storage.sync }), persistent: true };
    } catch (err) {
      log.error({ err: (err as Error).message, file }, 'database unusable: running from memory, nothing will persist until it is repaired or removed');
      return { database: openInMemoryDatabase(), persistent: false };
    }
  }

  /** Stops components in reverse order; safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const log = componentLogger(this.logger, 'daemon');
      for (const component of this.started.reverse()) {
        try {
          await component.stop();
        } catch (err) {
          log.error({ err, component: component.name }, 'error while stopping');
        }
      }
      this.started = [];
      try {
        await this.groupCommit?.close();
        this.database?.close();
      } catch (err) {
        log.error({ err }, 'error while closing the database');
      }
      // Last: a next daemon may open the data directory only once this one is done with it.
      this.dataDirLock?.release();
      log.info('edgegate stopped');
      this.logger.flush?.();
    })();
    return this.stopping;
  }
}

/**
 * The bridge (mqtt.js) and serial ports (serialport) are loaded only when
 * configured: on a Pi each costs megabytes of memory and tens of milliseconds
 * of start-up that a gateway without them should not pay.
 */
async function optionalComponents(ctx: BridgeDeps & SerialDeps): Promise<Component[]> {
  const out: Component[] = [];
  if (ctx.config.bridge.enabled) out.push(...(await import('../bridge/index.js')).bridgeComponents(ctx));
  if (ctx.config.serial.ports.length > 0) out.push(...(await import('../serial/index.js')).serialComponents(ctx));
  return out;
}

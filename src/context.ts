// What components are built from: the validated configuration and the services
// the daemon shares with every component (built in daemon.ts, passed down).
import type { Authenticator } from './auth/authenticator.js';
import type { KeyRing } from './auth/keys.js';
import type { LocalBroker } from './broker/broker.js';
import type { GatewayClock } from './clock/gatewayClock.js';
import type { GatewayConfig } from './config/types.js';
import type { Logger } from './log.js';
import type { Metrics } from './ops/metrics.js';
import type { StatusBoard } from './ops/status.js';
import type { GroupCommit } from './storage/groupCommit.js';
import type { Sqlite } from './storage/database.js';

/** What components are built from: the validated config and the shared services. */
export interface DaemonContext {
  config: GatewayConfig;
  dataDir: string;
  clock: GatewayClock;
  logger: Logger;
  metrics: Metrics;
  status: StatusBoard;
  keys: KeyRing;
  /** The SQLite database; an in-memory one when the file could not be opened. */
  database: Sqlite;
  /** The database's group commit: what must be durable before an acknowledgement is written through it. */
  groupCommit: GroupCommit;
  /** False when `database` is the in-memory fallback (nothing survives a restart). */
  persistent: boolean;
  broker: LocalBroker;
  authenticator: Authenticator;
}

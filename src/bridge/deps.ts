// What the bridge is handed by the daemon, and nothing more (docs/architecture.md).

import type { LocalBroker } from '../broker/broker.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { GatewayConfig } from '../config/types.js';
import type { SharedServices } from '../context.js';
import type { Sqlite } from '../storage/database.js';
import type { GroupCommit } from '../storage/groupCommit.js';

/** What the bridge is built from: the local broker, the database and the shared services (not the authenticator). */
export interface BridgeDeps extends SharedServices {
  config: Pick<GatewayConfig, 'bridge' | 'storage'>;
  clock: GatewayClock;
  database: Sqlite;
  /** What must be durable before an acknowledgement is written through it. */
  groupCommit: GroupCommit;
  /** False when `database` is the in-memory fallback (the queue will not survive a restart). */
  persistent: boolean;
  broker: LocalBroker;
}

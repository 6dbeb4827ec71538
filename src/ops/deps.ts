// What operations are handed by the daemon, and nothing more (docs/architecture.md).
import type { Authenticator } from '../auth/authenticator.js';
import type { KeyRing } from '../auth/keys.js';
import type { LocalBroker } from '../broker/broker.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { GatewayConfig } from '../config/types.js';
import type { SharedServices } from '../context.js';
import type { Sqlite } from '../storage/database.js';

/** What operations are built from: they observe everything, and act only through the authenticator's refuseFromNow. */
export interface OpsDeps extends SharedServices {
  config: Pick<GatewayConfig, 'http' | 'auth'>;
  clock: GatewayClock;
  keys: KeyRing;
  database: Sqlite;
  broker: LocalBroker;
  authenticator: Pick<Authenticator, 'refuseFromNow'>;
}

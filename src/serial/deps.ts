// What serial sensors are handed by the daemon, and nothing more (docs/architecture.md).
import type { LocalBroker } from '../broker/broker.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { GatewayConfig } from '../config/types.js';
import type { SharedServices } from '../context.js';

/** What serial ports are built from: the broker they publish into and the shared services. */
export interface SerialDeps extends SharedServices {
  config: Pick<GatewayConfig, 'serial'>;
  clock: GatewayClock;
  broker: LocalBroker;
}

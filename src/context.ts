// What every component may be handed: the daemon's shared services, which depend on
// no capability. Each capability's builder (bridge/index.ts, serial/index.ts,
// ops/index.ts) declares what it needs on top, so a component reaches only what it
// was given: the bridge, for one, never sees the authenticator.
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { StatusBoard } from './status.js';

export interface SharedServices {
  logger: Logger;
  metrics: Metrics;
  status: StatusBoard;
}

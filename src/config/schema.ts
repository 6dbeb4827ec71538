// The one schema of edgegate's configuration: every key with its type, range,
// default and description. The sections live in schema/; from this object come
// the validation (validate.ts), the TypeScript types (types.ts), config/default.json
// and the key table of docs/configuration.md (npm run config:generate; a test keeps
// both up to date).

import { authSpec } from './schema/auth.js';
import { bridgeSpec } from './schema/bridge.js';
import { brokerSpec } from './schema/broker.js';
import { clockSpec, dataDirSpec, logSpec, storageSpec } from './schema/core.js';
import { httpSpec } from './schema/http.js';
import { listenersSpec } from './schema/listeners.js';
import { serialSpec } from './schema/serial.js';
import { obj } from './spec.js';

export { JWT_ALGORITHMS, type JwtAlgorithm } from './schema/auth.js';
export { LOG_LEVELS } from './schema/core.js';

export const configSpec = obj({
  dataDir: dataDirSpec,
  storage: storageSpec,
  log: logSpec,
  listeners: listenersSpec,
  broker: brokerSpec,
  auth: authSpec,
  clock: clockSpec,
  bridge: bridgeSpec,
  serial: serialSpec,
  http: httpSpec,
});

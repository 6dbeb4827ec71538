// Reusable pieces for benchmarks (scripts/bench/*.ts):
//  - spawnEdgegate / spawnPlainAedes / spawnServer: servers in child processes on loopback
//  - bundleEntry: plain-JS bundle of an entry point (no tsx loader in the measured process)
//  - connectMany / connectOne / closeAll: many raw MQTT connections, CONNACK codes, timing
//  - connectPacket / connackCode / connackProperties / encodeRemainingLength: MQTT 3.1.1 and 5.0 wire helpers
//  - edgegateBuild / baselineBuild: the build measured (BENCH_CLI, default dist/) and a second, older one in the same run (BENCH_BASELINE_CLI)
//  - rssKiB / peakRssKiB / cpuTimeMs / measureCpu: /proc figures of a process
//  - freePort
//  - median / sleep
export { type Bundle, bundleEntry } from './bundle.js';
export { type ConnectManyOptions, type ConnectManyResult, closeAll, connectMany, connectOne } from './connectClients.js';
export { freePort } from './freePort.js';
export {
  type ConnectFields,
  type ConnectProperties5,
  connackCode,
  connackProperties,
  connectPacket,
  decodeRemainingLength,
  encodeRemainingLength,
  firstPacket,
} from './mqttWire.js';
export {
  aedesSpeaksMqtt5,
  type BaselineBuild,
  baselineBuild,
  builtCli,
  cliPackageRoot,
  type EdgegateBuild,
  edgegateBuild,
  installedVersion,
  REPO_ROOT,
} from './paths.js';
export { cpuSplitMs, cpuTimeMs, formatMiB, measureCpu, peakRssKiB, rssKiB } from './procStats.js';
export {
  EDGEGATE_CLI,
  type EdgegateProcess,
  type ServerProcess,
  type SpawnEdgegateOptions,
  type SpawnServerOptions,
  spawnEdgegate,
  spawnPlainAedes,
  spawnServer,
} from './spawnServer.js';
export { median, sleep } from './stats.js';

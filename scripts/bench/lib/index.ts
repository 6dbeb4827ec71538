// Reusable pieces for benchmarks (scripts/bench/*.ts):
//  - spawnEdgegate / spawnPlainAedes / spawnServer: servers in child processes on loopback
//  - bundleEntry: plain-JS bundle of an entry point (no tsx loader in the measured process)
//  - connectMany / connectOne / closeAll: many raw MQTT connections, CONNACK codes, timing
//  - connectPacket / connackCode / connackProperties / encodeRemainingLength: MQTT 3.1.1 and 5.0 wire helpers
//  - edgegateBuild / baselineBuild: the build measured (BENCH_CLI, default dist/) and a second, older one in the same run (BENCH_BASELINE_CLI)
//  - rssKiB / peakRssKiB / cpuTimeMs / measureCpu: /proc figures of a process
//  - freePort
//  - median / sleep
export { bundleEntry, type Bundle } from './bundle.js';
export { closeAll, connectMany, connectOne, type ConnectManyOptions, type ConnectManyResult } from './connectClients.js';
export { freePort } from './freePort.js';
export { median, sleep } from './stats.js';
export { connackCode, connackProperties, connectPacket, decodeRemainingLength, encodeRemainingLength, firstPacket, type ConnectFields, type ConnectProperties5 } from './mqttWire.js';
export { aedesSpeaksMqtt5, baselineBuild, builtCli, cliPackageRoot, edgegateBuild, installedVersion, REPO_ROOT, type BaselineBuild, type EdgegateBuild } from './paths.js';
export { cpuSplitMs, cpuTimeMs, formatMiB, measureCpu, peakRssKiB, rssKiB } from './procStats.js';
export { EDGEGATE_CLI, spawnEdgegate, spawnPlainAedes, spawnServer, type EdgegateProcess, type ServerProcess, type SpawnEdgegateOptions, type SpawnServerOptions } from './spawnServer.js';

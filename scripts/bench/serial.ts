// Serial throughput: P socat PTY pairs, an in-process edgegate daemon reading all
// of them, and one mqtt.js subscriber (token auth) counting what arrives. Each
// round every "device" writes N lines at once; prints lines/s per round and the
// median. Bounded: a fixed number of rounds, each waited for at most 60 s.
//
//   npx tsx scripts/bench/serial.ts [--ports 3] [--lines 2000] [--rounds 5] [--format json|kv|text]
//                                   [--qos 0|1] [--retain true|false]   (port publish and subscription QoS)
//                                   [--bridge none|normal|full]         (QoS 1 out rule to a local Mosquitto)
import { createHmac, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import mqtt from 'mqtt';
import { buildConfig } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { tempDir } from '../../test/helpers/daemon.js';
import { Mosquitto } from '../../test/helpers/mosquitto.js';
import { waitUntil } from '../../test/helpers/wait.js';
import { Device, SocatPair, unplugAll } from '../../test/serial/support/socat.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const PORTS = Number(arg('ports', '3'));
const LINES = Number(arg('lines', '2000'));
const ROUNDS = Number(arg('rounds', '5'));
const FORMAT = arg('format', 'json') as 'json' | 'kv' | 'text';
const QOS = Number(arg('qos', '0')) as 0 | 1;
const RETAIN = arg('retain', 'false') === 'true';
/** none, or the bridge's queue.sync (normal/full): a QoS 1 `out` rule for sensors/# to a local Mosquitto. */
const BRIDGE = arg('bridge', 'none') as 'none' | 'normal' | 'full';
const SECRET = 'bench-' + randomUUID();

const b64 = (x: string): string => Buffer.from(x).toString('base64url');
function token(): string {
  const input = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(JSON.stringify({ sub: 'bench', exp: Math.floor(Date.now() / 1000) + 3600 }))}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}
const line = (i: number): string => (FORMAT === 'json' ? `{"t":21.5,"i":${i}}` : FORMAT === 'kv' ? `t=21.5 i=${i}` : `reading ${i} 21.5`);

async function main(): Promise<void> {
  const dir = SocatPair.tempDir();
  const dataDir = tempDir('edgegate-bench-');
  const pairs = Array.from({ length: PORTS }, (_, i) => new SocatPair(dir, `p${i}`));
  await Promise.all(pairs.map((p) => p.plug()));
  const cloud = BRIDGE === 'none' ? undefined : await Mosquitto.start();
  const config = buildConfig({
    dataDir,
    log: { level: (process.env.LOG_LEVEL ?? 'warn') as 'warn' },
    listeners: { tcp: { enabled: true, host: '127.0.0.1', port: 0 } },
    http: { enabled: false },
    auth: { jwt: { secret: SECRET } },
    ...(cloud
      ? {
          bridge: {
            enabled: true,
            url: `mqtt://127.0.0.1:${cloud.port}`,
            clientId: 'bench',
            queue: { sync: BRIDGE },
            topics: [{ pattern: 'sensors/#', direction: 'out', qos: 1 }],
          },
        }
      : {}),
    serial: {
      ports: pairs.map((p, i) => ({ name: `p${i}`, path: p.daemonSide, format: FORMAT, qos: QOS, retain: RETAIN, reopen: { minSec: 0.05, maxSec: 0.2 } })),
    },
  } as never);
  const daemon = new Daemon(config, { processMetrics: false });
  await daemon.start();
  try {
    const serial = (): Array<{ state: string }> => (daemon.status.snapshot().serial as { ports: Array<{ state: string }> }).ports;
    await waitUntil(() => serial().every((p) => p.state === 'open'), { what: 'ports to open' });
    const devices = await Promise.all(pairs.map((p) => Device.open(p.deviceSide)));
    const client = mqtt.connect({ host: '127.0.0.1', port: daemon.broker!.addresses().tcp!.port, username: 'bench', password: token(), reconnectPeriod: 0 });
    let received = 0;
    client.on('message', () => received++);
    await new Promise<void>((resolve, reject) => (client.once('connect', () => resolve()), client.once('error', reject)));
    await new Promise<void>((resolve, reject) => client.subscribe('sensors/#', { qos: QOS }, (err) => (err ? reject(err) : resolve())));
    const payloads = devices.map(() => Array.from({ length: LINES }, (_, i) => line(i)).join('\n') + '\n');
    const rates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const target = received + PORTS * LINES;
      const t0 = process.hrtime.bigint();
      await Promise.all(devices.map((d, i) => d.write(payloads[i]!)));
      await waitUntil(() => received >= target, { timeoutMs: 60_000, what: `round ${round}` });
      const sec = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push((PORTS * LINES) / sec);
      console.log(
        `round ${round + 1}: ${PORTS} ports × ${LINES} ${FORMAT} lines (QoS ${QOS}${RETAIN ? ', retained' : ''}${cloud ? `, bridge sync=${BRIDGE}` : ''}) ` +
          `in ${(sec * 1000).toFixed(0)} ms = ${Math.round(rates.at(-1)!)} lines/s`,
      );
    }
    const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
    console.log(`median ${Math.round(median)} lines/s (${cpus().length} CPUs, Node ${process.version}, subscriber and daemon in one process)`);
    client.end(true);
    await Promise.all(devices.map((d) => d.close()));
  } finally {
    await daemon.stop();
    await unplugAll(dir);
    await cloud?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

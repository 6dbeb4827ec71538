// Bridge benchmark, QoS 1 end to end:
//   mosquitto_pub -l (stdin lines) → local broker → its bridge → cloud Mosquitto → mosquitto_sub -C N
// with the local broker being (a) edgegate (durable SQLite queue) and (b) Mosquitto
// with its own bridge (in-memory queue), alternating in the same run; then the
// drain rate of a backlog filled while the cloud is down (cloud started, time until
// the subscriber has everything). Every process on 127.0.0.1, free ports; bounded.
//
//   npx tsx scripts/bench/bridge.ts [--messages 20000] [--warmup 20000] [--backlog 100000] [--rounds 3] [--drain-rounds 1]
//     [--publishers 5] [--max-inflight 20]   (P mosquitto_pub processes, each -M window; every round also runs 1 publisher)
//   BENCH_KINDS=edgegate,mosquitto[,mosquitto-persist][,noflags][,edgegate-aedes1]  the local brokers to alternate
//     (mosquitto-persist: Mosquitto with `persistence true`, its default 1800 s autosave)
//   BENCH_CLI=<a dist/cli/main.js>  measures that build (from its own tree) as "edgegate" instead of this tree's dist/
//   BENCH_BASELINE_CLI=<an older build's dist/cli/main.js>  (e.g. a git worktree of an older commit,
//     `npm ci && npm run build` there) adds the kind "edgegate-aedes1" (formerly "baseline", still
//     accepted in BENCH_KINDS): that build run from its own tree (its node_modules, config/), in
//     every round beside the others; the summary then prints before / after.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { numberArg } from './lib/args.js';
import { freePort } from './lib/freePort.js';
import { startCloudMosquitto, startMosquitto } from './lib/mosquitto.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { baselineBuild, edgegateBuild } from './lib/paths.js';
import { cpuSplitMs } from './lib/procStats.js';
import { type ServerProcess, spawnEdgegate } from './lib/spawnServer.js';
import { median, sleep } from './lib/stats.js';
import { hs256Token } from './lib/tokens.js';

const EDGE = edgegateBuild();
const BUILT_CLI = EDGE.cli;

const arg = numberArg;
const MESSAGES = arg('messages', 20_000);
/**
 * Messages sent through the same path (publisher → local broker → bridge → cloud →
 * subscriber) before the measured ones, with either broker. A gateway runs for
 * months: what it forwards is measured once V8 has compiled the hot path, not
 * during its first second (--warmup 0: the cold figures, start-up JIT included).
 */
const WARMUP = arg('warmup', 20_000);
const BACKLOG = arg('backlog', 100_000);
const ROUNDS = arg('rounds', 3);
/** mosquitto_pub -M: QoS 1 messages the publisher keeps in flight (its default: 20). */
const MAX_INFLIGHT = arg('max-inflight', 20);
/**
 * Publishers (sensors) sharing the messages, each its own connection and -M window:
 * a gateway forwards many sensors at once. Every round also runs one publisher alone
 * (--publishers 1 runs only that): one client's QoS 1 round trip, where a durable
 * broker pays the fsync before each PUBACK and an in-memory queue does not.
 */
const PUBLISHERS = Math.max(1, arg('publishers', 5));
const SHAPES = [...new Set([PUBLISHERS, 1])];
/**
 * BENCH_BASELINE_CLI=<an older build's dist/cli/main.js, in a tree with its own
 * node_modules (a git worktree with `npm ci`)> adds a third local broker,
 * "edgegate-aedes1", to the alternation: a before/after comparison of edgegate
 * itself in the same run (the name of the aedes 1.2 → 2 comparison it was added for).
 */
const BASELINE = baselineBuild();
const BASELINE_CLI = BASELINE?.cli;
const KINDS = (process.env.BENCH_KINDS ?? (BASELINE_CLI ? 'edgegate,mosquitto,edgegate-aedes1' : 'edgegate,mosquitto'))
  .split(',')
  .map((k) => (k === 'baseline' ? 'edgegate-aedes1' : k)) as Kind[];
if (KINDS.includes('edgegate-aedes1') && !BASELINE_CLI) throw new Error('BENCH_KINDS has edgegate-aedes1: set BENCH_BASELINE_CLI');
const SECRET = 'bench-' + randomUUID();
const NOW_SEC = Math.floor(Date.now() / 1000);
const TOKEN = hs256Token(SECRET, { sub: 'bench', iat: NOW_SEC, exp: NOW_SEC + 86_400 });
/**
 * "The cloud is down" for the drain test: the bridges point at this TCP proxy in
 * front of the (always running) cloud Mosquitto, closed while the backlog fills,
 * opened to let it drain. The subscriber is connected all along.
 */
class GatedProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}
  open(): Promise<void> {
    this.server = createServer((inbound) => {
      const outbound = connect({ host: '127.0.0.1', port: this.targetPort });
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.setNoDelay(true);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    return new Promise((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** /proc/<pid>/io: syscalls (read + write kinds) and bytes sent to storage, of the local broker. */
function procIo(pid: number): { syscalls: number; writeBytes: number } {
  const f = Object.fromEntries(
    readFileSync(`/proc/${pid}/io`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(': '))
      .map(([k, v]) => [k, Number(v)]),
  );
  return { syscalls: f.syscr + f.syscw, writeBytes: f.write_bytes };
}

/** What the local broker spent per message during a round (CPU from /proc/<pid>/stat). */
interface RoundCost {
  cpuUs: number;
  /** The part of cpuUs spent in the kernel (system time: syscalls, loopback TCP). */
  sysUs: number;
  syscalls: number;
  writeBytes: number;
}

function run(cmd: string, args: string[], stdin?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'ignore', 'inherit'] });
    if (stdin !== undefined) p.stdin!.end(stdin);
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** mosquitto_sub -C n on the persistent session; resolves with first-line and exit times. */
function subscriber(cloudPort: number, id: string, n: number, timeoutMs: number): { done: Promise<{ firstAt: number; endAt: number }> } {
  const p = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(cloudPort), '-i', id, '-q', '1', '-t', 'bench/#', '-C', String(n)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let firstAt = 0;
  p.stdout!.on('data', () => {
    if (!firstAt) firstAt = performance.now();
  });
  const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  return {
    done: new Promise((resolve, reject) =>
      p.once('exit', (code) => {
        clearTimeout(t);
        if (code === 0) resolve({ firstAt, endAt: performance.now() });
        else reject(new Error(`mosquitto_sub did not get ${n} messages (exit ${code})`));
      }),
    ),
  };
}

/**
 * The drain subscribers: Mosquitto numbers the QoS 1 messages it holds for one
 * client with 16-bit packet ids, so a single subscriber falling >65,535 behind a
 * 100k burst loses the excess (seen with either bridge). Three mqtt.js clients on a
 * shared subscription ($share, MQTT 5 / Mosquitto 2) each hold a third.
 */
async function drainSubscribers(cloudPort: number, id: string, n: number, timeoutMs: number): Promise<{ done: Promise<{ firstAt: number; endAt: number }> }> {
  const clients = await Promise.all(
    [0, 1, 2].map(async (k) => {
      const c = await mqtt.connectAsync({ host: '127.0.0.1', port: cloudPort, clientId: `${id}-${k}`, protocolVersion: 5, reconnectPeriod: 0, keepalive: 600 });
      await c.subscribeAsync(`$share/drain/bench/#`, { qos: 1 });
      return c;
    }),
  );
  let count = 0;
  let firstAt = 0;
  return {
    done: new Promise((resolve, reject) => {
      const finish = (): void => {
        for (const c of clients) c.end(true);
      };
      let lo = Infinity;
      let hi = -1;
      const t = setTimeout(() => (finish(), reject(new Error(`drain subscribers got ${count} of ${n} (indices ${lo}..${hi})`))), timeoutMs);
      for (const c of clients) {
        c.on('message', (_topic, payload) => {
          const i = Number(payload.toString().split('-')[1]);
          lo = Math.min(lo, i);
          hi = Math.max(hi, i);
          if (!firstAt) firstAt = performance.now();
          if (++count === n) {
            clearTimeout(t);
            const endAt = performance.now();
            finish();
            resolve({ firstAt, endAt });
          }
        });
      }
    }),
  };
}

/** Publishes a probe locally until the cloud has it: the bridge is connected and forwarding. */
async function waitForwarding(localPort: number, cloudPort: number, auth: boolean): Promise<void> {
  const cloud = await mqtt.connectAsync({ host: '127.0.0.1', port: cloudPort, reconnectPeriod: 0 });
  let got = false;
  cloud.on('message', () => (got = true));
  await cloud.subscribeAsync('probe/#', { qos: 1 });
  const local = await mqtt.connectAsync({ host: '127.0.0.1', port: localPort, reconnectPeriod: 0, ...(auth ? { username: 'bench', password: TOKEN } : {}) });
  for (let i = 0; i < 100 && !got; i++) {
    await local.publishAsync('probe/x', 'p', { qos: 1 });
    await sleep(100);
  }
  await Promise.all([local.endAsync(), cloud.endAsync()]);
  if (!got) throw new Error('bridge is not forwarding');
}

/**
 * mosquitto_pub -l in runs of at most 50,000 lines: its "last message acknowledged"
 * check compares 16-bit packet ids, so one run of >65,535 QoS 1 lines stops early
 * (100,000 lines: only ~34,470 sent, measured here with either broker).
 * With --publishers P, P mosquitto_pub processes (P sensors) share the n lines and
 * publish at the same time, each with its own -M window.
 */
async function publishLines(port: number, topic: string, n: number, tag: string, auth: string[], publishers = PUBLISHERS): Promise<void> {
  const share = (p: number): number => Math.floor(n / publishers) + (p < n % publishers ? 1 : 0);
  await Promise.all(
    Array.from({ length: publishers }, async (_, p) => {
      const mine = share(p);
      for (let from = 0; from < mine; from += 50_000) {
        const count = Math.min(50_000, mine - from);
        const text = Array.from({ length: count }, (_, i) => `${tag}-${p}-${from + i}-${'x'.repeat(40)}`).join('\n') + '\n';
        await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-M', String(MAX_INFLIGHT), '-t', topic, '-l', ...auth], text);
      }
    }),
  );
}

type Kind = 'edgegate' | 'mosquitto' | 'mosquitto-persist' | 'edgegate-aedes1' | 'noflags';
const KIND_ORDER: Kind[] = ['edgegate', 'mosquitto', 'mosquitto-persist', 'edgegate-aedes1', 'noflags'];
const isMosquitto = (k: Kind): boolean => k === 'mosquitto' || k === 'mosquitto-persist';
const emptyByKind = <T>(): Record<Kind, T[]> => ({ edgegate: [], mosquitto: [], 'mosquitto-persist': [], 'edgegate-aedes1': [], noflags: [] });
/** Round r runs the kinds in a rotated order, so no kind always goes first. */
const roundKinds = (r: number): Kind[] => {
  const ks = KIND_ORDER.filter((k) => KINDS.includes(k));
  return [...ks.slice(r % ks.length), ...ks.slice(0, r % ks.length)];
};

async function localBroker(kind: Kind, cloudPort: number): Promise<ServerProcess & { cleanup(): void }> {
  if (!isMosquitto(kind)) {
    const e = await spawnEdgegate({
      // The compiled daemon, as installed gateways run it (`npm run build` first).
      cliFile: kind === 'edgegate-aedes1' ? BASELINE_CLI : BUILT_CLI,
      // The unit's node flags (systemd/edgegate.service), except for kind "noflags"
      // (BENCH_KINDS=edgegate,mosquitto,noflags: what the flags cost, same run); then
      // e.g. BENCH_EDGEGATE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the daemon.
      nodeArgs: [...(kind === 'noflags' ? [] : unitNodeFlags()), ...(process.env.BENCH_EDGEGATE_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
      config: {
        log: { level: 'warn' },
        auth: { jwt: { secret: SECRET } },
        bridge: {
          enabled: true,
          url: `mqtt://127.0.0.1:${cloudPort}`,
          clientId: 'bench-edgegate',
          reconnect: { minSec: 0.1, maxSec: 1 },
          topics: [
            { pattern: 'bench/#', direction: 'out', qos: 1 },
            { pattern: 'probe/#', direction: 'out', qos: 1 },
          ],
        },
      },
    });
    return e;
  }
  const port = await freePort();
  // "mosquitto-persist": Mosquitto with `persistence true` as most installs run it. It keeps
  // everything in memory and writes its database only every autosave_interval (1800 s by
  // default) and at shutdown, so a power cut loses up to half an hour of what it acknowledged;
  // the bytes to storage it shows during a round are what that costs (none until the autosave).
  const persistDir = kind === 'mosquitto-persist' ? mkdtempSync(join(tmpdir(), 'bench-mosquitto-db-')) : undefined;
  const m = await startMosquitto(
    'local-mosquitto',
    [
      ...(persistDir ? ['persistence true', `persistence_location ${persistDir}/`] : ['persistence false']),
      // Its bridge queues in memory while the cloud is down; no bound, as edgegate's durable queue.
      'max_queued_messages 10000000',
      'connection cloud',
      `address 127.0.0.1:${cloudPort}`,
      'clientid bench-mosquitto',
      'restart_timeout 1 1',
      'topic bench/# out 1',
      'topic probe/# out 1',
    ],
    port,
  );
  if (!persistDir) return m;
  const removeConf = m.cleanup;
  return Object.assign(m, { cleanup: () => (removeConf(), rmSync(persistDir, { recursive: true, force: true })) });
}

/** The local broker; if it cannot start, the cloud side is stopped first (it would outlive the benchmark). */
async function startLocal(kind: Kind, port: number, stopCloud: () => Promise<void>): Promise<ServerProcess & { cleanup(): void }> {
  try {
    return await localBroker(kind, port);
  } catch (err) {
    await stopCloud();
    throw err;
  }
}

async function throughputRound(kind: Kind, r: number, publishers: number): Promise<{ rate: number; cost: RoundCost }> {
  const cloudPort = await freePort();
  const cloud = await startCloudMosquitto(cloudPort);
  const local = await startLocal(kind, cloudPort, async () => (await cloud.stop(), cloud.cleanup()));
  try {
    await waitForwarding(local.port, cloudPort, !isMosquitto(kind));
    const auth = !isMosquitto(kind) ? ['-u', 'bench', '-P', TOKEN] : [];
    if (WARMUP > 0) {
      const warm = subscriber(cloudPort, `warm-${kind}-${r}-p${publishers}`, WARMUP, 120_000);
      await sleep(300);
      await publishLines(local.port, 'bench/warm', WARMUP, `w${r}`, auth, publishers);
      await warm.done;
    }
    const id = `sub-${kind}-${r}-p${publishers}`;
    const sub = subscriber(cloudPort, id, MESSAGES, 120_000);
    await sleep(300);
    const io0 = procIo(local.pid);
    const cpu0 = local.cpuTimeMs();
    const sys0 = cpuSplitMs(local.pid).systemMs;
    const t0 = performance.now();
    await publishLines(local.port, 'bench/t', MESSAGES, `r${r}`, auth, publishers);
    const { endAt } = await sub.done;
    const io1 = procIo(local.pid);
    const cost = {
      cpuUs: ((local.cpuTimeMs() - cpu0) * 1000) / MESSAGES,
      sysUs: ((cpuSplitMs(local.pid).systemMs - sys0) * 1000) / MESSAGES,
      syscalls: (io1.syscalls - io0.syscalls) / MESSAGES,
      writeBytes: (io1.writeBytes - io0.writeBytes) / MESSAGES,
    };
    return { rate: MESSAGES / ((endAt - t0) / 1000), cost };
  } finally {
    await local.stop();
    local.cleanup();
    await cloud.stop();
    cloud.cleanup();
  }
}

async function drainRound(kind: Kind, r: number): Promise<{ fillRate: number; drainRate: number; totalSec: number; fillCpuUs: number; drainCpuUs: number }> {
  const cloudPort = await freePort();
  const cloud = await startCloudMosquitto(cloudPort);
  const proxy = new GatedProxy(await freePort(), cloudPort);
  await proxy.open();
  const local = await startLocal(kind, proxy.port, async () => (await proxy.close(), await cloud.stop(), cloud.cleanup()));
  try {
    await waitForwarding(local.port, cloudPort, !isMosquitto(kind));
    const sub = await drainSubscribers(cloudPort, `drain-${kind}-${r}`, BACKLOG, 240_000);
    await proxy.close(); // the cloud is "down" for the bridge
    await sleep(500);
    const f0 = performance.now();
    const cpu0 = local.cpuTimeMs();
    const auth = !isMosquitto(kind) ? ['-u', 'bench', '-P', TOKEN] : [];
    await publishLines(local.port, 'bench/backlog', BACKLOG, `d${r}`, auth);
    const fillRate = BACKLOG / ((performance.now() - f0) / 1000);
    const cpu1 = local.cpuTimeMs();
    const t0 = performance.now();
    await proxy.open();
    const { firstAt, endAt } = await sub.done;
    // CPU per message of taking the backlog in (sensor side) and of sending it (uplink side).
    const perMessage = (ms: number): number => (ms * 1000) / BACKLOG;
    return {
      fillRate,
      drainRate: BACKLOG / ((endAt - Math.min(firstAt || endAt, endAt)) / 1000),
      totalSec: (endAt - t0) / 1000,
      fillCpuUs: perMessage(cpu1 - cpu0),
      drainCpuUs: perMessage(local.cpuTimeMs() - cpu1),
    };
  } finally {
    await local.stop();
    local.cleanup();
    await proxy.close();
    await cloud.stop();
    cloud.cleanup();
  }
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(
    `bridge benchmark: ${MESSAGES} QoS 1 messages x ${ROUNDS} rounds each (after ${WARMUP} ` +
      `warm-up messages), backlog ${BACKLOG}; ${cpus().length} CPUs, node ${process.version}`,
  );
  console.log(`edgegate: ${BUILT_CLI} (aedes ${EDGE.aedesVersion}); kinds ${KINDS.join(', ')}`);
  if (BASELINE) console.log(`edgegate-aedes1: ${BASELINE.cli} (aedes ${BASELINE.aedesVersion})`);
  const rates = emptyByKind<number>();
  const costs = emptyByKind<RoundCost>();
  const single = emptyByKind<number>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of roundKinds(r)) {
      for (const publishers of SHAPES) {
        const { rate, cost } = await throughputRound(kind, r, publishers);
        if (publishers === PUBLISHERS) {
          rates[kind].push(rate);
          costs[kind].push(cost);
        } else single[kind].push(rate);
        console.log(
          `  round ${r + 1} ${kind.padEnd(17)} ${String(publishers).padStart(2)} publisher(s) ${fmt(rate)} msg/s end to ` +
            `end; local broker per message: ${cost.cpuUs.toFixed(1)} µs CPU (${cost.sysUs.toFixed(1)} in the ` +
            `kernel), ${cost.syscalls.toFixed(2)} syscalls, ${cost.writeBytes.toFixed(0)} bytes to storage`,
        );
      }
    }
  }
  const drains = emptyByKind<Awaited<ReturnType<typeof drainRound>>>();
  const drainRounds = Math.max(1, Math.min(ROUNDS, arg('drain-rounds', 1)));
  for (let r = 0; r < drainRounds; r++) {
    for (const kind of roundKinds(r)) {
      const d = await drainRound(kind, r);
      drains[kind].push(d);
      console.log(
        `  drain ${r + 1} ${kind.padEnd(15)} fill ${fmt(d.fillRate)} msg/s, drain ${fmt(d.drainRate)} msg/s (first to last), ` +
          `${d.totalSec.toFixed(2)} s from cloud start; CPU per message ${d.fillCpuUs.toFixed(1)} µs in, ${d.drainCpuUs.toFixed(1)} µs out`,
      );
    }
  }
  const e = median(rates.edgegate);
  const m = median(rates.mosquitto);
  const ed = median(drains.edgegate.map((d) => d.drainRate));
  const md = median(drains.mosquitto.map((d) => d.drainRate));
  const ef = median(drains.edgegate.map((d) => d.fillRate));
  const mf = median(drains.mosquitto.map((d) => d.fillRate));
  console.log('\n| measure (median) | edgegate (durable SQLite queue) | Mosquitto bridge (memory) | ratio |');
  console.log('|---|---|---|---|');
  console.log(
    `| QoS 1 end to end, ${MESSAGES} msgs from ${PUBLISHERS} publisher(s), -M ` +
      `${MAX_INFLIGHT} each | ${fmt(e)} msg/s | ${fmt(m)} msg/s | ${(e / m).toFixed(2)}x |`,
  );
  if (PUBLISHERS > 1 && KINDS.includes('edgegate') && KINDS.includes('mosquitto')) {
    const e1 = median(single.edgegate);
    const m1 = median(single.mosquitto);
    console.log(
      `| QoS 1 end to end, ${MESSAGES} msgs from 1 publisher, -M ${MAX_INFLIGHT} (each PUBACK ` +
        `waits for its fsync) | ${fmt(e1)} msg/s | ${fmt(m1)} msg/s | ${(e1 / m1).toFixed(2)}x |`,
    );
  }
  console.log(`| backlog fill while cloud down, ${BACKLOG} msgs | ${fmt(ef)} msg/s | ${fmt(mf)} msg/s | ${(ef / mf).toFixed(2)}x |`);
  console.log(`| backlog drain, ${BACKLOG} msgs | ${fmt(ed)} msg/s | ${fmt(md)} msg/s | ${(ed / md).toFixed(2)}x |`);
  const cost = (k: Kind, f: keyof RoundCost, digits: number): string => median(costs[k].map((c) => c[f])).toFixed(digits);
  console.log(`| local broker CPU per message, end to end | ${cost('edgegate', 'cpuUs', 1)} µs | ${cost('mosquitto', 'cpuUs', 1)} µs | |`);
  console.log(`| of which in the kernel (system time) | ${cost('edgegate', 'sysUs', 1)} µs | ${cost('mosquitto', 'sysUs', 1)} µs | |`);
  console.log(`| local broker read+write syscalls per message (/proc/<pid>/io) | ${cost('edgegate', 'syscalls', 2)} | ${cost('mosquitto', 'syscalls', 2)} | |`);
  console.log(`| local broker bytes to storage per message (write_bytes) | ${cost('edgegate', 'writeBytes', 0)} | ${cost('mosquitto', 'writeBytes', 0)} | |`);
  if (KINDS.includes('mosquitto-persist')) {
    const p = median(rates['mosquitto-persist']);
    const p1 = single['mosquitto-persist'].length ? `, 1 publisher ${fmt(median(single['mosquitto-persist']))} msg/s` : '';
    console.log(
      `\nMosquitto with persistence true (autosave every 1800 s, writes nothing in ` +
        `between): end to end ${fmt(p)} msg/s (edgegate ${(e / p).toFixed(2)}x)${p1}, ` +
        `CPU ${cost('mosquitto-persist', 'cpuUs', 1)} µs, ${cost('mosquitto-persist', 'syscalls', 2)} ` +
        `syscalls, ${cost('mosquitto-persist', 'writeBytes', 0)} bytes to storage per message`,
    );
  }
  if (KINDS.includes('edgegate-aedes1')) {
    const b = median(rates['edgegate-aedes1']);
    console.log(
      `\nedgegate-aedes1 (${BASELINE_CLI}): end to end ${fmt(b)} msg/s (${(b / m).toFixed(2)}x Mosquitto; edgegate ${(e / b).toFixed(2)}x edgegate-aedes1), ` +
        `CPU ${cost('edgegate-aedes1', 'cpuUs', 1)} µs, ${cost('edgegate-aedes1', 'syscalls', 2)} ` +
        `syscalls, ${cost('edgegate-aedes1', 'writeBytes', 0)} bytes to storage per message`,
    );
    const ok = (x: boolean) => (x ? 'met' : 'MISSED');
    const bd = drains['edgegate-aedes1'];
    const bf = median(bd.map((d) => d.fillRate));
    const bdr = median(bd.map((d) => d.drainRate));
    const c = (k: Kind, f: keyof RoundCost) => median(costs[k].map((x) => x[f]));
    console.log(
      `\nbefore / after, same run (medians; each round has both): edgegate-aedes1 (aedes ` +
        `${BASELINE?.aedesVersion}) vs edgegate (aedes ${EDGE.aedesVersion}), Mosquitto ${fmt(m)} msg/s`,
    );
    console.log('| measure | before | after | after / before | goal | before | after |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(
      `| QoS 1 end to end, ${MESSAGES} msgs${WARMUP > 0 ? `, after ${WARMUP} warm-up` : ', cold'} | ${fmt(b)} msg/s ` +
        `(${(b / m).toFixed(2)}x Mosquitto) | ${fmt(e)} msg/s (${(e / m).toFixed(2)}x Mosquitto) | ${(e / b).toFixed(2)}x ` +
        `| ≥ 1.0x Mosquitto${WARMUP > 0 ? '' : ' (the goal is for warm)'} | ${ok(b / m >= 1)} | ${ok(e / m >= 1)} |`,
    );
    console.log(
      `| local broker CPU per message | ${c('edgegate-aedes1', 'cpuUs').toFixed(1)} µs | ${c('edgegate', 'cpuUs').toFixed(1)} ` +
        `µs | ${(c('edgegate', 'cpuUs') / c('edgegate-aedes1', 'cpuUs')).toFixed(2)}x | — | | |`,
    );
    console.log(
      `| of which in the kernel | ${c('edgegate-aedes1', 'sysUs').toFixed(1)} µs | ${c('edgegate', 'sysUs').toFixed(1)} ` +
        `µs | ${(c('edgegate', 'sysUs') / c('edgegate-aedes1', 'sysUs')).toFixed(2)}x | — | | |`,
    );
    console.log(
      `| read+write syscalls per message | ${c('edgegate-aedes1', 'syscalls').toFixed(2)} | ${c('edgegate', 'syscalls').toFixed(2)} ` +
        `| ${(c('edgegate', 'syscalls') / c('edgegate-aedes1', 'syscalls')).toFixed(2)}x | — | | |`,
    );
    console.log(
      `| bytes to storage per message | ${c('edgegate-aedes1', 'writeBytes').toFixed(0)} | ${c('edgegate', 'writeBytes').toFixed(0)} ` +
        `| ${(c('edgegate', 'writeBytes') / c('edgegate-aedes1', 'writeBytes')).toFixed(2)}x | — | | |`,
    );
    if (bd.length && drains.edgegate.length) {
      console.log(`| backlog fill, ${BACKLOG} msgs | ${fmt(bf)} msg/s | ${fmt(ef)} msg/s | ${(ef / bf).toFixed(2)}x | — | | |`);
      console.log(`| backlog drain, ${BACKLOG} msgs | ${fmt(bdr)} msg/s | ${fmt(ed)} msg/s | ${(ed / bdr).toFixed(2)}x | — | | |`);
    }
  }
  if (KINDS.includes('noflags')) {
    const n = median(rates.noflags);
    console.log(
      `\nwithout the unit's node flags (${unitNodeFlags().join(' ')}): end to end ${fmt(n)} msg/s; with them ${(e / n).toFixed(2)}x of that (goal >= 0.95x), ` +
        `CPU per message ${cost('edgegate', 'cpuUs', 1)} vs ${cost('noflags', 'cpuUs', 1)} µs`,
    );
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

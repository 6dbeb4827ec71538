// Start-up with durable broker state (durability issue): a broker holding
// --retained retained messages (default 10,000) and --sessions persistent
// sessions (default 1,000, each subscribed at QoS 1 with one message queued
// while it was away) is stopped and started again, --starts times. Measured
// for edgegate (shipped configuration: storage.sync full, the unit's node flags)
// and, in the same run, Mosquitto with `persistence true` holding the same state:
//   - start to listening (spawn → the MQTT port accepts);
//   - start to serving: a fresh client has CONNACK and every retained message;
//   - RSS right after listening and after the retained messages were served;
//   - the state that came back (retained count, a session's queued message).
// Each server is a child process on 127.0.0.1 (free ports); bounded.
//
//   npm run build && npx tsx scripts/bench/startup.ts [--retained 10000] [--sessions 1000] [--starts 5]
//   BENCH_CLI=<a dist/cli/main.js>  measures that build instead of this tree's dist/
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { numberArg } from './lib/args.js';
import { freePort } from './lib/freePort.js';
import { type MosquittoProcess, startMosquitto } from './lib/mosquitto.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { edgegateBuild } from './lib/paths.js';
import { rssKiB } from './lib/procStats.js';
import { type ServerProcess, spawnEdgegate } from './lib/spawnServer.js';
import { median } from './lib/stats.js';
import { hs256Token } from './lib/tokens.js';

const RETAINED = numberArg('retained', 10_000);
const SESSIONS = numberArg('sessions', 1_000);
const STARTS = Math.max(1, numberArg('starts', 5));
const EDGE = edgegateBuild();
const SECRET = 'startup-' + randomUUID();
const NOW = Math.floor(Date.now() / 1000);
const TOKEN = hs256Token(SECRET, { sub: 'bench', iat: NOW, exp: NOW + 86_400 });
const PAYLOAD = Buffer.alloc(64, 'r');
const mib = (kib: number): string => (kib / 1024).toFixed(1);

type Kind = 'edgegate' | 'edgegate-empty' | 'mosquitto';

interface Broker {
  kind: Kind;
  /** Starts the broker on its state (port fixed per broker, state kept between starts). */
  start(): Promise<ServerProcess>;
  auth: { username?: string; password?: string };
  cleanup(): void;
}

/** edgegate on its state; kind "edgegate-empty" never gets any (what the state costs). */
async function edgegateBroker(kind: 'edgegate' | 'edgegate-empty'): Promise<Broker> {
  if (!EDGE.cli) throw new Error('no dist/cli/main.js: run `npm run build` first');
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-startup-edgegate-'));
  const port = await freePort();
  return {
    kind,
    auth: { username: 'bench', password: TOKEN },
    start: () =>
      spawnEdgegate({
        cliFile: EDGE.cli,
        nodeArgs: unitNodeFlags(),
        dataDir,
        port,
        pollMs: 5,
        readyTimeoutMs: 120_000,
        config: { log: { level: 'warn' }, auth: { jwt: { secret: SECRET } }, broker: { maxClients: SESSIONS * 2 } },
      }),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

async function mosquittoBroker(): Promise<Broker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-startup-mosquitto-'));
  const port = await freePort();
  let last: MosquittoProcess | undefined;
  return {
    kind: 'mosquitto',
    auth: {},
    start: async () => {
      last?.cleanup();
      // Its defaults otherwise: the database is written at shutdown and every 30 minutes.
      last = await startMosquitto('startup-mosquitto', ['persistence true', `persistence_location ${dataDir}/`, 'max_queued_messages 100000'], port);
      return last;
    },
    cleanup: () => (last?.cleanup(), rmSync(dataDir, { recursive: true, force: true })),
  };
}

async function client(port: number, b: Broker, opts: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync({ host: '127.0.0.1', port, reconnectPeriod: 0, keepalive: 600, ...b.auth, ...opts });
}

/** Fills the broker: retained messages, persistent sessions with one queued message each. */
async function fill(server: ServerProcess, b: Broker): Promise<void> {
  const pub = await client(server.port, b, { clientId: 'bench-filler' });
  const batch = 500;
  for (let i = 0; i < RETAINED; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, RETAINED - i) }, (_, k) => pub.publishAsync(`retained/${i + k}`, PAYLOAD, { qos: 1, retain: true })),
    );
  }
  for (let i = 0; i < SESSIONS; i += 100) {
    const group = Array.from({ length: Math.min(100, SESSIONS - i) }, (_, k) => i + k);
    await Promise.all(
      group.map(async (n) => {
        const c = await client(server.port, b, { clientId: `session-${n}`, clean: false });
        await c.subscribeAsync(`sessions/${n}/cmd`, { qos: 1 });
        await c.endAsync();
      }),
    );
  }
  for (let i = 0; i < SESSIONS; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, SESSIONS - i) }, (_, k) => pub.publishAsync(`sessions/${i + k}/cmd`, 'queued', { qos: 1 })));
  }
  await pub.endAsync();
}

/** A fresh client's CONNACK, SUBACK and every retained message; ms from `t0`. */
async function served(server: ServerProcess, b: Broker, t0: number): Promise<number> {
  const c = await client(server.port, b, { clientId: `reader-${randomUUID().slice(0, 8)}` });
  const expected = b.kind === 'edgegate-empty' ? 0 : RETAINED;
  let n = 0;
  const all = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${b.kind}: ${n} of ${expected} retained messages after 120 s`)), 120_000);
    const done = (): void => (clearTimeout(timer), resolve());
    if (expected === 0) return done();
    c.on('message', () => {
      if (++n === expected) done();
    });
  });
  await c.subscribeAsync('retained/#', { qos: 0 });
  await all;
  const ms = performance.now() - t0;
  await c.endAsync();
  return ms;
}

/** The last session gets back the message queued for it while it was away. */
async function sessionCameBack(server: ServerProcess, b: Broker): Promise<boolean> {
  const n = SESSIONS - 1;
  // The listener is in place before CONNACK: a queued message may follow it in the same read.
  const c = mqtt.connect({ host: '127.0.0.1', port: server.port, reconnectPeriod: 0, keepalive: 600, ...b.auth, clientId: `session-${n}`, clean: false });
  const got = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    c.once('message', (topic) => (clearTimeout(timer), resolve(topic === `sessions/${n}/cmd`)));
  });
  // Leave it disconnected with its subscription, as it was (the queued message is consumed).
  await c.endAsync();
  return got;
}

interface StartFigures {
  listenMs: number;
  serveMs: number;
  rssListenKiB: number;
  rssServedKiB: number;
}

async function oneStart(b: Broker): Promise<StartFigures> {
  const t0 = performance.now();
  const server = await b.start();
  const listenMs = server.readyMs;
  const rssListenKiB = rssKiB(server.pid);
  const serveMs = await served(server, b, t0);
  const rssServedKiB = rssKiB(server.pid);
  await server.stop('SIGTERM', 30_000);
  return { listenMs, serveMs, rssListenKiB, rssServedKiB };
}

async function main(): Promise<void> {
  console.log(
    `start-up benchmark: ${RETAINED} retained messages, ${SESSIONS} persistent sessions (one queued message ` +
      `each), ${STARTS} starts; ${cpus().length} CPUs, node ${process.version}, load ${loadavg()[0]!.toFixed(2)}`,
  );
  console.log(`edgegate: ${EDGE.cli} (aedes ${EDGE.aedesVersion}), Mosquitto with persistence true`);
  const brokers = [await edgegateBroker('edgegate'), await mosquittoBroker(), await edgegateBroker('edgegate-empty')];
  const figures: Record<Kind, StartFigures[]> = { edgegate: [], 'edgegate-empty': [], mosquitto: [] };
  const back: Record<Kind, boolean> = { edgegate: false, 'edgegate-empty': false, mosquitto: false };
  try {
    for (const b of brokers.filter((x) => x.kind !== 'edgegate-empty')) {
      const server = await b.start();
      const t = performance.now();
      await fill(server, b);
      console.log(`  ${b.kind.padEnd(10)} filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      await server.stop('SIGTERM', 30_000);
      // The state came back at all (checked once, before the timed starts).
      const again = await b.start();
      back[b.kind] = await sessionCameBack(again, b);
      await again.stop('SIGTERM', 30_000);
    }
    for (let s = 0; s < STARTS; s++) {
      // A rotated order, so no kind always goes first.
      for (const b of [...brokers.slice(s % 3), ...brokers.slice(0, s % 3)]) {
        const f = await oneStart(b);
        figures[b.kind].push(f);
        console.log(
          `  start ${s + 1} ${b.kind.padEnd(14)} listening ${f.listenMs.toFixed(0)} ms, serving ` +
            `${f.serveMs.toFixed(0)} ms, RSS ${mib(f.rssListenKiB)} → ${mib(f.rssServedKiB)} MiB`,
        );
      }
    }
  } finally {
    for (const b of brokers) b.cleanup();
  }
  const m = (k: Kind, f: keyof StartFigures): number => median(figures[k].map((x) => x[f]));
  const row = (label: string, f: keyof StartFigures, show: (x: number) => string): void =>
    console.log(
      `| ${label} | ${show(m('edgegate', f))} | ${show(m('mosquitto', f))} | ` +
        `${(m('edgegate', f) / m('mosquitto', f)).toFixed(2)}x | ${show(m('edgegate-empty', f))} |`,
    );
  console.log(`\n| measure (median of ${STARTS}) | edgegate | Mosquitto (persistence true) | ratio | edgegate, empty data directory |`);
  console.log('|---|---|---|---|---|');
  row('start to listening', 'listenMs', (x) => `${x.toFixed(0)} ms`);
  row(`start to a client holding all ${RETAINED} retained`, 'serveMs', (x) => `${x.toFixed(0)} ms`);
  row('RSS when listening', 'rssListenKiB', (x) => `${mib(x)} MiB`);
  row('RSS after serving the retained', 'rssServedKiB', (x) => `${mib(x)} MiB`);
  console.log(`| a session's queued message came back after a restart | ${back.edgegate ? 'yes' : 'NO'} | ${back.mosquitto ? 'yes' : 'NO'} | | |`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

// Footprint benchmark (Raspberry Pi issue): the gateway as a Pi runs it — bridge to
// a real cloud Mosquitto, one serial port on a socat PTY, HTTP metrics on, the node
// flags of systemd/edgegate.service — against plain aedes, in the same run:
//   - start to listening (spawn → the MQTT port accepts), median of --starts
//     (per round, the kinds' starts interleaved);
//   - RSS idle (after --idle-sec);
//   - RSS with --sensors connected sensors, each subscribed to its own command topic;
//   - RSS --after-sec after they have all disconnected;
//   - server CPU for the connect+subscribe storm (what the node flags cost).
// Each server is a separate child process on 127.0.0.1 (free ports); bounded.
//
// --rounds N (default 1) repeats the whole set round-robin (each round starts at a
// rotated position) and reports medians over the rounds.
//
//   npm run build && npx tsx scripts/bench/footprint.ts [--sensors 1000] [--after-sec 60] [--starts 5] [--rounds 1]
//   FOOTPRINT_NODE_ARGS="..."  replaces the unit's node flags for edgegate (to measure a flag's cost)
//   BENCH_CLI=<a dist/cli/main.js>  measures that build as "edgegate" (from its own tree, plain aedes
//     on its node_modules) instead of this tree's dist/
//   BENCH_BASELINE_CLI=<an older build's dist/cli/main.js>  (e.g. a git worktree of an older commit,
//     `npm ci && npm run build` there) adds, in every round, "edgegate-aedes1": that build with the
//     same configuration and flags, run from its own tree (its node_modules, its aedes), and
//     "aedes1": plain aedes on that tree's node_modules; the summary then prints before / after.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberArg } from './lib/args.js';
import { bundleEntry } from './lib/bundle.js';
import { closeAll, connectMany } from './lib/connectClients.js';
import { freePort } from './lib/freePort.js';
import { startCloudMosquitto } from './lib/mosquitto.js';
import { subscribePacket } from './lib/mqttWire.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { baselineBuild, edgegateBuild } from './lib/paths.js';
import { cpuTimeMs, rssKiB } from './lib/procStats.js';
import { type ServerProcess, spawnEdgegate, spawnPlainAedes } from './lib/spawnServer.js';
import { median, sleep } from './lib/stats.js';
import { hs256Token } from './lib/tokens.js';

const arg = numberArg;
const SENSORS = arg('sensors', 1000);
const AFTER_SEC = arg('after-sec', 60);
const IDLE_SEC = arg('idle-sec', 5);
const STARTS = arg('starts', 5);
const ROUNDS = Math.max(1, arg('rounds', 1));
const EDGE = edgegateBuild();
const BUILT_CLI = EDGE.cli;
const BASELINE = baselineBuild();
const SECRET = 'footprint-' + randomUUID();
const mib = (kib: number): string => (kib / 1024).toFixed(1);

function token(sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  return hs256Token(SECRET, { sub, jti: randomUUID(), iat: now, exp: now + 86_400, acl: { pub: ['sensors/%u/#'], sub: ['cmd/%u/#'] } });
}

/** A socat PTY pair: the gateway opens one end, nobody writes the other (an idle sensor). */
async function ptyPair(dir: string): Promise<{ gatewaySide: string; stop(): void }> {
  const gatewaySide = join(dir, 'tty-gw');
  const child = spawn('socat', [`pty,raw,echo=0,link=${gatewaySide}`, `pty,raw,echo=0,link=${join(dir, 'tty-dev')}`], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !existsSync(gatewaySide); i++) await sleep(10);
  if (!existsSync(gatewaySide)) throw new Error('socat did not create the PTY pair (is socat installed?)');
  return { gatewaySide, stop: () => child.kill('SIGKILL') };
}

interface Setup {
  kind: 'edgegate' | 'edgegate-no-flags' | 'aedes' | 'edgegate-aedes1' | 'aedes1';
  start(pollMs?: number): Promise<ServerProcess & { cleanup?(): void }>;
}

function edgegateSetup(kind: Setup['kind'], cloudPort: number, ttyPath: string, nodeArgs: string[], cliFile = BUILT_CLI): Setup {
  return {
    kind,
    start: async (pollMs) =>
      spawnEdgegate({
        cliFile,
        nodeArgs,
        pollMs,
        readyTimeoutMs: 60_000,
        config: {
          log: { level: 'warn' },
          auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 1_000_000 } },
          broker: { maxClients: SENSORS * 2 },
          http: { enabled: true, host: '127.0.0.1', port: await freePort() },
          bridge: {
            enabled: true,
            url: `mqtt://127.0.0.1:${cloudPort}`,
            clientId: `footprint-${randomUUID().slice(0, 8)}`,
            topics: [
              { pattern: 'sensors/#', direction: 'out', qos: 1 },
              { pattern: 'cmd/#', direction: 'in', qos: 1 },
            ],
          },
          serial: { ports: [{ name: 'bench', path: ttyPath, baudRate: 115200, format: 'kv' }] },
        },
      }),
  };
}

/** Plain aedes, bundled so that no TypeScript loader inflates its start or its memory. */
function aedesSetup(file: string | undefined, kind: 'aedes' | 'aedes1' = 'aedes'): Setup {
  return { kind, start: (pollMs) => spawnPlainAedes({ file, pollMs }) };
}

/** Spawn → the port first accepts a TCP connection (polled every 2 ms). */
async function startTime(setup: Setup): Promise<number> {
  const server = await setup.start(2);
  await server.stop('SIGKILL');
  server.cleanup?.();
  return server.readyMs;
}

interface Figures {
  startMs: number;
  idleKiB: number;
  connectedKiB: number;
  afterKiB: number;
  stormCpuMs: number;
  accepted: number;
}

async function measure(setup: Setup): Promise<Omit<Figures, 'startMs'>> {
  const server = await setup.start();
  try {
    await sleep(IDLE_SEC * 1000);
    const idleKiB = rssKiB(server.pid);
    const cpu0 = cpuTimeMs(server.pid);
    const auth = setup.kind !== 'aedes' && setup.kind !== 'aedes1';
    const names = Array.from({ length: SENSORS }, (_, i) => `sensor-${i}`);
    const tokens = auth ? names.map(token) : [];
    const result = await connectMany({
      port: server.port,
      count: SENSORS,
      concurrency: 200,
      fields: (i) => ({ clientId: names[i]!, keepaliveSec: 600, ...(auth ? { username: names[i]!, password: tokens[i]! } : {}) }),
    });
    await Promise.all(result.sockets.map((s, i) => subscribeAndWait(s, `cmd/sensor-${i}/#`)));
    await sleep(2000);
    const stormCpuMs = cpuTimeMs(server.pid) - cpu0;
    const connectedKiB = rssKiB(server.pid);
    await closeAll(result.sockets);
    await sleep(AFTER_SEC * 1000);
    const afterKiB = rssKiB(server.pid);
    return { idleKiB, connectedKiB, afterKiB, stormCpuMs, accepted: result.accepted };
  } finally {
    await server.stop();
    server.cleanup?.();
  }
}

function subscribeAndWait(socket: Socket, filter: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no SUBACK for ${filter}`)), 30_000);
    socket.once('data', (d: Buffer) => {
      clearTimeout(timer);
      if (d[0] === 0x90) resolve();
      else reject(new Error(`expected SUBACK, got 0x${d[0]!.toString(16)}`));
    });
    socket.write(subscribePacket(1, filter, 1));
  });
}

async function main(): Promise<void> {
  const flags = process.env.FOOTPRINT_NODE_ARGS !== undefined ? process.env.FOOTPRINT_NODE_ARGS.split(' ').filter(Boolean) : unitNodeFlags();
  console.log(`footprint benchmark: ${SENSORS} sensors, RSS ${AFTER_SEC} s after they left; ${cpus().length} CPUs, node ${process.version}`);
  console.log(
    `edgegate: ${BUILT_CLI ?? 'src via tsx (run npm run build for real figures)'} (aedes ${EDGE.aedesVersion}), node flags: ${flags.join(' ') || '(none)'}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'edgegate-footprint-'));
  const cloud = await startCloudMosquitto();
  const pty = await ptyPair(dir);
  const aedesBundle = await bundleEntry('scripts/bench/lib/servers/plainAedes.ts', 'aedes', EDGE.root);
  const aedes1Bundle = BASELINE ? await bundleEntry('scripts/bench/lib/servers/plainAedes.ts', 'aedes1', BASELINE.root) : undefined;
  if (BASELINE) {
    if (!aedes1Bundle) throw new Error('BENCH_BASELINE_CLI needs esbuild (the plain aedes of the baseline tree is a bundle)');
    console.log(
      `baseline build (BENCH_BASELINE_CLI): ${BASELINE.cli}, aedes ${BASELINE.aedesVersion}; ` +
        `edgegate's aedes ${EDGE.aedesVersion}; ${ROUNDS} round(s), round-robin`,
    );
  }
  try {
    // Without the flags too: what they buy in memory and cost in CPU, same run.
    const setups = [
      aedesSetup(aedesBundle?.file),
      edgegateSetup('edgegate', cloud.port, pty.gatewaySide, flags),
      edgegateSetup('edgegate-no-flags', cloud.port, pty.gatewaySide, []),
    ];
    if (BASELINE) setups.push(aedesSetup(aedes1Bundle!.file, 'aedes1'), edgegateSetup('edgegate-aedes1', cloud.port, pty.gatewaySide, flags, BASELINE.cli));
    const perRound = new Map<string, Figures[]>();
    for (let r = 0; r < ROUNDS; r++) {
      // Round r starts at a rotated position, so no kind always goes first.
      const order = [...setups.slice(r % setups.length), ...setups.slice(0, r % setups.length)];
      // Start times first, the kinds interleaved (A B C A B C ...): on a shared machine a
      // burst of load then hits every kind alike, not the one whose turn it was.
      const startsOf = new Map<string, number[]>(order.map((s) => [s.kind, []]));
      for (let i = 0; i < STARTS; i++) for (const setup of order) startsOf.get(setup.kind)!.push(await startTime(setup));
      for (const setup of order) {
        const starts = startsOf.get(setup.kind)!;
        const m = await measure(setup);
        if (m.accepted !== SENSORS) throw new Error(`${setup.kind}: only ${m.accepted} of ${SENSORS} sensors connected`);
        perRound.set(setup.kind, [...(perRound.get(setup.kind) ?? []), { startMs: median(starts), ...m }]);
        console.log(
          `  ${ROUNDS > 1 ? `round ${r + 1} ` : ''}${setup.kind}: start ${median(starts).toFixed(0)} ms (of ${starts.map((s) => s.toFixed(0)).join(', ')}); ` +
            `RSS idle ${mib(m.idleKiB)}, with ${SENSORS} ${mib(m.connectedKiB)}, ${AFTER_SEC} s after ` +
            `${mib(m.afterKiB)} MiB; storm CPU ${m.stormCpuMs.toFixed(0)} ms; load ${loadavg()[0]!.toFixed(2)}`,
        );
      }
    }
    // Medians over the rounds, figure by figure.
    const figures = new Map<string, Figures>();
    for (const [kind, list] of perRound) {
      const pick = (k: keyof Figures) => median(list.map((f) => f[k]));
      figures.set(kind, {
        startMs: pick('startMs'),
        idleKiB: pick('idleKiB'),
        connectedKiB: pick('connectedKiB'),
        afterKiB: pick('afterKiB'),
        stormCpuMs: pick('stormCpuMs'),
        accepted: pick('accepted'),
      });
    }
    const a = figures.get('aedes')!;
    const e = figures.get('edgegate')!;
    const n = figures.get('edgegate-no-flags')!;
    const row = (what: string, ev: number, av: number, unit: string, goal: string, fmt = (x: number) => x.toFixed(0)): string =>
      `| ${what} | ${fmt(ev)} ${unit} | ${fmt(av)} ${unit} | ${(ev / av).toFixed(2)}x | ${goal} |`;
    console.log('\n| measure (same run) | edgegate | plain aedes | ratio | goal |');
    console.log('|---|---|---|---|---|');
    console.log(row('RSS idle (bridge + serial + metrics)', e.idleKiB, a.idleKiB, 'MiB', '≤ 1.10x and ≤ 60 MiB', mib));
    console.log(row(`RSS with ${SENSORS} connected, subscribed sensors`, e.connectedKiB, a.connectedKiB, 'MiB', '≤ 100 MiB', mib));
    console.log(row(`RSS ${AFTER_SEC} s after they disconnected`, e.afterKiB, a.afterKiB, 'MiB', '≤ 100 MiB', mib));
    console.log(row('start to listening', e.startMs, a.startMs, 'ms', '≤ 2x'));
    console.log(row(`server CPU, ${SENSORS} connects + subscribes`, e.stormCpuMs, a.stormCpuMs, 'ms', '—'));
    console.log(`\nthe node flags (${flags.join(' ') || 'none'}), edgegate with / without them, same run:`);
    console.log('| measure | with | without | ratio |');
    console.log('|---|---|---|---|');
    const flagRow = (what: string, w: number, wo: number, unit: string, fmt = (x: number) => x.toFixed(0)): string =>
      `| ${what} | ${fmt(w)} ${unit} | ${fmt(wo)} ${unit} | ${(w / wo).toFixed(2)}x |`;
    console.log(flagRow('RSS idle', e.idleKiB, n.idleKiB, 'MiB', mib));
    console.log(flagRow(`RSS with ${SENSORS} sensors`, e.connectedKiB, n.connectedKiB, 'MiB', mib));
    console.log(flagRow(`RSS ${AFTER_SEC} s after`, e.afterKiB, n.afterKiB, 'MiB', mib));
    console.log(flagRow('server CPU of the storm', e.stormCpuMs, n.stormCpuMs, 'ms'));
    if (BASELINE) {
      const b = figures.get('edgegate-aedes1')!;
      const a1 = figures.get('aedes1')!;
      const ok = (x: boolean) => (x ? 'met' : 'MISSED');
      console.log(
        `\nbefore / after, same run${ROUNDS > 1 ? `, medians of ${ROUNDS} rounds` : ''}: edgegate-aedes1 (${BASELINE.cli}, ` +
          `aedes ${BASELINE.aedesVersion}) vs edgegate (${BUILT_CLI}, aedes ${EDGE.aedesVersion}); plain aedes of each tree`,
      );
      console.log(
        `| measure | before | after | after / before | plain aedes ${BASELINE.aedesVersion} | plain aedes ` +
          `${EDGE.aedesVersion} | goal | before | after (vs its own aedes; vs aedes ${BASELINE.aedesVersion}) |`,
      );
      console.log('|---|---|---|---|---|---|---|---|---|');
      const ba = (
        what: string,
        bv: number,
        ev: number,
        a1v: number,
        av: number,
        unit: string,
        g: string,
        okB: string,
        okA: string,
        fmt = (x: number) => x.toFixed(0),
      ): void =>
        console.log(
          `| ${what} | ${fmt(bv)} ${unit} (${(bv / a1v).toFixed(3)}x) | ${fmt(ev)} ${unit} (${(ev / av).toFixed(3)}x; ` +
            `${(ev / a1v).toFixed(3)}x vs aedes ${BASELINE.aedesVersion}) | ${(ev / bv).toFixed(2)}x ` +
            `| ${fmt(a1v)} ${unit} | ${fmt(av)} ${unit} | ${g} | ${okB} | ${okA} |`,
        );
      const idle = (f: Figures, base: Figures) => f.idleKiB / base.idleKiB <= 1.1 && f.idleKiB <= 60 * 1024;
      const idleOk = `${ok(idle(e, a))}; ${ok(idle(e, a1))}`;
      ba('RSS idle', b.idleKiB, e.idleKiB, a1.idleKiB, a.idleKiB, 'MiB', '≤ 1.10x and ≤ 60 MiB', ok(idle(b, a1)), idleOk, mib);
      ba(
        `RSS with ${SENSORS} sensors`,
        b.connectedKiB,
        e.connectedKiB,
        a1.connectedKiB,
        a.connectedKiB,
        'MiB',
        '≤ 100 MiB',
        ok(b.connectedKiB <= 100 * 1024),
        ok(e.connectedKiB <= 100 * 1024),
        mib,
      );
      ba(
        `RSS ${AFTER_SEC} s after`,
        b.afterKiB,
        e.afterKiB,
        a1.afterKiB,
        a.afterKiB,
        'MiB',
        '≤ 100 MiB',
        ok(b.afterKiB <= 100 * 1024),
        ok(e.afterKiB <= 100 * 1024),
        mib,
      );
      ba(
        'start to listening',
        b.startMs,
        e.startMs,
        a1.startMs,
        a.startMs,
        'ms',
        '≤ 2x',
        ok(b.startMs / a1.startMs <= 2),
        `${ok(e.startMs / a.startMs <= 2)}; ${ok(e.startMs / a1.startMs <= 2)}`,
      );
      ba(`server CPU, ${SENSORS} connects + subscribes`, b.stormCpuMs, e.stormCpuMs, a1.stormCpuMs, a.stormCpuMs, 'ms', '—', '', '');
    }
  } finally {
    pty.stop();
    aedesBundle?.cleanup();
    aedes1Bundle?.cleanup();
    await cloud.stop();
    cloud.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

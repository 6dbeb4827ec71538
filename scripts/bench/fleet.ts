// A fleet on one machine: N gateway processes (the built dist/cli/main.js, with
// the unit's node flags), each with S sensors publishing QoS 1, bridged to two
// Mosquittos bridged to each other (half the gateways on each; a stand-in for a
// two-node cloud cluster). Measures, all on 127.0.0.1:
//  1. revocation propagation: `edgegate fleet revoke --sub victim` (one sensor per
//     gateway holds a `victim` token) to each victim's disconnect: p50/p99/max,
//     from the CLI's start and from the event's arrival at a cloud subscriber;
//  2. an outage of both cloud nodes (SIGTERM, --outage seconds, restart with their
//     persistence): reconnect spread (first to last gateway reconnect, from the
//     gateways' own log lines), time until every message acknowledged to a sensor
//     has reached the cloud subscriber, and how many acknowledged messages are lost;
//  3. RSS of every gateway (total, mean, max) in steady state.
// Bounded (every wait has a deadline), stops everything by itself; not in npm test.
//
//   npm run build && npx tsx scripts/bench/fleet.ts [--gateways 50] [--sensors 5] [--outage 30] [--rate 1] [--drain-rate 0]
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { numberArg } from './lib/args.js';
import { freePort } from './lib/freePort.js';
import { type MosquittoProcess, startMosquitto } from './lib/mosquitto.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { builtCli } from './lib/paths.js';
import { formatMiB } from './lib/procStats.js';
import { type EdgegateProcess, spawnEdgegate } from './lib/spawnServer.js';
import { sleep } from './lib/stats.js';
import { hs256Token } from './lib/tokens.js';

const GATEWAYS = numberArg('gateways', 50);
const SENSORS = numberArg('sensors', 5);
const OUTAGE_SEC = numberArg('outage', 30);
const RATE = numberArg('rate', 1);
const DRAIN_RATE = numberArg('drain-rate', 0);
const CLI = builtCli();
const SECRET = 'fleet-bench-' + randomUUID();
const TOPIC = 'edgegate/revocations';
const NOW = Math.floor(Date.now() / 1000);
const token = (sub: string): string => hs256Token(SECRET, { sub, iat: NOW, exp: NOW + 86_400 });

async function until(what: string, pred: () => boolean, ms: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const ms = (v: number): string => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');

/** A cloud node with its own persistence directory, so it can be stopped and started again on its port. */
class CloudNode {
  proc?: MosquittoProcess;
  constructor(
    readonly name: string,
    readonly port: number,
    readonly dir: string,
    private readonly lines: string[],
  ) {}
  async start(): Promise<void> {
    this.proc = await startMosquitto(
      this.name,
      ['persistence true', `persistence_location ${this.dir}/`, 'max_queued_messages 0', 'max_inflight_messages 100', ...this.lines],
      this.port,
    );
  }
  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 5000);
    this.proc?.cleanup();
    this.proc = undefined;
  }
}

function cloudClient(port: number, clientId: string, clean: boolean): Promise<MqttClient> {
  const c = mqtt.connect({ host: '127.0.0.1', port, clientId, clean, reconnectPeriod: 200, protocolVersion: 4 });
  c.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${clientId}: no CONNACK`)), 10_000);
    c.once('connect', () => (clearTimeout(t), resolve(c)));
  });
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI!, ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Times (ms) of a gateway's JSON log lines that match. */
function logTimes(g: EdgegateProcess, match: (line: Record<string, unknown>) => boolean): number[] {
  const out: number[] = [];
  for (const text of g.output().split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const line = JSON.parse(text) as Record<string, unknown>;
      if (match(line)) out.push(typeof line.time === 'number' ? line.time : Date.parse(String(line.time)));
    } catch {
      // a line cut by the output limit
    }
  }
  return out;
}

interface Sensor {
  gateway: number;
  client: MqttClient;
  victim: boolean;
  closedAt?: number;
}

async function main(): Promise<void> {
  if (!CLI) throw new Error('dist/cli/main.js not found: run `npm run build` first');
  const work = mkdtempSync(join(tmpdir(), 'edgegate-fleet-bench-'));
  const gateways: EdgegateProcess[] = [];
  const sensors: Sensor[] = [];
  const clients: MqttClient[] = [];
  let a: CloudNode | undefined;
  let b: CloudNode | undefined;
  let timer: NodeJS.Timeout | undefined;
  let observer: ChildProcess | undefined;
  try {
    // Keys and the two-node cloud.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = join(work, 'fleet.pem');
    const pubFile = join(work, 'fleet.pub.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const [portA, portB] = [await freePort(), await freePort()];
    a = new CloudNode('cloud-a', portA, mkdtempSync(join(work, 'a-')), []);
    b = new CloudNode('cloud-b', portB, mkdtempSync(join(work, 'b-')), [
      'connection to-a',
      `address 127.0.0.1:${portA}`,
      'topic # both 1',
      'cleansession false',
      'restart_timeout 1',
      'try_private true',
    ]);
    await a.start();
    await b.start();

    // The operator's view: every sensor message (persistent session) and the revocation events.
    const seen = new Set<string>();
    const sub = await cloudClient(portA, 'fleet-bench-sub', false);
    clients.push(sub);
    sub.on('message', (topic, payload) => {
      if (topic !== TOPIC) seen.add(payload.toString());
    });
    await new Promise<void>((r) => sub.subscribe({ 'sensors/#': { qos: 1 } }, () => r()));

    // The gateways (started a few at a time).
    const t0 = Date.now();
    const nodeArgs = unitNodeFlags();
    for (let i = 0; i < GATEWAYS; i += 5) {
      const batch = Array.from({ length: Math.min(5, GATEWAYS - i) }, (_, k) => i + k);
      gateways.push(
        ...(await Promise.all(
          batch.map((n) =>
            spawnEdgegate({
              cliFile: CLI,
              nodeArgs,
              readyTimeoutMs: 60_000,
              config: {
                log: { level: 'info' },
                auth: { jwt: { secret: SECRET }, revocation: { topic: TOPIC, keys: [pubFile] } },
                bridge: {
                  enabled: true,
                  url: `mqtt://127.0.0.1:${n % 2 === 0 ? portA : portB}`,
                  clientId: `gw-${String(n).padStart(3, '0')}`,
                  healthIntervalSec: 30,
                  ...(DRAIN_RATE > 0 ? { drainRatePerSec: DRAIN_RATE } : {}),
                  topics: [
                    { pattern: `${TOPIC}/#`, direction: 'in', qos: 1 },
                    { pattern: 'sensors/#', direction: 'out', qos: 1 },
                  ],
                },
              },
            }),
          ),
        )),
      );
    }
    console.log(`${GATEWAYS} gateways started in ${((Date.now() - t0) / 1000).toFixed(1)} s (half on each cloud node)`);

    // Sensors: S per gateway, sensor 0 holds a `victim` token; all publish QoS 1.
    const acked = new Set<string>();
    const counters = new Map<string, number>();
    for (const [g, gw] of gateways.entries()) {
      for (let s = 0; s < SENSORS; s++) {
        const victim = s === 0;
        const client = mqtt.connect({
          host: '127.0.0.1',
          port: gw.port,
          clientId: `s-${g}-${s}`,
          username: 'u',
          password: token(victim ? 'victim' : `s-${g}-${s}`),
          reconnectPeriod: 0,
          protocolVersion: 4,
        });
        client.on('error', () => undefined);
        const sensor: Sensor = { gateway: g, client, victim };
        client.on('close', () => (sensor.closedAt ??= Date.now()));
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('close', () => reject(new Error(`sensor s-${g}-${s} could not connect`)));
        });
        sensors.push(sensor);
        clients.push(client);
      }
    }
    const publishOnce = (): void => {
      for (const s of sensors) {
        if (!s.client.connected) continue;
        const id = s.client.options.clientId!;
        const n = (counters.get(id) ?? 0) + 1;
        counters.set(id, n);
        const payload = `${id}/${n}`;
        s.client.publish(`sensors/${s.gateway}/${id}`, payload, { qos: 1 }, (err) => {
          if (!err) acked.add(payload);
        });
      }
    };
    timer = setInterval(publishOnce, 1000 / RATE);
    await sleep(5000);

    // 1. Revocation propagation. The event's arrival on cloud node A is timed by a
    // mosquitto_sub of its own (not this busy process); each gateway's disconnect by its own log line.
    observer = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(portA), '-t', TOPIC, '-q', '1', '-F', '%U', '-C', '1']);
    let observed = '';
    observer.stdout!.on('data', (d: Buffer) => (observed += d.toString()));
    await sleep(500);
    const cliStart = Date.now();
    const revoke = await runCli(['fleet', 'revoke', '--cloud', `mqtt://127.0.0.1:${portA}`, '--key', keyFile, '--sub', 'victim', '--reason', 'bench']);
    const cliMs = Date.now() - cliStart;
    if (revoke.code !== 0) throw new Error(`fleet revoke failed: ${revoke.stderr}`);
    const victims = sensors.filter((s) => s.victim);
    await until('every victim disconnected', () => victims.every((s) => s.closedAt !== undefined), 30_000);
    await until('the observer saw the event', () => observed.trim() !== '', 10_000);
    const eventOnCloud = Number(observed.trim()) * 1000;
    const disconnects = gateways
      .map((g) => logTimes(g, (l) => l.msg === 'disconnecting client' && l.sub === 'victim')[0])
      .filter((t): t is number => t !== undefined);
    const gatewaySide = disconnects.map((t) => t - eventOnCloud).sort((x, y) => x - y);
    const sensorSide = victims.map((s) => s.closedAt! - cliStart).sort((x, y) => x - y);
    console.log(`fleet revoke (CLI start to exit, under this load): ${ms(cliMs)}`);
    console.log(
      `revocation, event on cloud node A to the disconnect on the gateway (${gatewaySide.length} gateways): ` +
        `p50 ${ms(pct(gatewaySide, 50))}, p99 ${ms(pct(gatewaySide, 99))}, max ${ms(gatewaySide.at(-1)!)}`,
    );
    console.log(
      `revocation, \`fleet revoke\` start to the sensor seeing its connection closed (${sensorSide.length} ` +
        `sensors): p50 ${ms(pct(sensorSide, 50))}, p99 ${ms(pct(sensorSide, 99))}, max ${ms(sensorSide.at(-1)!)}`,
    );
    // And refused on reconnect.
    const again = mqtt.connect({
      host: '127.0.0.1',
      port: gateways[0]!.port,
      clientId: 'victim-again',
      username: 'u',
      password: token('victim'),
      reconnectPeriod: 0,
    });
    const refusedCode = await new Promise<number>((resolve) => {
      again.once('connect', () => resolve(0));
      again.once('error', (err: Error & { code?: number }) => resolve(err.code ?? -1));
    });
    again.end(true);
    console.log(`victim reconnect: CONNACK ${refusedCode} (4 = refused)`);

    // 3. RSS in steady state (before the outage).
    const rss = gateways.map((g) => g.rssKiB()).filter(Number.isFinite);
    const total = rss.reduce((x, y) => x + y, 0);
    console.log(`RSS: total ${formatMiB(total)}, per gateway mean ${formatMiB(total / rss.length)}, max ${formatMiB(Math.max(...rss))}`);

    // 2. Outage of both cloud nodes, then the restart.
    await sleep(3000);
    const beforeOutage = acked.size;
    const downAt = Date.now();
    await Promise.all([a.stop(), b.stop()]);
    console.log(`both cloud nodes down for ${OUTAGE_SEC} s (sensors keep publishing; ${acked.size} acknowledged so far)`);
    await sleep(OUTAGE_SEC * 1000);
    const upAt = Date.now();
    await a.start();
    await b.start();
    const queuedDuring = acked.size - beforeOutage;
    clearInterval(timer);
    timer = undefined;
    await sleep(1500); // the last PUBACKs
    const target = [...acked];
    await until('every acknowledged message at the cloud subscriber', () => target.every((p) => seen.has(p)), 300_000, 200).catch((err: Error) =>
      console.log(err.message),
    );
    const deliveredAt = Date.now();
    const lost = target.filter((p) => !seen.has(p)).length;
    const reconnects = gateways
      .map((g) => logTimes(g, (l) => l.msg === 'connected to the cloud').filter((t) => t > upAt)[0])
      .filter((t): t is number => t !== undefined)
      .sort((x, y) => x - y);
    console.log(
      `outage ${((upAt - downAt) / 1000).toFixed(1)} s, ${queuedDuring} messages acknowledged while it was down or starting; after restart: ` +
        `${reconnects.length}/${GATEWAYS} gateways reconnected, first ${ms(reconnects[0]! - upAt)}, ` +
        `last ${ms(reconnects.at(-1)! - upAt)} (spread ${ms(reconnects.at(-1)! - reconnects[0]!)}); ` +
        `every acknowledged message delivered ${ms(deliveredAt - upAt)} after the restart; ${target.length} acknowledged, ${lost} lost`,
    );
  } finally {
    if (timer) clearInterval(timer);
    if (observer?.exitCode === null) observer.kill();
    for (const c of clients) c.end(true);
    await Promise.all(gateways.map((g) => g.stop('SIGTERM', 5000)));
    for (const g of gateways) g.cleanup();
    await a?.stop();
    await b?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

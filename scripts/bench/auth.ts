// Authentication benchmark: 1,000 MQTT clients connecting concurrently to
//   - plain aedes with no authentication (baseline),
//   - edgegate with HS256 tokens,
//   - edgegate with ES256 tokens,
// each server in its own child process on loopback, so RSS and CPU are the
// server's. Prints connects/s, the ratios to plain aedes, and the edgegate
// daemon's RSS idle and with 1,000 clients connected. Bounded: a fixed number
// of rounds, then it stops by itself.
//
//   npx tsx scripts/bench/auth.ts [--clients 1000] [--rounds 5]
import { createHmac, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { numberArg } from './lib/args.js';
import { bundleEntry } from './lib/bundle.js';
import { type ConnectManyResult, closeAll, connectMany } from './lib/connectClients.js';
import { builtCli } from './lib/paths.js';
import { formatMiB } from './lib/procStats.js';
import { type ServerProcess, spawnEdgegate, spawnPlainAedes } from './lib/spawnServer.js';
import { median } from './lib/stats.js';

const arg = numberArg;
const CLIENTS = arg('clients', 1000);
const ROUNDS = arg('rounds', 5);
const SECRET = 'bench-secret-' + randomUUID();

const b64 = (x: string | Buffer): string => Buffer.from(x).toString('base64url');
const nowSec = Math.floor(Date.now() / 1000);

/** Distinct tokens per client (so no verified-token cache can help), signed with node:crypto. */
function mintTokens(alg: 'HS256' | 'ES256', n: number, privateKey?: ReturnType<typeof generateKeyPairSync>['privateKey']): string[] {
  const header = b64(JSON.stringify({ alg, typ: 'JWT' }));
  return Array.from({ length: n }, (_, i) => {
    const payload = b64(
      JSON.stringify({ sub: `bench-${i}`, jti: randomUUID(), iat: nowSec, exp: nowSec + 3600, acl: { pub: ['sensors/%c/#'], sub: ['cmd/%c/#'] } }),
    );
    const input = `${header}.${payload}`;
    const sig =
      alg === 'HS256'
        ? createHmac('sha256', SECRET).update(input).digest()
        : sign('sha256', Buffer.from(input), { key: privateKey!, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64(sig)}`;
  });
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Series {
  label: string;
  rates: number[];
  rssWithClientsKiB: number[];
  cpuMsPerConnect: number[];
}

async function round(server: ServerProcess, label: string, r: number, password: (i: number) => string): Promise<ConnectManyResult & { cpuMs: number }> {
  const cpu0 = server.cpuTimeMs();
  const res = await connectMany({
    port: server.port,
    count: CLIENTS,
    fields: (i) => ({ clientId: `${label}-${r}-${i}`, username: `u${i}`, password: password(i), keepaliveSec: 0 }),
  });
  const cpuMs = server.cpuTimeMs() - cpu0;
  if (res.accepted !== CLIENTS) {
    throw new Error(
      `${label} round ${r}: accepted ${res.accepted}/${CLIENTS}, refused ${JSON.stringify(res.refused)}, errors ${res.errors}\n${server.output().slice(-2000)}`,
    );
  }
  return { ...res, cpuMs };
}

/**
 * Runs ROUNDS rounds of each series on one server, interleaved (A1 B1 A2 B2 ...)
 * so that neither series always runs on a colder or more loaded process.
 */
async function runSeries(server: ServerProcess, series: Array<{ label: string; password: (r: number, i: number) => string }>): Promise<Series[]> {
  const out: Series[] = series.map(({ label }) => ({ label, rates: [], rssWithClientsKiB: [], cpuMsPerConnect: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, { label, password }] of series.entries()) {
      const s = out[k]!;
      const res = await round(server, label, r, (i) => password(r, i));
      await settle(300);
      s.rates.push(res.connectsPerSec);
      s.rssWithClientsKiB.push(server.rssKiB());
      s.cpuMsPerConnect.push(res.cpuMs / CLIENTS);
      await closeAll(res.sockets);
      await settle(500);
      process.stderr.write(
        `  ${label} round ${r + 1}/${ROUNDS}: ${res.connectsPerSec.toFixed(0)} connects/s (${res.elapsedMs.toFixed(0)} ` +
          `ms), server CPU ${(res.cpuMs / CLIENTS).toFixed(2)} ms/connect, RSS ${formatMiB(s.rssWithClientsKiB.at(-1)!)}\n`,
      );
    }
  }
  return out;
}

async function warmUp(server: ServerProcess, password: (i: number) => string): Promise<void> {
  const res = await connectMany({
    port: server.port,
    count: 100,
    concurrency: 20,
    fields: (i) => ({ clientId: `warm-${i}`, username: 'w', password: password(i) }),
  });
  await closeAll(res.sockets);
  await settle(300);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgegate-bench-keys-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pubkeyFile = join(dir, 'es256.pub.pem');
  writeFileSync(pubkeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  process.stderr.write(`minting ${ROUNDS} x ${CLIENTS} HS256 and ES256 tokens...\n`);
  const hs = Array.from({ length: ROUNDS }, () => mintTokens('HS256', CLIENTS));
  const es = Array.from({ length: ROUNDS }, () => mintTokens('ES256', CLIENTS, privateKey));
  const warmHs = mintTokens('HS256', 100);
  const warmEs = mintTokens('ES256', 100, privateKey);

  // Both servers run as plain JS (bundled), so neither carries the tsx loader.
  // The compiled daemon (dist/, `npm run build`) as installed; else a bundle of src/.
  const built = builtCli();
  const cliBundle = built ? { file: built, cleanup: () => undefined } : await bundleEntry('src/cli/main.ts', 'cli');
  const aedesBundle = await bundleEntry('scripts/bench/lib/servers/plainAedes.ts', 'aedes');
  const runner = cliBundle && aedesBundle ? 'plain node (esbuild bundle)' : 'tsx';

  // Baseline: plain aedes, no authentication.
  process.stderr.write('plain aedes (no auth)\n');
  const aedes = await spawnPlainAedes({ file: aedesBundle?.file });
  let plain: Series;
  let aedesIdleKiB: number;
  try {
    await settle(1000);
    aedesIdleKiB = aedes.rssKiB();
    await warmUp(aedes, () => 'x');
    [plain] = (await runSeries(aedes, [{ label: 'aedes', password: () => 'x' }])) as [Series];
  } finally {
    await aedes.stop();
  }

  // edgegate with both an HMAC secret and an ES256 public key: the token's alg picks the key.
  process.stderr.write('edgegate (HS256 and ES256)\n');
  const edge = await spawnEdgegate({ config: { auth: { jwt: { secret: SECRET, pubkey: pubkeyFile } } }, cliFile: cliBundle?.file });
  let hsSeries: Series;
  let esSeries: Series;
  let idleKiB: number;
  let idleAfterKiB: number;
  let stopMs: number;
  try {
    await settle(1500);
    idleKiB = edge.rssKiB();
    await warmUp(edge, (i) => warmHs[i]!);
    await warmUp(edge, (i) => warmEs[i]!);
    [hsSeries, esSeries] = (await runSeries(edge, [
      { label: 'edgegate-HS256', password: (r, i) => hs[r]![i]! },
      { label: 'edgegate-ES256', password: (r, i) => es[r]![i]! },
    ])) as [Series, Series];
    await settle(1000);
    idleAfterKiB = edge.rssKiB();
  } finally {
    const stopped = await edge.stop();
    stopMs = stopped.ms;
    edge.cleanup();
    rmSync(dir, { recursive: true, force: true });
    cliBundle?.cleanup();
    aedesBundle?.cleanup();
  }

  const base = median(plain.rates);
  const rows = [plain, hsSeries, esSeries].map((s) => ({
    server: s.label,
    'connects/s (median)': Math.round(median(s.rates)),
    'all rounds': s.rates.map((x) => Math.round(x)).join(' / '),
    'ratio to aedes': (median(s.rates) / base).toFixed(2),
    'server CPU ms/connect': median(s.cpuMsPerConnect).toFixed(3),
    // Less sensitive to other load on the machine than wall-clock rates.
    'connects per server CPU-s': Math.round(1000 / median(s.cpuMsPerConnect)),
    // The first round shows the cost of the connections; later rounds add heap V8 has not given back yet.
    [`RSS with ${CLIENTS} clients (1st / last round)`]: `${formatMiB(s.rssWithClientsKiB[0]!)} / ${formatMiB(s.rssWithClientsKiB.at(-1)!)}`,
  }));
  const cpu = cpus();
  console.log(
    `\nauth benchmark: ${CLIENTS} concurrent clients x ${ROUNDS} rounds, loopback; ${cpu.length} x ` +
      `${cpu[0]?.model ?? 'cpu'}, ${formatMiB(totalmem() / 1024)} RAM, Node ${process.version}; servers run as ${runner}`,
  );
  console.table(rows);
  console.log(`plain aedes RSS idle: ${formatMiB(aedesIdleKiB)}`);
  console.log(
    `edgegate RSS idle (after start): ${formatMiB(idleKiB)}; with ${CLIENTS} clients connected (first HS256 round): ` +
      `${formatMiB(hsSeries.rssWithClientsKiB[0]!)}; highest during the run: ` +
      `${formatMiB(Math.max(...hsSeries.rssWithClientsKiB, ...esSeries.rssWithClientsKiB))}; idle after the runs: ${formatMiB(idleAfterKiB)}`,
  );
  console.log(`plain aedes RSS with ${CLIENTS} clients (first round): ${formatMiB(plain.rssWithClientsKiB[0]!)}`);
  console.log(
    `ratios: HS256/aedes ${(median(hsSeries.rates) / base).toFixed(2)}, ES256/aedes ` +
      `${(median(esSeries.rates) / base).toFixed(2)}, ES256/HS256 ${(median(esSeries.rates) / median(hsSeries.rates)).toFixed(2)}`,
  );
  const cap = (x: Series): number => 1000 / median(x.cpuMsPerConnect);
  console.log(`CPU-capacity ratios: HS256/aedes ${(cap(hsSeries) / cap(plain)).toFixed(2)}, ES256/aedes ${(cap(esSeries) / cap(plain)).toFixed(2)}`);
  console.log(
    `load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (other processes share this machine: wall-clock rates are noisy)`,
  );
  console.log(`edgegate stopped on SIGTERM in ${stopMs.toFixed(0)} ms`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

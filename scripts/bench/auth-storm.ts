// Reconnect-storm benchmark (offline verification, issue 3): N sensors with
// distinct ES512 tokens (the stand-in for ES256 on a Pi-class CPU) reconnecting
// at once
//   - to plain aedes with no authentication (baseline),
//   - to edgegate with an empty token cache (cold: every token is verified),
//   - to edgegate restarted on the same data directory (warm: the persisted
//     cache answers, no signature is checked),
// each server in its own child process on loopback. What is measured is the
// server process's CPU time (utime + stime from /proc/<pid>/stat) from the
// start of the storm until every CONNACK has arrived plus a 1.5 s settle (so
// the cache's batched SQLite write is counted too), which is steadier than
// wall time on a shared machine. Then the per-authentication cost of a full
// verify and of a cache hit is measured in-process through the real
// Authenticator. Bounded: a fixed number of rounds, then it exits.
//
//   npx tsx scripts/bench/auth-storm.ts [--clients 1000] [--rounds 5] [--warmup 300]
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Authenticator } from '../../src/auth/authenticator.js';
import { KeyRing, publicKeyFromPem } from '../../src/auth/keys.js';
import { FailureRateLimiter } from '../../src/auth/rateLimit.js';
import { RevocationList } from '../../src/auth/revocations.js';
import { TokenCache } from '../../src/auth/tokenCache.js';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { systemTimeSource } from '../../src/clock/timeSource.js';
import { buildConfig } from '../../src/config/load.js';
import { bundleEntry } from './lib/bundle.js';
import { builtCli } from './lib/paths.js';
import { closeAll, connectMany } from './lib/connectClients.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { spawnEdgegate, spawnPlainAedes, type ServerProcess } from './lib/spawnServer.js';
import { numberArg } from './lib/args.js';

const arg = numberArg;
const CLIENTS = arg('clients', 1000);
const ROUNDS = arg('rounds', 5);
const WARMUP = arg('warmup', 300);
const SETTLE_MS = 1500;

const b64 = (x: string | Buffer): string => Buffer.from(x).toString('base64url');
const nowSec = Math.floor(Date.now() / 1000);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Distinct ES512 tokens signed with node:crypto (ECDSA P-521, SHA-512, JOSE signature encoding). */
function mintEs512(n: number, prefix: string, privateKey: KeyObject): string[] {
  const header = b64(JSON.stringify({ alg: 'ES512', typ: 'JWT' }));
  return Array.from({ length: n }, (_, i) => {
    const payload = b64(JSON.stringify({ sub: `${prefix}-${i}`, jti: randomUUID(), iat: nowSec, exp: nowSec + 3600, acl: { pub: ['sensors/%c/#'], sub: ['cmd/%c/#'] } }));
    const input = `${header}.${payload}`;
    return `${input}.${b64(sign('sha512', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  });
}

interface Storm {
  cpuMs: number;
  wallMs: number;
  accepted: number;
}

/** Every client connects at once; returns the server's CPU spent on it (storm + settle). */
async function storm(server: ServerProcess, label: string, tokens: string[]): Promise<Storm> {
  const cpu0 = server.cpuTimeMs();
  const res = await connectMany({
    port: server.port,
    count: tokens.length,
    fields: (i) => ({ clientId: `${label}-${i}`, username: `u${i}`, password: tokens[i]!, keepaliveSec: 0 }),
    timeoutMs: 60_000,
  });
  await settle(SETTLE_MS);
  const cpuMs = server.cpuTimeMs() - cpu0;
  await closeAll(res.sockets);
  if (res.accepted !== tokens.length) {
    throw new Error(`${label}: accepted ${res.accepted}/${tokens.length}, refused ${JSON.stringify(res.refused)}, errors ${res.errors}\n${server.output().slice(-2000)}`);
  }
  return { cpuMs, wallMs: res.elapsedMs, accepted: res.accepted };
}

/** Warms the JIT with a small connect burst (not measured). */
async function warmUp(server: ServerProcess, tokens: string[]): Promise<void> {
  const res = await connectMany({ port: server.port, count: tokens.length, concurrency: 20, fields: (i) => ({ clientId: `warm-${i}`, username: 'w', password: tokens[i]! }) });
  await closeAll(res.sockets);
  await settle(300);
}

/** CPU µs per authentication through the real Authenticator: full ES512 verify vs cache hit. */
async function perAuthCost(pubkeyPem: string, tokens: string[]): Promise<{ verifyUs: number; hitUs: number }> {
  const rules = buildConfig({}).auth.jwt;
  const keys = new KeyRing();
  keys.replace('config', [await publicKeyFromPem(pubkeyPem, 'config')]);
  const clock = new GatewayClock(systemTimeSource);
  const logger = pino({ level: 'silent' });
  const rateLimit = new FailureRateLimiter({ maxFailures: 10, windowSec: 60, banSec: 300 }, clock, logger);
  const revocations = new RevocationList();
  const cache = new TokenCache(undefined, clock, { maxEntries: 10_000, negativeTtlSec: 60, clockToleranceSec: 30 }, logger);
  const uncached = new Authenticator({ keys, clock, rules, logger, rateLimit, revocations });
  const cached = new Authenticator({ keys, clock, rules, logger, rateLimit, revocations, cache });
  const facts = (i: number) => ({ clientId: `c${i}`, username: `u${i}`, password: Buffer.from(tokens[i % tokens.length]!), remoteAddress: '127.0.0.1' });
  const cpuUs = async (n: number, auth: Authenticator): Promise<number> => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const r = await auth.authenticate(facts(i));
      if (!r.ok) throw new Error(`in-process auth refused: ${r.reason}`);
    }
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / n;
  };
  await cpuUs(50, uncached); // JIT warm-up
  const verifyUs = await cpuUs(Math.min(500, tokens.length), uncached);
  await cpuUs(tokens.length, cached); // fill the cache (misses)
  await cpuUs(tokens.length, cached); // JIT warm-up on hits
  const hitUs = await cpuUs(20 * tokens.length, cached);
  return { verifyUs, hitUs };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgegate-storm-keys-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const pubkeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const pubkeyFile = join(dir, 'es512.pub.pem');
  writeFileSync(pubkeyFile, pubkeyPem);
  process.stderr.write(`minting ${ROUNDS} x ${CLIENTS + WARMUP} ES512 tokens...\n`);
  const rounds = Array.from({ length: ROUNDS }, (_, r) => ({ storm: mintEs512(CLIENTS, `s${r}`, privateKey), warm: mintEs512(WARMUP, `w${r}`, privateKey) }));

  // The daemon runs with systemd/edgegate.service's node flags; the "warm, no flags"
  // series shows what those flags cost in CPU (goal: at most 5% more).
  const nodeArgs = unitNodeFlags();
  // The compiled daemon (dist/, `npm run build`) as installed; else a bundle of src/.
  const built = builtCli();
  const cliBundle = built ? { file: built, cleanup: () => undefined } : await bundleEntry('src/cli/main.ts', 'cli');
  const aedesBundle = await bundleEntry('scripts/bench/lib/servers/plainAedes.ts', 'aedes');
  const runner = cliBundle && aedesBundle ? 'plain node (esbuild bundle)' : 'tsx';
  const results = { aedes: [] as Storm[], cold: [] as Storm[], warm: [] as Storm[], warmNoFlags: [] as Storm[] };
  const config = { auth: { jwt: { pubkey: pubkeyFile } } };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const { storm: tokens, warm } = rounds[r]!;
      const aedes = await spawnPlainAedes({ file: aedesBundle?.file });
      try {
        await warmUp(aedes, warm);
        results.aedes.push(await storm(aedes, `aedes-${r}`, tokens));
      } finally {
        await aedes.stop();
      }

      // Cold: a fresh data directory, nothing cached. This run also fills the persisted cache.
      const cold = await spawnEdgegate({ config, cliFile: cliBundle?.file, nodeArgs });
      const dataDir = cold.dataDir;
      try {
        await warmUp(cold, warm);
        results.cold.push(await storm(cold, `cold-${r}`, tokens));
      } finally {
        await cold.stop();
      }

      // Warm: the daemon restarted on the same data directory; the same sensors reconnect
      // (with and without the unit's node flags, in alternating order).
      const variants = [{ key: 'warm' as const, nodeArgs }, { key: 'warmNoFlags' as const, nodeArgs: [] }];
      try {
        for (const v of r % 2 ? variants.reverse() : variants) {
          const warmServer = await spawnEdgegate({ config, cliFile: cliBundle?.file, dataDir, nodeArgs: v.nodeArgs });
          try {
            await warmUp(warmServer, warm);
            results[v.key].push(await storm(warmServer, `${v.key}-${r}`, tokens));
          } finally {
            await warmServer.stop();
          }
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
      const last = (k: keyof typeof results) => results[k].at(-1)!;
      process.stderr.write(
        `  round ${r + 1}/${ROUNDS}: server CPU ms aedes ${last('aedes').cpuMs.toFixed(0)}, cold ${last('cold').cpuMs.toFixed(0)}, warm ${last('warm').cpuMs.toFixed(0)}, warm without flags ${last('warmNoFlags').cpuMs.toFixed(0)}` +
          ` (wall ms ${last('aedes').wallMs.toFixed(0)} / ${last('cold').wallMs.toFixed(0)} / ${last('warm').wallMs.toFixed(0)})\n`,
      );
    }
  } finally {
    cliBundle?.cleanup();
    aedesBundle?.cleanup();
  }

  process.stderr.write('in-process per-authentication cost...\n');
  const perAuth = await perAuthCost(pubkeyPem, rounds[0]!.storm);
  rmSync(dir, { recursive: true, force: true });

  const cpu = cpus();
  const med = (k: keyof typeof results) => median(results[k].map((s) => s.cpuMs));
  const [aedesCpu, coldCpu, warmCpu] = [med('aedes'), med('cold'), med('warm')];
  console.log(
    `\nreconnect storm: ${CLIENTS} sensors, distinct ES512 tokens, all at once, x ${ROUNDS} rounds, loopback; ` +
      `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}; servers run as ${runner}; edgegate's node flags: ${nodeArgs.join(' ') || '(none)'}`,
  );
  console.table(
    (['aedes', 'cold', 'warm', 'warmNoFlags'] as const).map((k) => ({
      server: { aedes: 'plain aedes, no auth', cold: 'edgegate, cold cache', warm: 'edgegate restarted, warm persisted cache', warmNoFlags: 'the same, without the node flags' }[k],
      'server CPU ms (median)': Math.round(med(k)),
      'all rounds': results[k].map((s) => Math.round(s.cpuMs)).join(' / '),
      'CPU ms per connect': (med(k) / CLIENTS).toFixed(3),
      'storm wall ms (median)': Math.round(median(results[k].map((s) => s.wallMs))),
    })),
  );
  const goal = (ok: boolean) => (ok ? 'met' : 'MISSED');
  console.log(`warm / aedes CPU: ${(warmCpu / aedesCpu).toFixed(2)}x (goal <= 1.2x: ${goal(warmCpu / aedesCpu <= 1.2)})`);
  console.log(`cold / warm CPU:  ${(coldCpu / warmCpu).toFixed(2)}x (goal >= 2x: ${goal(coldCpu / warmCpu >= 2)})`);
  const flagsCost = warmCpu / med('warmNoFlags');
  console.log(`warm with / without the node flags: ${flagsCost.toFixed(2)}x (goal <= 1.05x: ${goal(flagsCost <= 1.05)})`);
  console.log(
    `per authentication (in-process, CPU): full ES512 verify ${perAuth.verifyUs.toFixed(1)} µs, cache hit ${perAuth.hitUs.toFixed(1)} µs, ` +
      `ratio ${(perAuth.verifyUs / perAuth.hitUs).toFixed(1)}x (goal >= 20x: ${goal(perAuth.verifyUs / perAuth.hitUs >= 20)})`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

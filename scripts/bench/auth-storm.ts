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
// Clients (--protocol): MQTT 3.1.1 (`4`: the token as password), MQTT 5 (`5`:
// two storms, the token as password with a property length of 0, and Enhanced
// Authentication: Authentication Method "JWT", the token as Authentication Data,
// no password), or `both` (the default when this tree's aedes speaks MQTT 5).
// Plain aedes gets the same CONNECTs without authentication (its MQTT 5 baseline
// is the password variant: without an authenticate hook aedes 2 refuses any
// Authentication Method with 0x8C).
//
// BENCH_BASELINE_CLI=<an older build's dist/cli/main.js> (e.g. a git worktree of
// an older commit, built with `npm ci && npm run build`) adds, in every round, the
// kind "edgegate-aedes1" (cold and warm, MQTT 3.1.1) run from that tree, and
// "aedes1", plain aedes on that tree's node_modules; the summary then prints
// before (that build) / after (this one) ratios, and the in-process
// per-authentication cost of both trees' src/auth. A build whose aedes is 1.x only
// speaks MQTT 3.1.1: it is probed once with an MQTT 5 CONNECT (expected CONNACK 1,
// unacceptable protocol version) and gets no MQTT 5 storms.
//
// BENCH_CLI=<a dist/cli/main.js> measures that build as "edgegate" instead of this
// tree's dist/ (its own tree: node_modules, config/, src/auth for the in-process
// figures, and the plain aedes baseline on its aedes), e.g. a worktree pinned at
// one commit while others edit this one.
//
//   npx tsx scripts/bench/auth-storm.ts [--clients 1000] [--rounds 5] [--warmup 300] [--protocol 4|5|both]
//   BENCH_BASELINE_CLI=/work/bench-base/dist/cli/main.js npx tsx scripts/bench/auth-storm.ts --rounds 3
import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { numberArg, stringArg } from './lib/args.js';
import { bundleEntry } from './lib/bundle.js';
import { closeAll, connectMany, connectOne } from './lib/connectClients.js';
import { type ConnectFields, connackProperties } from './lib/mqttWire.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { aedesSpeaksMqtt5, baselineBuild, edgegateBuild } from './lib/paths.js';
import { type ServerProcess, spawnEdgegate, spawnPlainAedes } from './lib/spawnServer.js';
import { median } from './lib/stats.js';

const arg = numberArg;
const CLIENTS = arg('clients', 1000);
const ROUNDS = arg('rounds', 5);
const WARMUP = arg('warmup', 300);
const SETTLE_MS = 1500;
const EDGE = edgegateBuild();
const SPEAKS_5 = aedesSpeaksMqtt5(EDGE.root);
const PROTOCOL = stringArg('protocol', SPEAKS_5 ? 'both' : '4', ['4', '5', 'both'] as const);
const BASELINE = baselineBuild();
const AEDES_VERSION = EDGE.aedesVersion;

const b64 = (x: string | Buffer): string => Buffer.from(x).toString('base64url');
const nowSec = Math.floor(Date.now() / 1000);
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Distinct ES512 tokens signed with node:crypto (ECDSA P-521, SHA-512, JOSE signature encoding). */
function mintEs512(n: number, prefix: string, privateKey: KeyObject): string[] {
  const header = b64(JSON.stringify({ alg: 'ES512', typ: 'JWT' }));
  return Array.from({ length: n }, (_, i) => {
    const payload = b64(
      JSON.stringify({ sub: `${prefix}-${i}`, jti: randomUUID(), iat: nowSec, exp: nowSec + 3600, acl: { pub: ['sensors/%c/#'], sub: ['cmd/%c/#'] } }),
    );
    const input = `${header}.${payload}`;
    return `${input}.${b64(sign('sha512', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }))}`;
  });
}

/** How a client sends its token: MQTT 3.1.1 password, MQTT 5 password, MQTT 5 Enhanced Authentication (method JWT). */
type Variant = 'v4' | 'v5' | 'v5auth';

function clientFields(variant: Variant, clientId: string, username: string, token: string): ConnectFields {
  if (variant === 'v4') return { clientId, username, password: token, keepaliveSec: 0 };
  if (variant === 'v5') return { clientId, username, password: token, keepaliveSec: 0, protocolVersion: 5 };
  return { clientId, username, keepaliveSec: 0, protocolVersion: 5, properties: { authenticationMethod: 'JWT', authenticationData: token } };
}

interface Storm {
  cpuMs: number;
  wallMs: number;
  accepted: number;
}

/** Every client connects at once; returns the server's CPU spent on it (storm + settle). */
async function storm(server: ServerProcess, label: string, tokens: string[], variant: Variant): Promise<Storm> {
  const cpu0 = server.cpuTimeMs();
  const res = await connectMany({
    port: server.port,
    count: tokens.length,
    fields: (i) => clientFields(variant, `${label}-${i}`, `u${i}`, tokens[i]!),
    timeoutMs: 60_000,
  });
  await settle(SETTLE_MS);
  const cpuMs = server.cpuTimeMs() - cpu0;
  await closeAll(res.sockets);
  if (res.accepted !== tokens.length) {
    throw new Error(
      `${label}: accepted ${res.accepted}/${tokens.length}, refused ${JSON.stringify(res.refused)}, ` +
        `errors ${res.errors} (${res.firstError ?? ''})\n${server.output().slice(-2000)}`,
    );
  }
  // Enhanced authentication really took place: the CONNACK echoes the method (MQTT 5.0 section 4.12).
  if (variant === 'v5auth' && connackProperties(res.firstConnack!)?.get(0x15) !== 'JWT') {
    throw new Error(`${label}: the CONNACK does not carry Authentication Method "JWT": ${res.firstConnack!.toString('hex')}`);
  }
  return { cpuMs, wallMs: res.elapsedMs, accepted: res.accepted };
}

/** Warms the JIT with a small connect burst of the same kind of client (not measured). */
async function warmUp(server: ServerProcess, tokens: string[], variant: Variant): Promise<void> {
  const res = await connectMany({
    port: server.port,
    count: tokens.length,
    concurrency: 20,
    fields: (i) => clientFields(variant, `warm-${i}`, 'w', tokens[i]!),
  });
  await closeAll(res.sockets);
  await settle(300);
}

/**
 * CPU µs per authentication through the real Authenticator of the tree at `root`
 * (this repository or BENCH_BASELINE_CLI's): full ES512 verify vs cache hit.
 * Returns a measurement to call repeatedly: with two trees in one process the
 * calls alternate after one unmeasured pass each (the first measured came out
 * up to 1.6x slower on cache hits, whichever tree it was), and the medians are reported.
 */
async function perAuthCost(root: string, pubkeyPem: string, tokens: string[]): Promise<() => Promise<{ verifyUs: number; hitUs: number }>> {
  const load = <T>(file: string): Promise<T> => import(pathToFileURL(join(root, 'src', file)).href) as Promise<T>;
  const [
    { Authenticator },
    { KeyRing, publicKeyFromPem },
    { FailureRateLimiter },
    { RevocationList },
    { TokenCache },
    { GatewayClock },
    { systemTimeSource },
    { buildConfig },
    { pino },
  ] = await Promise.all([
    load<typeof import('../../src/auth/authenticator.js')>('auth/authenticator.ts'),
    load<typeof import('../../src/auth/keys.js')>('auth/keys.ts'),
    load<typeof import('../../src/auth/rateLimit.js')>('auth/rateLimit.ts'),
    load<typeof import('../../src/auth/revocations.js')>('auth/revocations.ts'),
    load<typeof import('../../src/auth/tokenCache.js')>('auth/tokenCache.ts'),
    load<typeof import('../../src/clock/gatewayClock.js')>('clock/gatewayClock.ts'),
    load<typeof import('../../src/clock/timeSource.js')>('clock/timeSource.ts'),
    load<typeof import('../../src/config/load.js')>('config/load.ts'),
    import('pino'),
  ]);
  type Auth = InstanceType<typeof Authenticator>;
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
  const cpuUs = async (n: number, auth: Auth): Promise<number> => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const r = await auth.authenticate(facts(i));
      if (!r.ok) throw new Error(`in-process auth refused: ${r.reason}`);
    }
    const d = process.cpuUsage(t0);
    return (d.user + d.system) / n;
  };
  await cpuUs(50, uncached); // JIT warm-up
  await cpuUs(tokens.length, cached); // fill the cache (misses)
  await cpuUs(tokens.length, cached); // JIT warm-up on hits
  return async () => {
    const verifyUs = await cpuUs(Math.min(500, tokens.length), uncached);
    const hitUs = await cpuUs(20 * tokens.length, cached);
    return { verifyUs, hitUs };
  };
}

/** One unmeasured pass of each, then the measurements alternated (A B, B A, A B, ...) `times` times; medians of each. */
async function alternate(runs: Array<() => Promise<{ verifyUs: number; hitUs: number }>>, times = 5): Promise<Array<{ verifyUs: number; hitUs: number }>> {
  const got = runs.map(() => [] as Array<{ verifyUs: number; hitUs: number }>);
  for (const run of runs) await run();
  for (let k = 0; k < times; k++) {
    const order = runs.map((_, i) => i);
    if (k % 2) order.reverse();
    for (const i of order) got[i]!.push(await runs[i]!());
  }
  return got.map((list) => ({ verifyUs: median(list.map((x) => x.verifyUs)), hitUs: median(list.map((x) => x.hitUs)) }));
}

/** Result series, each a list of storms (one per round). */
const SERIES = {
  aedes: `plain aedes ${AEDES_VERSION}, no auth`,
  cold: 'edgegate, cold cache',
  warm: 'edgegate restarted, warm persisted cache',
  warmNoFlags: 'the same, without the node flags',
  aedes1: `plain aedes ${BASELINE?.aedesVersion ?? ''} (baseline tree), no auth`,
  cold1: 'edgegate-aedes1 (BENCH_BASELINE_CLI), cold cache',
  warm1: 'edgegate-aedes1 restarted, warm persisted cache',
  aedesV5: `plain aedes ${AEDES_VERSION}, no auth, MQTT 5`,
  coldV5: 'edgegate, cold cache, MQTT 5 password',
  warmV5: 'edgegate, warm cache, MQTT 5 password',
  coldV5auth: 'edgegate, cold cache, MQTT 5 Enhanced Auth JWT',
  warmV5auth: 'edgegate, warm cache, MQTT 5 Enhanced Auth JWT',
} as const;
type Series = keyof typeof SERIES;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgegate-storm-keys-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const pubkeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const pubkeyFile = join(dir, 'es512.pub.pem');
  writeFileSync(pubkeyFile, pubkeyPem);
  process.stderr.write(`minting ${ROUNDS} x ${CLIENTS + WARMUP} ES512 tokens...\n`);
  const rounds = Array.from({ length: ROUNDS }, (_, r) => ({ storm: mintEs512(CLIENTS, `s${r}`, privateKey), warm: mintEs512(WARMUP, `w${r}`, privateKey) }));
  const withV4 = PROTOCOL !== '5';
  const withV5 = PROTOCOL !== '4';
  if (withV5 && !SPEAKS_5) throw new Error(`--protocol ${PROTOCOL}: this tree's aedes ${AEDES_VERSION} does not speak MQTT 5`);

  // The daemon runs with systemd/edgegate.service's node flags; the "warm, no flags"
  // series shows what those flags cost in CPU (goal: at most 5% more).
  const nodeArgs = unitNodeFlags();
  // The compiled daemon (dist/, `npm run build`) as installed; else a bundle of src/.
  const built = EDGE.cli;
  const cliBundle = built ? { file: built, cleanup: () => undefined } : await bundleEntry('src/cli/main.ts', 'cli');
  const aedesBundle = await bundleEntry('scripts/bench/lib/servers/plainAedes.ts', 'aedes', EDGE.root);
  const aedes1Bundle = BASELINE ? await bundleEntry('scripts/bench/lib/servers/plainAedes.ts', 'aedes1', BASELINE.root) : undefined;
  if (BASELINE && !aedes1Bundle) throw new Error('BENCH_BASELINE_CLI needs esbuild (the plain aedes of the baseline tree is a bundle)');
  const runner = cliBundle && aedesBundle ? 'plain node (esbuild bundle)' : 'tsx';
  const results = Object.fromEntries(Object.keys(SERIES).map((k) => [k, [] as Storm[]])) as Record<Series, Storm[]>;
  const config = { auth: { jwt: { pubkey: pubkeyFile } } };

  // The baseline build, asked once in MQTT 5: an aedes 1.x broker answers CONNACK 1.
  let baselineV5Answer = '';
  if (BASELINE) {
    const probe = await spawnEdgegate({ config, cliFile: BASELINE.cli, nodeArgs });
    try {
      const out = await connectOne(probe.port, '127.0.0.1', clientFields('v5', 'probe-v5', 'u', rounds[0]!.warm[0]!), 10_000);
      baselineV5Answer = 'error' in out ? out.error : `CONNACK ${out.code}${out.code === 1 ? ' (unacceptable protocol version)' : ''}`;
      if (!('error' in out)) out.socket.destroy();
    } finally {
      await probe.stop();
      probe.cleanup();
    }
    process.stderr.write(`edgegate-aedes1 (aedes ${BASELINE.aedesVersion}) answers an MQTT 5 CONNECT with ${baselineV5Answer}\n`);
  }

  /** One plain aedes process, one storm. */
  const plainUnit =
    (key: Series, file: string | undefined, variant: Variant) =>
    async (r: number, tokens: string[], warm: string[]): Promise<string> => {
      const aedes = await spawnPlainAedes({ file });
      try {
        await warmUp(aedes, warm, variant);
        results[key].push(await storm(aedes, `${key}-${r}`, tokens, variant));
      } finally {
        await aedes.stop();
      }
      return `${key} ${results[key].at(-1)!.cpuMs.toFixed(0)}`;
    };

  /** Cold on a fresh data directory (which it fills), then warm restarts on it (several: with / without flags). */
  const edgeUnit =
    (cli: string | undefined, variant: Variant, cold: Series, warms: Array<{ key: Series; nodeArgs: string[] }>) =>
    async (r: number, tokens: string[], warm: string[]): Promise<string> => {
      const coldServer = await spawnEdgegate({ config, cliFile: cli, nodeArgs });
      const dataDir = coldServer.dataDir;
      try {
        try {
          await warmUp(coldServer, warm, variant);
          results[cold].push(await storm(coldServer, `${cold}-${r}`, tokens, variant));
        } finally {
          await coldServer.stop();
        }
        // Warm: the daemon restarted on the same data directory; the same sensors reconnect
        // (several variants in alternating order).
        for (const v of r % 2 ? [...warms].reverse() : warms) {
          const warmServer = await spawnEdgegate({ config, cliFile: cli, dataDir, nodeArgs: v.nodeArgs });
          try {
            await warmUp(warmServer, warm, variant);
            results[v.key].push(await storm(warmServer, `${v.key}-${r}`, tokens, variant));
          } finally {
            await warmServer.stop();
          }
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
      return [cold, ...warms.map((w) => w.key)].map((k) => `${k} ${results[k].at(-1)!.cpuMs.toFixed(0)}`).join(', ');
    };

  type Unit = (r: number, tokens: string[], warm: string[]) => Promise<string>;
  const units: Unit[] = [];
  if (withV4) {
    units.push(plainUnit('aedes', aedesBundle?.file, 'v4'));
    units.push(
      edgeUnit(cliBundle?.file, 'v4', 'cold', [
        { key: 'warm', nodeArgs },
        { key: 'warmNoFlags', nodeArgs: [] },
      ]),
    );
    if (BASELINE) {
      units.push(plainUnit('aedes1', aedes1Bundle!.file, 'v4'));
      units.push(edgeUnit(BASELINE.cli, 'v4', 'cold1', [{ key: 'warm1', nodeArgs }]));
    }
  }
  if (withV5) {
    units.push(plainUnit('aedesV5', aedesBundle?.file, 'v5'));
    units.push(edgeUnit(cliBundle?.file, 'v5', 'coldV5', [{ key: 'warmV5', nodeArgs }]));
    units.push(edgeUnit(cliBundle?.file, 'v5auth', 'coldV5auth', [{ key: 'warmV5auth', nodeArgs }]));
  }
  const loads: string[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const { storm: tokens, warm } = rounds[r]!;
      // Round r starts at a rotated position, so no kind always goes first.
      const order = [...units.slice(r % units.length), ...units.slice(0, r % units.length)];
      const parts: string[] = [];
      for (const unit of order) parts.push(await unit(r, tokens, warm));
      loads.push(loadavg()[0]!.toFixed(2));
      process.stderr.write(`  round ${r + 1}/${ROUNDS}: server CPU ms ${parts.join('; ')} (load ${loads.at(-1)})\n`);
    }
  } finally {
    cliBundle?.cleanup();
    aedesBundle?.cleanup();
    aedes1Bundle?.cleanup();
  }

  process.stderr.write('in-process per-authentication cost...\n');
  const authRuns = [await perAuthCost(EDGE.root, pubkeyPem, rounds[0]!.storm)];
  if (BASELINE) authRuns.push(await perAuthCost(BASELINE.root, pubkeyPem, rounds[0]!.storm));
  const [perAuth, perAuth1] = (await alternate(authRuns)) as [{ verifyUs: number; hitUs: number }, { verifyUs: number; hitUs: number } | undefined];
  rmSync(dir, { recursive: true, force: true });

  const cpu = cpus();
  const med = (k: Series) => median(results[k].map((s) => s.cpuMs));
  const has = (k: Series) => results[k].length > 0;
  console.log(
    `\nreconnect storm: ${CLIENTS} sensors, distinct ES512 tokens, all at once, x ${ROUNDS} rounds, loopback; ` +
      `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ` +
      `${process.version}; servers run as ${runner}; edgegate's node flags: ${nodeArgs.join(' ') || '(none)'}; ` +
      `aedes ${AEDES_VERSION}; clients: ${[withV4 && 'MQTT 3.1.1', withV5 && 'MQTT 5'].filter(Boolean).join(' and ')}; ` +
      `load average after each round: ${loads.join(', ')}`,
  );
  console.log(`edgegate: ${EDGE.cli ?? 'src/ bundled'} (aedes ${EDGE.aedesVersion})`);
  if (BASELINE) console.log(`baseline build (BENCH_BASELINE_CLI): ${BASELINE.cli}, aedes ${BASELINE.aedesVersion}`);
  console.table(
    (Object.keys(SERIES) as Series[]).filter(has).map((k) => ({
      server: SERIES[k],
      'server CPU ms (median)': Math.round(med(k)),
      'all rounds': results[k].map((s) => Math.round(s.cpuMs)).join(' / '),
      'CPU ms per connect': (med(k) / CLIENTS).toFixed(3),
      'storm wall ms (median)': Math.round(median(results[k].map((s) => s.wallMs))),
    })),
  );
  const goal = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const authRatio = (p: { verifyUs: number; hitUs: number }) => p.verifyUs / p.hitUs;
  if (withV4) {
    const [aedesCpu, coldCpu, warmCpu] = [med('aedes'), med('cold'), med('warm')];
    console.log(`warm / aedes CPU: ${x(warmCpu, aedesCpu)} (goal <= 1.2x: ${goal(warmCpu / aedesCpu <= 1.2)})`);
    console.log(`cold / warm CPU:  ${x(coldCpu, warmCpu)} (goal >= 2x: ${goal(coldCpu / warmCpu >= 2)})`);
    const flagsCost = warmCpu / med('warmNoFlags');
    console.log(`warm with / without the node flags: ${flagsCost.toFixed(2)}x (goal <= 1.05x: ${goal(flagsCost <= 1.05)})`);
  }
  console.log(
    `per authentication (in-process, CPU, median of 5): full ES512 verify ${perAuth.verifyUs.toFixed(1)} µs, cache hit ${perAuth.hitUs.toFixed(1)} µs, ` +
      `ratio ${authRatio(perAuth).toFixed(1)}x (goal >= 20x: ${goal(authRatio(perAuth) >= 20)})`,
  );

  if (BASELINE && withV4) {
    const [a1, c1, w1, a, c, w] = [med('aedes1'), med('cold1'), med('warm1'), med('aedes'), med('cold'), med('warm')];
    console.log(
      `\nbefore / after, same run: edgegate-aedes1 (${BASELINE.cli}, aedes ${BASELINE.aedesVersion}) ` +
        `vs edgegate (${EDGE.cli ?? 'this tree'}, aedes ${AEDES_VERSION}), MQTT 3.1.1 clients, medians`,
    );
    console.log('| measure | before | after | after / before | goal | before | after |');
    console.log('|---|---|---|---|---|---|---|');
    const row = (what: string, b: number, af: number, g = '—', okB?: boolean, okA?: boolean, unit = ' ms'): void =>
      console.log(
        `| ${what} | ${b.toFixed(unit ? 0 : 2)}${unit} | ${af.toFixed(unit ? 0 : 2)}${unit} | ${x(af, b)} ` +
          `| ${g} | ${okB === undefined ? '' : goal(okB)} | ${okA === undefined ? '' : goal(okA)} |`,
      );
    row('plain aedes storm, server CPU', a1, a);
    row('edgegate cold storm, server CPU', c1, c);
    row('edgegate warm storm, server CPU', w1, w);
    row('warm / plain aedes of the same tree', w1 / a1, w / a, '≤ 1.2x', w1 / a1 <= 1.2, w / a <= 1.2, '');
    row(`warm / plain aedes ${BASELINE.aedesVersion} (one yardstick)`, w1 / a1, w / a1, '≤ 1.2x', w1 / a1 <= 1.2, w / a1 <= 1.2, '');
    row('cold / warm', c1 / w1, c / w, '≥ 2x', c1 / w1 >= 2, c / w >= 2, '');
    if (perAuth1) {
      console.log(
        `| one authentication, full verify / cache hit (in-process, each tree's src/auth) | ${perAuth1.verifyUs.toFixed(1)} ` +
          `/ ${perAuth1.hitUs.toFixed(1)} µs = ${authRatio(perAuth1).toFixed(1)}x | ${perAuth.verifyUs.toFixed(1)} / ` +
          `${perAuth.hitUs.toFixed(1)} µs = ${authRatio(perAuth).toFixed(1)}x | ${x(authRatio(perAuth), authRatio(perAuth1))} ` +
          `| ≥ 20x | ${goal(authRatio(perAuth1) >= 20)} | ${goal(authRatio(perAuth) >= 20)} |`,
      );
    }
  }
  if (withV5) {
    const baselineNote = BASELINE
      ? `: edgegate-aedes1 (aedes ${BASELINE.aedesVersion}) speaks MQTT 3.1.1 only, it answered an MQTT 5 CONNECT with ${baselineV5Answer}`
      : '';
    console.log(`\nMQTT 5 clients (edgegate on aedes ${AEDES_VERSION} only${baselineNote}), medians`);
    console.log('| measure | MQTT 5 password | MQTT 5 Enhanced Auth "JWT" | goal |');
    console.log('|---|---|---|---|');
    const [a5, c5, w5, c5e, w5e] = [med('aedesV5'), med('coldV5'), med('warmV5'), med('coldV5auth'), med('warmV5auth')];
    console.log(`| plain aedes (MQTT 5, no auth), server CPU | ${a5.toFixed(0)} ms | (same) | — |`);
    console.log(`| edgegate cold storm, server CPU | ${c5.toFixed(0)} ms | ${c5e.toFixed(0)} ms | — |`);
    console.log(`| edgegate warm storm, server CPU | ${w5.toFixed(0)} ms | ${w5e.toFixed(0)} ms | — |`);
    console.log(`| warm / plain aedes MQTT 5 | ${x(w5, a5)} ${goal(w5 / a5 <= 1.2)} | ${x(w5e, a5)} ${goal(w5e / a5 <= 1.2)} | ≤ 1.2x |`);
    console.log(`| cold / warm | ${x(c5, w5)} ${goal(c5 / w5 >= 2)} | ${x(c5e, w5e)} ${goal(c5e / w5e >= 2)} | ≥ 2x |`);
    if (withV4) {
      console.log(`| warm MQTT 5 / warm MQTT 3.1.1 (edgegate) | ${x(w5, med('warm'))} | ${x(w5e, med('warm'))} | — |`);
      console.log(`| plain aedes MQTT 5 / MQTT 3.1.1 | ${x(a5, med('aedes'))} | | — |`);
      if (BASELINE)
        console.log(
          `| warm MQTT 5 / plain aedes ${BASELINE.aedesVersion} MQTT 3.1.1 | ${x(w5, med('aedes1'))} ` +
            `${goal(w5 / med('aedes1') <= 1.2)} | ${x(w5e, med('aedes1'))} ${goal(w5e / med('aedes1') <= 1.2)} | ≤ 1.2x |`,
        );
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

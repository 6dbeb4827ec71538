// Idle cost of the status page (issue: "with nobody looking, the daemon's RSS and
// CPU do not change measurably"; "sampling costs less than 0.5% of one core").
// The built daemon (dist/, the unit's node flags), one fresh process per case,
// nothing connected, HTTP on; after --warm-sec, RSS and CPU over --idle-sec:
//   - page off:        http.statusPage false (no sampler, no page code);
//   - never opened:    the default (the sampler runs, the page code is not loaded);
//   - open:            a headless Chromium tab shows the page for the whole window;
//   - opened, closed:  a tab showed it for --open-sec, then closed, then the window.
// Plus the sampler alone, in this process: microseconds per sample.
//
//   npm run build && npx tsx scripts/bench/statusPage.ts [--idle-sec 60] [--warm-sec 10] [--open-sec 10]
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { GatewayClock } from '../../src/clock/gatewayClock.js';
import { systemTimeSource } from '../../src/clock/timeSource.js';
import { Metrics } from '../../src/metrics.js';
import { StatusSampler } from '../../src/ops/sampler.js';
import { numberArg } from './lib/args.js';
import { freePort } from './lib/freePort.js';
import { unitNodeFlags } from './lib/nodeFlags.js';
import { builtCli } from './lib/paths.js';
import { cpuTimeMs, rssKiB } from './lib/procStats.js';
import { spawnEdgegate } from './lib/spawnServer.js';

const IDLE_SEC = numberArg('idle-sec', 60);
const WARM_SEC = numberArg('warm-sec', 10);
const OPEN_SEC = numberArg('open-sec', 10);
const CHROMIUM = [process.env.CHROMIUM_BIN, '/usr/bin/chromium'].find((p): p is string => !!p && existsSync(p));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mib = (kib: number): string => (kib / 1024).toFixed(1);

type Case = 'page off' | 'never opened' | 'open' | 'opened, closed';

async function openTab(browser: Browser, port: number) {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#main:not([hidden])', { timeout: 15_000 });
  return page;
}

async function measure(kind: Case, browser: Browser | undefined): Promise<{ startKiB: number; endKiB: number; cpuMs: number }> {
  const httpPort = await freePort();
  const server = await spawnEdgegate({
    cliFile: builtCli(),
    nodeArgs: unitNodeFlags(),
    config: { log: { level: 'warn' }, http: { enabled: true, host: '127.0.0.1', port: httpPort, statusPage: kind !== 'page off' } },
  });
  try {
    await sleep(WARM_SEC * 1000);
    let tab: Awaited<ReturnType<typeof openTab>> | undefined;
    if (kind === 'opened, closed') {
      const t = await openTab(browser!, httpPort);
      await sleep(OPEN_SEC * 1000);
      await t.close();
      await sleep(2000);
    }
    if (kind === 'open') tab = await openTab(browser!, httpPort);
    const startKiB = rssKiB(server.pid);
    const cpu0 = cpuTimeMs(server.pid);
    await sleep(IDLE_SEC * 1000);
    const cpuMs = cpuTimeMs(server.pid) - cpu0;
    const endKiB = rssKiB(server.pid);
    await tab?.close();
    return { startKiB, endKiB, cpuMs };
  } finally {
    await server.stop();
    server.cleanup();
  }
}

/** The sampler's own cost: one sample of a daemon's counters, timed in this process. */
async function samplerMicros(): Promise<number> {
  const metrics = new Metrics({ processMetrics: false });
  const bridge = { state: 'connected' as const, queue: { messages: 12, bytes: 3400, durable: true, inflight: 0 } };
  const sampler = new StatusSampler({
    clock: new GatewayClock(systemTimeSource),
    metrics,
    status: { read: () => bridge },
    connectedClients: () => 42,
    intervalMs: 5000,
  });
  await sampler.start();
  const n = 200_000;
  for (let i = 0; i < 10_000; i++) sampler.sample();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    metrics.messagesReceived.inc();
    sampler.sample();
  }
  const us = ((performance.now() - t0) * 1000) / n;
  await sampler.stop();
  return us;
}

async function main(): Promise<void> {
  if (!builtCli()) throw new Error('run `npm run build` first: this measures dist/cli/main.js');
  if (!CHROMIUM) throw new Error('Chromium not found (apt-get install chromium): the "open" cases need it');
  console.log(`status page idle cost: ${WARM_SEC} s warm-up, then ${IDLE_SEC} s idle; node ${process.version}, flags ${unitNodeFlags().join(' ')}`);
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
  try {
    console.log('\n| case | RSS at start | RSS at end | daemon CPU | % of one core |');
    console.log('|---|---|---|---|---|');
    for (const kind of ['page off', 'never opened', 'open', 'opened, closed'] as Case[]) {
      const m = await measure(kind, browser);
      console.log(
        `| ${kind} | ${mib(m.startKiB)} MiB | ${mib(m.endKiB)} MiB | ${m.cpuMs.toFixed(0)} ms | ${((100 * m.cpuMs) / (IDLE_SEC * 1000)).toFixed(2)} % |`,
      );
    }
  } finally {
    await browser.close();
  }
  const us = await samplerMicros();
  console.log(`\nsampler: ${us.toFixed(2)} µs per sample = ${((100 * us) / 5_000_000).toFixed(5)} % of one core at the default 5 s interval`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

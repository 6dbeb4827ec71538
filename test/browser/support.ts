// Browser tests drive Debian's Chromium (the `chromium` package) headless through
// puppeteer-core: no browser download. Without Chromium they are skipped with a
// line saying so (.ci/run installs it, so CI runs them).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { REPO_ROOT } from '../cli/support.js';

export const CHROMIUM = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'status-page');

/** Skips the suite (with a clear line) when no Chromium is installed. */
export function requireChromium(ctx: Mocha.Context): void {
  if (CHROMIUM) return;
  // CI installs Chromium (.ci/run): there a missing browser is a failure, not a skip.
  if (process.env.CI === 'true') throw new Error('Chromium not found, but CI must run the browser tests (.ci/run installs chromium)');
  process.stdout.write('  browser tests SKIPPED: Chromium not found (apt-get install chromium, or set CHROMIUM_BIN)\n');
  ctx.skip();
}

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    protocolTimeout: 30_000,
  });
}

export interface OpenedPage {
  page: Page;
  /** Console errors, uncaught exceptions and any alert/confirm the page opened. */
  problems: string[];
}

export async function openPage(browser: Browser, url: string): Promise<OpenedPage> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`exception: ${(e as Error).message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return { page, problems };
}

export async function screenshot(page: Page, name: string, path = join(ARTIFACTS, `${name}.png`)): Promise<string> {
  mkdirSync(join(path, '..'), { recursive: true });
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  return path;
}

/** The values a chart draws (window.edgegateCharts, set by charts.js): one array per series. */
export function chartSeries(page: Page, chart: string, series: number): Promise<number[]> {
  return page.evaluate(
    (c, s) => {
      const charts = (globalThis as unknown as { edgegateCharts?: Record<string, { data: number[][] }> }).edgegateCharts;
      return [...(charts?.[c]?.data[s] ?? [])];
    },
    chart,
    series,
  );
}

/** A sensor held connected by `mosquitto_pub -l` (one message per stdin line) until stopped. */
export interface PubSensor {
  child: ChildProcess;
  send(line: string): void;
  stop(): Promise<void>;
  output(): string;
}

export function mosquittoPub(port: number, clientId: string, token: string, topic: string, username = 'sensor'): PubSensor {
  const child = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-i', clientId, '-u', username, '-P', token, '-t', topic, '-q', '1', '-l'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    send: (line) => void child.stdin!.write(line + '\n'),
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}

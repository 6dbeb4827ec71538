// Starts a real edgegate daemon in this process, on loopback and free ports, with
// a temporary data directory and (optionally) a hand-moved clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TimeSource } from '../../src/clock/timeSource.js';
import { buildConfig } from '../../src/config/load.js';
import type { ConfigOverrides, GatewayConfig } from '../../src/config/types.js';
import { Daemon } from '../../src/daemon/daemon.js';

export interface TestDaemon {
  daemon: Daemon;
  config: GatewayConfig;
  dataDir: string;
  port: number;
  tlsPort?: number;
  /** The bound port of the health/metrics HTTP endpoint (when http.enabled). */
  httpPort?: number;
  /** Every log line the daemon wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log text (to assert that no token or secret ever appears). */
  logText(): string;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'edgegate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const base = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && base && typeof base === 'object' && !Array.isArray(base)
        ? merge(base as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/** Loopback-only, free ports, no HTTP unless asked, debug logs captured. */
export async function startDaemon(
  overrides: ConfigOverrides = {},
  options: { timeSource?: TimeSource; dataDir?: string; keepDataDir?: boolean } = {},
): Promise<TestDaemon> {
  const dataDir = options.dataDir ?? tempDir();
  const base: ConfigOverrides = {
    dataDir,
    log: { level: 'debug' },
    listeners: { tcp: { enabled: true, host: '127.0.0.1', port: 0 }, tls: { host: '127.0.0.1', port: 0 } },
    http: { enabled: false, host: '127.0.0.1', port: 0 },
  };
  const config = buildConfig(merge(base as Record<string, unknown>, overrides as Record<string, unknown>) as ConfigOverrides);
  const logs: Array<Record<string, unknown>> = [];
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString();
      text += s;
      for (const line of s.split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const daemon = new Daemon(config, { timeSource: options.timeSource, logDestination: sink, processMetrics: false });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const addrs = daemon.broker!.addresses();
  return {
    daemon,
    config,
    dataDir,
    port: addrs.tcp?.port ?? 0,
    tlsPort: addrs.tls?.port,
    httpPort: (daemon.status.snapshot().http as { port?: number } | undefined)?.port,
    logs,
    logText: () => text,
    async stop() {
      await daemon.stop();
      if (!options.keepDataDir && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

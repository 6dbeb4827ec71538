// The standard process metrics (names and help texts of prom-client's defaults),
// all computed when Prometheus scrapes. No timers and no sampling in between: an
// idle gateway never wakes up for them (prom-client's event-loop monitor woke it
// every 10 ms). Figures Linux keeps in /proc are skipped where /proc is absent.
import { readdirSync, readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from './prometheus.js';

/** Reads a /proc file, or undefined where there is none (not Linux, a sandbox). */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A `Key:   1234 kB` line of /proc/self/status, in bytes. */
function statusBytes(status: string, key: string): number | undefined {
  const m = new RegExp(`^${key}:\\s*(\\d+) kB$`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

function maxOpenFiles(): number | undefined {
  const line = readProc('/proc/self/limits')
    ?.split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/ {2,}/)[1];
  return soft === undefined || !/^\d+$/.test(soft) ? undefined : Number(soft);
}

function countOpenFds(): number | undefined {
  try {
    // Minus the descriptor readdirSync itself held open while reading.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const cpuUser = new Counter({ name: 'process_cpu_user_seconds_total', help: 'Total user CPU time spent in seconds.', registers });
  const cpuSystem = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  const cpuTotal = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
  const startTime = new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', registers });
  startTime.set(Math.round(Date.now() / 1000 - process.uptime()));
  const rss = new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', registers });
  // Each optional figure gets a metric only if it can be read now, so a system
  // without /proc shows no series stuck at 0.
  const hasStatus = readProc('/proc/self/status') !== undefined;
  const virtual = hasStatus ? new Gauge({ name: 'process_virtual_memory_bytes', help: 'Virtual memory size in bytes.', registers }) : undefined;
  const heap = hasStatus ? new Gauge({ name: 'process_heap_bytes', help: 'Process heap size in bytes.', registers }) : undefined;
  const openFds = countOpenFds() !== undefined ? new Gauge({ name: 'process_open_fds', help: 'Number of open file descriptors.', registers }) : undefined;
  const maxFds = maxOpenFiles();
  if (maxFds !== undefined) new Gauge({ name: 'process_max_fds', help: 'Maximum number of open file descriptors.', registers }).set(maxFds);
  const lag = new Gauge({ name: 'nodejs_eventloop_lag_seconds', help: 'Lag of event loop in seconds.', registers });
  const heapTotal = new Gauge({ name: 'nodejs_heap_size_total_bytes', help: 'Process heap size from Node.js in bytes.', registers });
  const heapUsed = new Gauge({ name: 'nodejs_heap_size_used_bytes', help: 'Process heap size used from Node.js in bytes.', registers });
  const external = new Gauge({ name: 'nodejs_external_memory_bytes', help: 'Node.js external memory size in bytes.', registers });
  const version = new Gauge({
    name: 'nodejs_version_info',
    help: 'Node.js version info.',
    labelNames: ['version', 'major', 'minor', 'patch'] as const,
    registers,
  });
  const [major, minor, patch] = process.versions.node.split('.').map(Number);
  version.labels(process.version, major!, minor!, patch!).set(1);

  // Counters only go up: add what was used since the last scrape (from 0, so the
  // totals count from process start, CPU spent loading the daemon included).
  let cpuSeen = { user: 0, system: 0 };
  registry.addCollector(async () => {
    const cpu = process.cpuUsage();
    const userMicros = Math.max(0, cpu.user - cpuSeen.user);
    const systemMicros = Math.max(0, cpu.system - cpuSeen.system);
    cpuSeen = cpu;
    cpuUser.inc(userMicros / 1e6);
    cpuSystem.inc(systemMicros / 1e6);
    cpuTotal.inc((userMicros + systemMicros) / 1e6);

    const mem = process.memoryUsage();
    rss.set(mem.rss);
    heapTotal.set(mem.heapTotal);
    heapUsed.set(mem.heapUsed);
    external.set(mem.external);
    const status = virtual || heap ? readProc('/proc/self/status') : undefined;
    if (status !== undefined) {
      const vmSize = statusBytes(status, 'VmSize');
      const vmData = statusBytes(status, 'VmData');
      if (vmSize !== undefined) virtual?.set(vmSize);
      if (vmData !== undefined) heap?.set(vmData);
    }
    const fds = openFds ? countOpenFds() : undefined;
    if (fds !== undefined) openFds?.set(fds);

    // Event-loop lag as prom-client measures it: how long until a setImmediate
    // callback runs. Awaited, so this scrape reports its own measurement.
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve) => setImmediate(resolve));
    lag.set(Number(process.hrtime.bigint() - start) / 1e9);
  });
}

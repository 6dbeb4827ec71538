// Process figures read from /proc (Linux): resident memory and CPU time of a
// child process, so a benchmark reports the server's own cost, not its own.
import { readFileSync } from 'node:fs';

/** Clock ticks per second used by /proc/<pid>/stat (USER_HZ; 100 on every Linux we run on). */
export const CLOCK_TICKS_PER_SEC = 100;

/** Resident set size of `pid` in KiB (VmRSS), or NaN when the process is gone. */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Peak resident set size of `pid` in KiB (VmHWM), or NaN. */
export function peakRssKiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** User and system CPU time consumed by `pid` so far, in milliseconds (NaN when gone). */
export function cpuSplitMs(pid: number): { userMs: number; systemMs: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userMs: (Number(fields[11]) * 1000) / CLOCK_TICKS_PER_SEC, systemMs: (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_SEC };
  } catch {
    return { userMs: NaN, systemMs: NaN };
  }
}

/** User + system CPU time consumed by `pid` so far, in milliseconds (NaN when gone). */
export function cpuTimeMs(pid: number): number {
  const { userMs, systemMs } = cpuSplitMs(pid);
  return userMs + systemMs;
}

/**
 * Measures the CPU `pid` uses while `work` runs: returns the work's result, the
 * wall time and the CPU time as a percentage of one core.
 */
export async function measureCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; wallMs: number; cpuMs: number; cpuPercent: number }> {
  const cpu0 = cpuTimeMs(pid);
  const t0 = performance.now();
  const result = await work();
  const wallMs = performance.now() - t0;
  const cpuMs = cpuTimeMs(pid) - cpu0;
  return { result, wallMs, cpuMs, cpuPercent: wallMs > 0 ? (100 * cpuMs) / wallMs : 0 };
}

export function formatMiB(kib: number): string {
  return Number.isFinite(kib) ? `${(kib / 1024).toFixed(1)} MiB` : 'n/a';
}

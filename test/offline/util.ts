// Small helpers shared by the offline-verification tests.
import type { TestDaemon } from '../helpers/daemon.js';

/** Polls `pred` (real time) until true; rejects after `ms`. For async effects, never for timing assertions. */
export async function waitUntil(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Log lines with this message (and optionally matching fields). */
export function logsWith(d: TestDaemon, msg: string, fields: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return d.logs.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
}

/** Whether the last authentication of `clientId` was answered from the token cache. */
export function lastAuthCached(d: TestDaemon, clientId: string): boolean | undefined {
  const line = [...d.logs].reverse().find((l) => l.msg === 'client authenticated' && l.clientId === clientId);
  return line?.cached as boolean | undefined;
}

export const nowSecOf = (ms: number): number => Math.floor(ms / 1000);

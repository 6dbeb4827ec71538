// Small helpers shared by the offline-verification tests.
import type { TestDaemon } from '../helpers/daemon.js';

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

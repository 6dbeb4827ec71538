// The bridge on the status board (registered while it runs, only when enabled).
import type { BridgeTopicRule } from '../config/types.js';

export type BridgeState = 'stopped' | 'connecting' | 'connected' | 'waiting' | 'stopping';

export interface BridgeStatus {
  state: BridgeState;
  /** Without credentials. */
  url: string;
  clientId: string;
  connectedSince: string | null;
  lastError: string | null;
  queue: { messages: number; bytes: number; durable: boolean; inflight: number };
  remoteStateTopic: string;
  rules: BridgeTopicRule[];
  /** Age of the oldest queued message; null when the queue is empty. */
  oldestQueuedAgeSec: number | null;
  /** Messages dropped since start, by reason. */
  dropped: Record<string, number>;
}

declare module '../status.js' {
  interface StatusMap {
    bridge: BridgeStatus;
  }
}

export function oldestAgeSec(enqueuedAt: number | undefined, nowMs: number): number | null {
  return enqueuedAt === undefined ? null : Math.max(0, Math.round((nowMs - enqueuedAt) / 1000));
}

// The gateway clock on the status board, and its gauges. Those are read at each
// scrape: the status changes with time itself (a clock passing the floor), not
// only on events, so there is no moment to set them at.
import type { Metrics } from '../metrics.js';
import type { StatusBoard } from '../status.js';
import type { ClockStatus, GatewayClock } from './gatewayClock.js';

export interface GatewayClockStatus {
  status: ClockStatus;
  /** Trusted time minus system time, in seconds. */
  offsetSec: number;
  /** The time token checks use. */
  now: string;
  floor: string;
}

declare module '../status.js' {
  interface StatusMap {
    clock: GatewayClockStatus;
  }
}

/** Registers the clock's status and the collector of its gauges. */
export function registerClockStatus(clock: GatewayClock, services: { status: StatusBoard; metrics: Metrics }): void {
  const { metrics } = services;
  services.status.register('clock', () => {
    const s = clock.snapshot();
    return { status: s.status, offsetSec: s.offsetSec, now: new Date(s.nowMs).toISOString(), floor: new Date(s.floorMs).toISOString() };
  });
  metrics.registry.addCollector(() => {
    const s = clock.snapshot();
    metrics.clockOffsetSeconds.set(s.offsetSec);
    metrics.clockSynchronized.set(s.status === 'synced' ? 1 : 0);
  });
}

// The gateway's notion of "now" for token checks. A Pi has no real-time clock:
// after a power cut it may boot at 1970 (or at the last fake-hwclock save) until
// NTP answers, and an uplink may never come. Two defences:
//  - a time floor: the largest wall time seen before (persisted) or the build
//    time. While the system clock reads below the floor, token checks use the
//    floor advanced by monotonic time, so an expired token never comes back.
//  - a trusted offset: a time source we trust (a JWKS response's Date header,
//    the bridge) is compared with the system clock; beyond maxOffsetSec the
//    corrected time is used.
import type { TimerHandle, TimeSource } from './timeSource.js';

export type ClockStatus = 'synced' | 'unsynchronized' | 'skewed';

export interface ClockSnapshot {
  status: ClockStatus;
  /** Trusted time minus system time, in seconds (0 until a trusted source is seen). */
  offsetSec: number;
  floorMs: number;
  systemMs: number;
  nowMs: number;
  trustedSource: string | null;
}

export interface GatewayClockOptions {
  /** Lower bound for wall time: max(persisted time, build time), ms. */
  floorMs?: number;
  maxOffsetSec?: number;
  /** Called once each time the status changes. */
  onStatusChange?: (snapshot: ClockSnapshot, previous: ClockStatus) => void;
}

export class GatewayClock {
  readonly source: TimeSource;
  private floorMs: number;
  private floorMono: number;
  private maxOffsetMs: number;
  private trustedOffsetMs = 0;
  private trustedSource: string | null = null;
  private lastStatus: ClockStatus = 'synced';
  private readonly onStatusChange?: GatewayClockOptions['onStatusChange'];

  constructor(source: TimeSource, options: GatewayClockOptions = {}) {
    this.source = source;
    this.floorMs = options.floorMs ?? 0;
    this.floorMono = source.monotonicNow();
    this.maxOffsetMs = (options.maxOffsetSec ?? 120) * 1000;
    this.onStatusChange = options.onStatusChange;
    this.lastStatus = this.computeStatus();
  }

  /** Raises the floor (e.g. after loading the persisted time). Never lowers it. */
  raiseFloor(ms: number): void {
    const current = this.flooredNow();
    if (ms > current) {
      this.floorMs = ms;
      this.floorMono = this.source.monotonicNow();
    }
    this.noticeStatus();
  }

  /** Records a trusted time reading (ms since the epoch) from `sourceName`. */
  observeTrustedTime(trustedMs: number, sourceName: string): void {
    if (!Number.isFinite(trustedMs)) return;
    this.trustedOffsetMs = trustedMs - this.source.systemNow();
    this.trustedSource = sourceName;
    if (this.isSkewed()) this.raiseFloor(trustedMs);
    this.noticeStatus();
  }

  /** Wall time for token checks, ms since the epoch. */
  now(): number {
    const n = this.isSkewed() ? this.source.systemNow() + this.trustedOffsetMs : this.flooredNow();
    this.noticeStatus();
    return n;
  }

  nowDate(): Date {
    return new Date(this.now());
  }

  monotonic(): number {
    return this.source.monotonicNow();
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.source.setTimer(ms, fn);
  }

  setInterval(ms: number, fn: () => void): TimerHandle {
    return this.source.setInterval(ms, fn);
  }

  status(): ClockStatus {
    return this.noticeStatus();
  }

  snapshot(): ClockSnapshot {
    const status = this.status();
    return {
      status,
      offsetSec: this.trustedOffsetMs / 1000,
      floorMs: this.floorMs,
      systemMs: this.source.systemNow(),
      nowMs: this.now(),
      trustedSource: this.trustedSource,
    };
  }

  private flooredNow(): number {
    const floor = this.floorMs + (this.source.monotonicNow() - this.floorMono);
    return Math.max(this.source.systemNow(), floor);
  }

  private isSkewed(): boolean {
    return this.trustedSource !== null && Math.abs(this.trustedOffsetMs) > this.maxOffsetMs;
  }

  private computeStatus(): ClockStatus {
    if (this.isSkewed()) return 'skewed';
    const floor = this.floorMs + (this.source.monotonicNow() - this.floorMono);
    return this.source.systemNow() < floor ? 'unsynchronized' : 'synced';
  }

  private noticeStatus(): ClockStatus {
    const status = this.computeStatus();
    if (status !== this.lastStatus) {
      const previous = this.lastStatus;
      this.lastStatus = status;
      this.onStatusChange?.(
        {
          status,
          offsetSec: this.trustedOffsetMs / 1000,
          floorMs: this.floorMs,
          systemMs: this.source.systemNow(),
          nowMs: 0,
          trustedSource: this.trustedSource,
        },
        previous,
      );
    }
    return status;
  }
}

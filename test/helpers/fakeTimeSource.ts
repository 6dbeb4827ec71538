// A TimeSource moved by hand, so tests see tokens expire without sleeping.
import type { TimerHandle, TimeSource } from '../../src/clock/timeSource.js';

interface PendingTimer {
  due: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

export class FakeTimeSource implements TimeSource {
  private wall: number;
  private mono = 0;
  private timers: PendingTimer[] = [];

  constructor(startWallMs = Date.now()) {
    this.wall = startWallMs;
  }

  systemNow(): number {
    return this.wall;
  }

  monotonicNow(): number {
    return this.mono;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.add({ due: this.mono + Math.max(0, ms), fn, cancelled: false });
  }

  setInterval(ms: number, fn: () => void): TimerHandle {
    const every = Math.max(1, ms);
    return this.add({ due: this.mono + every, fn, every, cancelled: false });
  }

  /** Sets the system wall clock (as a reboot without RTC, or NTP stepping it, would). */
  setSystemTime(ms: number): void {
    this.wall = ms;
  }

  /** Moves both clocks forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      const next = this.timers.filter((t) => !t.cancelled && t.due <= target).sort((a, b) => a.due - b.due)[0];
      if (!next) break;
      this.wall += next.due - this.mono;
      this.mono = next.due;
      if (next.every) next.due += next.every;
      else next.cancelled = true;
      next.fn();
    }
    this.wall += target - this.mono;
    this.mono = target;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  private add(timer: PendingTimer): TimerHandle {
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }
}

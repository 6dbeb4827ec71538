// The raw sources of time: the system's wall clock, a monotonic clock and timers.
// Everything in edgegate gets time through a TimeSource so tests can move it.
import { performance } from 'node:perf_hooks';

export interface TimerHandle {
  cancel(): void;
}

export interface TimeSource {
  /** System wall clock, ms since the epoch (may be wrong on a Pi without RTC). */
  systemNow(): number;
  /** Monotonic ms, never jumps; only differences mean anything. */
  monotonicNow(): number;
  /** Calls fn after `ms` of monotonic time. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Calls fn every `ms` of monotonic time. */
  setInterval(ms: number, fn: () => void): TimerHandle;
}

// setTimeout holds at most 2^31-1 ms; longer delays are re-armed in steps.
const MAX_TIMEOUT = 2_147_483_647;

export const systemTimeSource: TimeSource = {
  systemNow: () => Date.now(),
  monotonicNow: () => performance.now(),
  setTimer(ms, fn) {
    let handle: NodeJS.Timeout;
    const due = performance.now() + ms;
    const arm = (delay: number): void => {
      handle = setTimeout(
        () => {
          const left = due - performance.now();
          if (left > 1) arm(left);
          else fn();
        },
        Math.min(Math.max(0, delay), MAX_TIMEOUT),
      );
      handle.unref?.();
    };
    arm(ms);
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(ms, fn) {
    const handle = setInterval(fn, Math.min(Math.max(1, ms), MAX_TIMEOUT));
    handle.unref?.();
    return { cancel: () => clearInterval(handle) };
  },
};

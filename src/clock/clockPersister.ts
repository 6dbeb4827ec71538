// Persists the gateway clock's time at start, every clock.persistIntervalSec and
// at shutdown: one single-row write each time (few SD-card writes).
import type { Component } from '../component.js';
import type { Logger } from '../log.js';
import type { GatewayClock } from './gatewayClock.js';
import type { TimeFloorStore } from './timeFloorStore.js';
import type { TimerHandle } from './timeSource.js';

export class ClockPersister implements Component {
  readonly name = 'clock-persister';
  private timer?: TimerHandle;
  private failed = false;

  constructor(
    private readonly clock: GatewayClock,
    private readonly store: TimeFloorStore,
    private readonly intervalSec: number,
    private readonly logger: Logger,
  ) {}

  /** Raises the clock's floor to the persisted time (call before any token is checked). */
  loadFloor(): number | undefined {
    try {
      const before = this.clock.status();
      const persisted = this.store.load();
      if (persisted !== undefined) this.clock.raiseFloor(persisted);
      // Already behind the build-time floor at construction: no status change
      // fires then, so warn here (once) as the change handler would have.
      const snap = this.clock.snapshot();
      if (before === 'unsynchronized' && snap.status === 'unsynchronized') {
        this.logger.warn(
          { status: snap.status, floor: new Date(snap.floorMs).toISOString(), system: new Date(snap.systemMs).toISOString() },
          'system clock is behind the time floor; token checks use the floor',
        );
      }
      return persisted;
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'could not read the persisted time floor');
      return undefined;
    }
  }

  async start(): Promise<void> {
    this.persist();
    this.timer = this.clock.setInterval(this.intervalSec * 1000, () => this.persist());
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.persist();
  }

  persist(): void {
    try {
      this.store.save(this.clock.now());
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.logger.error({ err: (err as Error).message }, 'could not persist the time floor');
      this.failed = true;
    }
  }
}

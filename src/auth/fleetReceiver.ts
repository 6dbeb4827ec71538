// Applies signed fleet revocations arriving on auth.revocation.topic (events)
// and <topic>/snapshot (the retained whole list): verify the JWS, refuse a seq
// that is not above the last one applied for that key (an event) or below it (a
// snapshot: the same seq is the state after that event, applied idempotently, as
// long as no other key's message was applied since), then revoke/unrevoke through
// the watcher and remember seq and the fleet's entries (one transaction). Messages
// are handled one at a time, in arrival order; one over the size limit is refused
// before it is queued. Every refusal is counted by reason and logged (rate-limited).
import type { Logger } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import { checkSize, entryKey, type FleetChannel, type FleetEntry, FleetRefusal, type FleetRefusalReason } from './fleetProtocol.js';
import type { FleetEntryState, FleetMark, FleetState } from './fleetState.js';
import type { FleetVerifier } from './fleetVerifier.js';

export interface RevocationChanges {
  revoke: FleetEntry[];
  unrevoke: FleetMark[];
}

/** What the receiver needs from the revocation watcher: apply changes, say which revocations are new. */
export interface RevocationApplier {
  /** Applies the changes (one disconnect pass); returns the revocations newly added (not those already there, nor refused when full). */
  apply(changes: RevocationChanges, source: string): FleetMark[];
}

interface Plan {
  marked: FleetEntryState[];
  unmarked: FleetMark[];
  revoked: number;
  unrevoked: number;
}

export interface FleetReceiverDeps {
  verifier: FleetVerifier;
  state: FleetState;
  applier: RevocationApplier;
  logger: Logger;
  nowMs: () => number;
  monotonicMs: () => number;
  onRefused?: (reason: FleetRefusalReason) => void;
  onApplied?: (channel: FleetChannel) => void;
}

export class FleetRevocationReceiver {
  private queue: Promise<void> = Promise.resolve();
  private readonly limited: LogLimiter;

  constructor(private readonly deps: FleetReceiverDeps) {
    this.limited = new LogLimiter(deps.logger, deps.monotonicMs);
  }

  /** Queues one message; resolves once it has been applied or refused. */
  handle(channel: FleetChannel, text: string): Promise<void> {
    try {
      checkSize(text, channel); // nothing large waits in memory behind a slow verification
    } catch (err) {
      this.refuse((err as FleetRefusal).reason, (err as FleetRefusal).message, channel);
      return Promise.resolve();
    }
    this.queue = this.queue.then(() => this.process(channel, text));
    return this.queue;
  }

  /** A message refused before verification (e.g. unsigned JSON while requireSigned is true). */
  refuse(reason: FleetRefusalReason, message: string, channel: FleetChannel): void {
    this.deps.onRefused?.(reason);
    this.limited.log('warn', `fleet_refused_${reason}`, { reason, channel, why: message }, 'fleet revocation message refused');
  }

  private async process(channel: FleetChannel, text: string): Promise<void> {
    try {
      if (channel === 'event') await this.event(text);
      else await this.snapshot(text);
      this.deps.onApplied?.(channel);
    } catch (err) {
      if (err instanceof FleetRefusal) this.refuse(err.reason, err.message, channel);
      else this.deps.logger.error({ err: (err as Error).message, channel }, 'fleet revocation: could not record the message; continuing from memory');
    }
  }

  private async event(text: string): Promise<void> {
    const { key, message: ev } = await this.deps.verifier.verifyEvent(text);
    const last = this.deps.state.lastSeq(key.kid);
    if (ev.seq <= last) throw new FleetRefusal('replay', `seq ${ev.seq} is not above ${last}, the last applied for key ${key.kid}`);
    const change = this.apply(key.kid, ev.seq, ev.unrevoke ? [] : [ev], ev.unrevoke ? [ev] : []);
    this.deps.logger.info(
      { kid: key.kid, seq: ev.seq, kind: ev.kind, value: ev.value, unrevoke: ev.unrevoke, revoked: change.revoked, unrevoked: change.unrevoked },
      'fleet revocation event applied',
    );
  }

  private async snapshot(text: string): Promise<void> {
    const { key, message: snap } = await this.deps.verifier.verifySnapshot(text);
    const last = this.deps.state.lastSeq(key.kid);
    if (snap.seq < last) throw new FleetRefusal('replay', `snapshot seq ${snap.seq} is below ${last}, the last applied for key ${key.kid}`);
    // The same seq is this key's latest list only while no other key changed anything since (a rotation's overlap).
    if (snap.seq === last && this.deps.state.lastKeyId !== key.kid) {
      throw new FleetRefusal('replay', `snapshot seq ${snap.seq} of key ${key.kid} was applied before a message of key ${this.deps.state.lastKeyId}`);
    }
    const wanted = new Set(snap.revocations.map(entryKey));
    const change = this.apply(
      key.kid,
      snap.seq,
      snap.revocations,
      this.deps.state.entries().filter((m) => !wanted.has(entryKey(m))),
    );
    this.deps.logger.info(
      { kid: key.kid, seq: snap.seq, entries: snap.revocations.length, revoked: change.revoked, unrevoked: change.unrevoked },
      'fleet revocation snapshot applied',
    );
  }

  /** Plans and applies the changes and records the message, all in one transaction. */
  private apply(kid: string, seq: number, revoke: FleetEntry[], unrevoke: FleetMark[]): Plan {
    return this.deps.state.transaction(() => {
      const change = this.plan(revoke, unrevoke);
      this.deps.state.commit(kid, seq, this.deps.nowMs(), change.marked, change.unmarked);
      return change;
    });
  }

  /**
   * Brings the revocation list in line: every entry of `revoke` is revoked (a
   * no-op where it already is) and kept in the fleet list, owned when the fleet
   * added it; every entry of `unrevoke` leaves the fleet list and is lifted only
   * if the fleet had added it (a local `token revoke` stays).
   */
  private plan(revoke: FleetEntry[], unrevoke: FleetMark[]): Plan {
    const state = this.deps.state;
    const lift = unrevoke.filter((e) => state.get(e)?.owned === true);
    const added = new Set(this.deps.applier.apply({ revoke, unrevoke: lift }, 'fleet').map(entryKey));
    const marked = revoke
      .map((e) => ({ kind: e.kind, value: e.value, owned: state.get(e)?.owned === true || added.has(entryKey(e)) }))
      .filter((m) => state.get(m)?.owned !== m.owned); // only what changes is written
    const unmarked = unrevoke.filter((e) => state.get(e) !== undefined);
    return { marked, unmarked, revoked: added.size, unrevoked: lift.length };
  }
}

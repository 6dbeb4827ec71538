// The messages of persistent sessions: outgoing QoS 1/2 messages queued for a
// session (delivered when its client is back, MQTT 3.1.1 section 4.4, MQTT 5.0
// section 4.4), with the packet identifier they went out with, and inbound QoS 2
// messages awaiting PUBREL (MQTT-4.3.3-2). Nothing of it is kept in memory but a
// count per session: a Pi's memory does not grow with a session that stays away.
//
// Bounded per session (broker.queueLimit): beyond it the oldest queued message
// goes (as EMQX does: the newest reading is worth more), counted by onDropped.
import type { Sqlite } from '../../storage/database.js';
import type { GroupCommit } from '../../storage/groupCommit.js';
import { decodePacket, encodePacket, normalizePacket, type StoredPacket } from './codec.js';

/** A packet aedes queues for a session: a stored packet that always says what it is. */
export interface QueuedPacket extends StoredPacket {
  cmd: string;
}

interface OutgoingRow {
  id: number;
  packet: string;
  payload: Buffer | null;
  message_id: number | null;
}

/** A queued row as aedes expects it back: the packet identifier it went out with, `undefined` before it went out. */
function toPacket(r: OutgoingRow): QueuedPacket {
  const p = decodePacket(r.packet, r.payload) as QueuedPacket;
  if (r.message_id !== null) p.messageId = r.message_id;
  else if (p.cmd === 'publish') p.messageId = undefined;
  return p;
}

export class QueueStore {
  /** Queued messages per session (the bound is checked without a query). */
  private readonly counts = new Map<string, number>();
  private readonly stmts;

  constructor(
    private readonly db: Sqlite,
    private readonly commit: GroupCommit,
    private readonly limit: number,
    private readonly onDropped: (clientId: string, n: number) => void,
  ) {
    this.stmts = {
      insert: db.prepare('INSERT INTO broker_outgoing (client_id, packet, payload, broker_counter, message_id) VALUES (?, ?, ?, ?, ?)'),
      byCounter: db.prepare('SELECT id FROM broker_outgoing WHERE client_id = ? AND broker_counter = ? ORDER BY id LIMIT 1').pluck(),
      byMessageId: db.prepare('SELECT id, packet, payload, message_id FROM broker_outgoing WHERE client_id = ? AND message_id = ? ORDER BY id LIMIT 1'),
      setMessageId: db.prepare('UPDATE broker_outgoing SET message_id = ? WHERE id = ?'),
      replace: db.prepare('UPDATE broker_outgoing SET packet = ?, payload = ?, message_id = ? WHERE id = ?'),
      delete: db.prepare('DELETE FROM broker_outgoing WHERE id = ?'),
      oldest: db.prepare('DELETE FROM broker_outgoing WHERE id IN (SELECT id FROM broker_outgoing WHERE client_id = ? ORDER BY id LIMIT ?)'),
      all: db.prepare('SELECT id, packet, payload, message_id FROM broker_outgoing WHERE client_id = ? ORDER BY id'),
      clear: db.prepare('DELETE FROM broker_outgoing WHERE client_id = ?'),
      maxCounter: db.prepare('SELECT max(broker_counter) FROM broker_outgoing').pluck(),
      incomingPut: db.prepare('INSERT OR REPLACE INTO broker_incoming (client_id, message_id, packet, payload) VALUES (?, ?, ?, ?)'),
      incomingGet: db.prepare('SELECT packet, payload FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
      incomingDel: db.prepare('DELETE FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
      incomingClear: db.prepare('DELETE FROM broker_incoming WHERE client_id = ?'),
    };
    this.reload();
  }

  /** Recounts the queues from the table (at start, and after a failed commit). */
  reload(): void {
    this.counts.clear();
    const rows = this.db.prepare('SELECT client_id, count(*) AS n FROM broker_outgoing GROUP BY client_id').all() as Array<{ client_id: string; n: number }>;
    for (const r of rows) this.counts.set(r.client_id, r.n);
  }

  /** The highest broker counter queued: aedes numbers new messages above it, so a restart never reuses one. */
  maxBrokerCounter(): number {
    return (this.stmts.maxCounter.get() as number | null) ?? 0;
  }

  /** Messages queued in all sessions. */
  total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** Queues a copy for each session, at most at the QoS it was granted (MQTT-3.8.4-6). */
  enqueue(subs: Array<{ clientId: string; qos?: number }>, packet: QueuedPacket): void {
    if (subs.length === 0) return;
    this.commit.write(() => {
      for (const sub of subs) {
        const copy = { ...normalizePacket(packet), qos: Math.min(packet.qos ?? 0, sub.qos ?? packet.qos ?? 0), messageId: undefined };
        const { json, payload } = encodePacket(copy);
        this.stmts.insert.run(sub.clientId, json, payload, packet.brokerCounter ?? 0, null);
        const n = (this.counts.get(sub.clientId) ?? 0) + 1;
        if (this.limit > 0 && n > this.limit) {
          this.stmts.oldest.run(sub.clientId, n - this.limit);
          this.counts.set(sub.clientId, this.limit);
          this.onDropped(sub.clientId, n - this.limit);
        } else this.counts.set(sub.clientId, n);
      }
    });
  }

  /**
   * Records the packet identifier a queued message went out with, or replaces a
   * delivered QoS 2 message by its PUBREL (MQTT 5.0 section 4.3.3). False when it
   * is not queued (a session's queue may have dropped it as full).
   */
  update(clientId: string, packet: QueuedPacket): boolean {
    return this.commit.write(() => {
      if (packet.cmd === 'publish' && packet.brokerCounter) {
        const id = this.stmts.byCounter.get(clientId, packet.brokerCounter) as number | undefined;
        if (id !== undefined) {
          this.stmts.setMessageId.run(packet.messageId ?? null, id);
          return true;
        }
      }
      const row = this.stmts.byMessageId.get(clientId, packet.messageId ?? -1) as OutgoingRow | undefined;
      if (!row) return false;
      const { json, payload } = encodePacket(packet.cmd === 'publish' ? normalizePacket(packet) : packet);
      this.stmts.replace.run(json, payload, packet.messageId ?? null, row.id);
      return true;
    });
  }

  /** Removes the message acknowledged with this packet identifier; returns it (undefined when none). */
  clearMessageId(clientId: string, messageId: number): QueuedPacket | undefined {
    const row = this.stmts.byMessageId.get(clientId, messageId) as OutgoingRow | undefined;
    if (!row) return undefined;
    this.commit.write(() => this.stmts.delete.run(row.id));
    this.counts.set(clientId, Math.max(0, (this.counts.get(clientId) ?? 1) - 1));
    return toPacket(row);
  }

  /** Everything queued for the session, oldest first. */
  *queued(clientId: string): IterableIterator<QueuedPacket> {
    const rows = this.stmts.all.all(clientId) as OutgoingRow[];
    for (const r of rows) yield toPacket(r);
  }

  clear(clientId: string): void {
    if (!this.counts.has(clientId)) return;
    this.commit.write(() => this.stmts.clear.run(clientId));
    this.counts.delete(clientId);
  }

  incomingStore(clientId: string, packet: QueuedPacket): void {
    const { json, payload } = encodePacket({ ...normalizePacket(packet), messageId: packet.messageId });
    this.commit.write(() => this.stmts.incomingPut.run(clientId, packet.messageId ?? 0, json, payload));
  }

  incomingGet(clientId: string, messageId: number): QueuedPacket | undefined {
    const r = this.stmts.incomingGet.get(clientId, messageId) as { packet: string; payload: Buffer | null } | undefined;
    return r ? (decodePacket(r.packet, r.payload) as QueuedPacket) : undefined;
  }

  incomingDelete(clientId: string, messageId: number): boolean {
    return this.commit.write(() => this.stmts.incomingDel.run(clientId, messageId).changes > 0);
  }

  incomingClear(clientId: string): void {
    this.commit.write(() => this.stmts.incomingClear.run(clientId));
  }
}

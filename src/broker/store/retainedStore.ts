// Retained messages (MQTT 5.0 section 3.3.1.3, MQTT 3.1.1 section 3.3.1.3): the
// topics are kept in memory (to match a SUBSCRIBE's filters without reading the
// table), the payloads only on the card and read when a subscription wants them.
// At most `maxRetained` topics: a retained message on a new topic beyond that is
// delivered as usual but not retained (onRefused counts and logs it). Retained
// `$SYS/...` status is the gateway's own, republished every few seconds and at each
// start: kept in memory only, so it costs the card nothing.

import { topicMatches } from '../../mqtt/topics.js';
import type { Sqlite } from '../../storage/database.js';
import type { GroupCommit } from '../../storage/groupCommit.js';
import { decodePacket, encodePacket } from './codec.js';

export interface RetainedMessage {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: number;
  retain: true;
  properties?: Record<string, unknown>;
  /** MQTT 5 Message Expiry: when it stops being retained (ms, wall clock of aedes). */
  messageExpiry?: number;
}

interface Row {
  packet: string;
  payload: Buffer;
}

export class RetainedStore {
  private readonly topics = new Set<string>();
  private readonly volatile = new Map<string, RetainedMessage>();
  private readonly upsert;
  private readonly remove;
  private readonly byTopic;

  constructor(
    private readonly db: Sqlite,
    private readonly commit: GroupCommit,
    private readonly maxRetained: number,
    private readonly onRefused: (topic: string) => void,
  ) {
    this.upsert = db.prepare(
      `INSERT INTO broker_retained (topic, packet, payload) VALUES (?, ?, ?)
       ON CONFLICT(topic) DO UPDATE SET packet = excluded.packet, payload = excluded.payload`,
    );
    this.remove = db.prepare('DELETE FROM broker_retained WHERE topic = ?');
    this.byTopic = db.prepare('SELECT packet, payload FROM broker_retained WHERE topic = ?');
    this.reload();
  }

  /** Reads the topic index from the table (at start, and after a failed commit rolled writes back). */
  reload(): void {
    this.topics.clear();
    for (const r of this.db.prepare('SELECT topic FROM broker_retained').pluck().iterate() as Iterable<string>) this.topics.add(r);
  }

  get size(): number {
    return this.topics.size;
  }

  /** Retains the message, or forgets the topic's retained message when the payload is empty [MQTT-3.3.1-10]. */
  store(packet: { topic: string; payload: Buffer | string; qos?: number; properties?: unknown; [key: string]: unknown }): void {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (packet.topic.startsWith('$')) {
      if (payload.length === 0) this.volatile.delete(packet.topic);
      else this.volatile.set(packet.topic, { ...packet, payload } as unknown as RetainedMessage);
      return;
    }
    if (payload.length === 0) {
      if (!this.topics.delete(packet.topic)) return;
      this.commit.write(() => this.remove.run(packet.topic));
      return;
    }
    if (!this.topics.has(packet.topic) && this.topics.size >= this.maxRetained) return this.onRefused(packet.topic);
    const { json } = encodePacket({ ...(packet as Record<string, unknown>), payload: undefined });
    this.commit.write(() => this.upsert.run(packet.topic, json, payload));
    this.topics.add(packet.topic);
  }

  /** The retained messages matching any of the filters, each once, read from the table as they are consumed. */
  *matching(filters: string[]): IterableIterator<RetainedMessage> {
    for (const [topic, message] of this.volatile) if (filters.some((f) => topicMatches(f, topic))) yield message;
    for (const topic of [...this.topics]) {
      if (!filters.some((f) => topicMatches(f, topic))) continue;
      const r = this.byTopic.get(topic) as Row | undefined;
      if (r) yield decodePacket(r.packet, r.payload) as unknown as RetainedMessage;
    }
  }
}

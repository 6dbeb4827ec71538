// Subscriptions of persistent sessions: matched in memory (aedes-persistence's own
// in-memory index, the trie aedes's tests are written against) and written through
// to the table, so that a session's subscriptions come back after a restart or a
// power cut [MQTT-3.1.2-4: the session state includes the subscriptions].
import type { Readable } from 'node:stream';
import AedesMemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import type { Sqlite } from '../../storage/database.js';
import type { GroupCommit } from '../../storage/groupCommit.js';

export interface StoredSubscription {
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
  subscriptionIdentifier?: number;
}

export interface TopicSubscription {
  clientId: string;
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
}

interface MemoryIndex {
  setup(broker: unknown): Promise<void>;
  addSubscriptions(client: { id: string }, subs: StoredSubscription[]): Promise<void>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>;
  subscriptionsByClient(client: { id: string }): Promise<StoredSubscription[]>;
  subscriptionsByTopic(topic: string): Promise<TopicSubscription[]>;
  cleanSubscriptions(client: { id: string }): Promise<void>;
  countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
  getClientList(topic: string): Readable;
}

const MemoryPersistence = AedesMemoryPersistence as new () => MemoryIndex;

export class SubscriptionStore {
  private index: MemoryIndex = new MemoryPersistence();
  private readonly upsert;
  private readonly removeOne;
  private readonly removeAll;

  constructor(
    private readonly db: Sqlite,
    private readonly commit: GroupCommit,
  ) {
    this.upsert = db.prepare(
      `INSERT INTO broker_subscriptions (client_id, topic, qos, options) VALUES (?, ?, ?, ?)
       ON CONFLICT(client_id, topic) DO UPDATE SET qos = excluded.qos, options = excluded.options`,
    );
    this.removeOne = db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND topic = ?');
    this.removeAll = db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?');
  }

  /** Rebuilds the in-memory index from the table (at start, and after a failed commit). */
  async reload(broker: unknown): Promise<void> {
    this.index = new MemoryPersistence();
    await this.index.setup(broker);
    const byClient = new Map<string, StoredSubscription[]>();
    const rows = this.db.prepare('SELECT client_id, topic, qos, options FROM broker_subscriptions ORDER BY rowid').iterate() as Iterable<{
      client_id: string;
      topic: string;
      qos: number;
      options: string;
    }>;
    for (const r of rows) {
      const list = byClient.get(r.client_id) ?? [];
      list.push({ topic: r.topic, qos: r.qos, ...(JSON.parse(r.options) as Omit<StoredSubscription, 'topic' | 'qos'>) });
      byClient.set(r.client_id, list);
    }
    for (const [id, subs] of byClient) await this.index.addSubscriptions({ id }, subs);
  }

  async add(client: { id: string }, subs: StoredSubscription[]): Promise<void> {
    this.commit.write(() => {
      for (const s of subs) {
        const { topic, qos, ...options } = s;
        this.upsert.run(client.id, topic, qos, JSON.stringify(options));
      }
    });
    await this.index.addSubscriptions(client, subs);
  }

  async remove(client: { id: string }, topics: string[]): Promise<void> {
    this.commit.write(() => {
      for (const t of topics) this.removeOne.run(client.id, t);
    });
    await this.index.removeSubscriptions(client, topics);
  }

  async clean(client: { id: string }): Promise<void> {
    this.commit.write(() => this.removeAll.run(client.id));
    await this.index.cleanSubscriptions(client);
  }

  byClient(client: { id: string }): Promise<StoredSubscription[]> {
    return this.index.subscriptionsByClient(client);
  }

  byTopic(topic: string): Promise<TopicSubscription[]> {
    return this.index.subscriptionsByTopic(topic);
  }

  countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return this.index.countOffline();
  }

  clientList(topic: string): Readable {
    return this.index.getClientList(topic);
  }
}

// The aedes persistence of the gateway (aedes-persistence's interface, as aedes
// 2 calls it): the broker's state in the one SQLite database, written through the
// group commit. aedes-persistence's abstract test suite runs against it
// (test/broker/store/abstract.test.ts), besides our own contract tests.
//
// What makes it durable, not just persistent: nothing here waits for the disk
// except where aedes acknowledges a SUBSCRIBE or UNSUBSCRIBE; a PUBLISH's retained
// copy, its copies queued for sessions and its inbound QoS 2 state join the open
// group, and the patched aedes calls `beforeAck` (broker.ts -> committed()) before
// it writes PUBACK, PUBREC or PUBCOMP. So the acknowledgement follows one commit
// holding everything the message changed.
import { Readable } from 'node:stream';
import { migrate, type Sqlite } from '../../storage/database.js';
import type { GroupCommit } from '../../storage/groupCommit.js';
import { type QueuedPacket, QueueStore } from './queueStore.js';
import { RetainedStore } from './retainedStore.js';
import { BROKER_MIGRATIONS } from './schema.js';
import { NEVER_EXPIRES, SessionStore } from './sessionStore.js';
import { type StoredSubscription, SubscriptionStore } from './subscriptionStore.js';
import { WILL_ALLOWED, WillStore } from './willStore.js';

export interface BrokerPersistenceOptions {
  maxRetained: number;
  /** Messages queued per session at most (broker.queueLimit). */
  queueLimit: number;
  /** How long an MQTT 3.1.1 persistent session outlives its client (0: never). */
  sessionExpirySec: number;
  now: () => number;
  /** A bound bit: counted and logged by the owner (broker.ts). */
  onRetainedRefused?: (topic: string) => void;
  onQueueDropped?: (clientId: string, n: number) => void;
}

type Client = { id: string };
type Broker = { id: string; counter: number };

export class BrokerPersistence {
  private readonly retained: RetainedStore;
  private readonly subscriptions: SubscriptionStore;
  private readonly queues: QueueStore;
  private readonly wills: WillStore;
  readonly sessions: SessionStore;
  private broker?: Broker;
  /** Wills found at start: their connections ended with the previous run. */
  private recovered: QueuedPacket[] = [];

  constructor(
    db: Sqlite,
    private readonly commit: GroupCommit,
    private readonly options: BrokerPersistenceOptions,
  ) {
    migrate(db, 'broker', BROKER_MIGRATIONS);
    this.retained = new RetainedStore(db, commit, options.maxRetained, (t) => options.onRetainedRefused?.(t));
    this.subscriptions = new SubscriptionStore(db, commit);
    this.queues = new QueueStore(db, commit, options.queueLimit, (id, n) => options.onQueueDropped?.(id, n));
    this.wills = new WillStore(db, commit);
    this.sessions = new SessionStore(db, commit);
    // A rolled-back group (disk full, I/O error): what is kept in memory follows the disk again
    // (a card failing with I/O errors may fail this too: the next commit tells again).
    commit.onRollback(() => {
      this.reload().catch(() => undefined);
    });
  }

  private async reload(): Promise<void> {
    this.retained.reload();
    this.queues.reload();
    this.sessions.reload();
    await this.subscriptions.reload(this.broker);
  }

  // aedes checks that this is an AsyncFunction.
  async setup(broker: Broker): Promise<void> {
    this.broker = broker;
    await this.subscriptions.reload(broker);
    // aedes numbers its messages from 0 in each process; queued ones keep theirs.
    broker.counter = Math.max(broker.counter, this.queues.maxBrokerCounter());
    this.recovered = this.wills.all();
    this.sessions.gatewayStarted(this.options.now());
  }

  /** Resolves once everything written so far is on the card (the acknowledgement barrier). */
  committed(): Promise<void> {
    return this.commit.committed();
  }

  /** Wills left by the connections the previous run ended without publishing them (taken once). */
  takeRecoveredWills(): QueuedPacket[] {
    const wills = this.recovered;
    this.recovered = [];
    return wills;
  }

  counts(): { retained: number; sessions: number; queued: number } {
    return { retained: this.retained.size, sessions: this.sessions.size, queued: this.queues.total() };
  }

  // ---- retained messages ----
  async storeRetained(packet: QueuedPacket & { topic: string }): Promise<void> {
    this.retained.store(packet as { topic: string; payload: Buffer });
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(this.retained.matching(patterns));
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }

  // ---- subscriptions and sessions ----
  async addSubscriptions(client: Client, subs: StoredSubscription[]): Promise<void> {
    await this.subscriptions.add(client, subs);
    // aedes writes the SUBACK once this resolves: the subscription must be on the card first.
    await this.commit.committed();
  }

  async removeSubscriptions(client: Client, topics: string[]): Promise<void> {
    await this.subscriptions.remove(client, topics);
    await this.commit.committed();
  }

  subscriptionsByClient(client: Client): Promise<StoredSubscription[]> {
    return this.subscriptions.byClient(client);
  }

  subscriptionsByTopic(topic: string): Promise<Array<{ clientId: string; topic: string; qos: number }>> {
    return this.subscriptions.byTopic(topic);
  }

  countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return this.subscriptions.countOffline();
  }

  getClientList(topic: string): Readable {
    return this.subscriptions.clientList(topic);
  }

  /** A clean start, or an ended session: its subscriptions go, and with them the session. */
  async cleanSubscriptions(client: Client): Promise<void> {
    await this.subscriptions.clean(client);
    this.sessions.removed(client.id);
  }

  /** A persistent session's client connected (broker.ts, on aedes's clientReady). */
  sessionConnected(client: Client & { version?: number; clean?: boolean; sessionExpiryInterval?: number }): void {
    if (client.clean !== false) return;
    this.sessions.connected(client.id, client.version ?? 4, this.expiryOf(client));
  }

  /** It left: its session lasts until the expiry (broker.ts, on aedes's clientDisconnect). */
  sessionDisconnected(client: Client & { version?: number; clean?: boolean; sessionExpiryInterval?: number }): void {
    if (client.clean !== false) return;
    this.sessions.disconnected(client.id, client.version ?? 4, this.expiryOf(client), this.options.now());
  }

  private expiryOf(client: { version?: number; sessionExpiryInterval?: number }): number {
    if (client.version === 5) return client.sessionExpiryInterval ?? 0;
    return this.options.sessionExpirySec > 0 ? this.options.sessionExpirySec : NEVER_EXPIRES;
  }

  /** Ends every session whose expiry has passed; returns their client ids. Synchronous: a sweep is one step. */
  expireSessions(isConnected: (clientId: string) => boolean): string[] {
    const ended: string[] = [];
    for (const id of this.sessions.due(this.options.now())) {
      if (isConnected(id)) continue;
      const client = { id };
      // The table at once (clean's synchronous part); the in-memory index does not wait either, and cannot fail.
      this.subscriptions.clean(client).catch(() => undefined);
      this.queues.clear(id);
      this.queues.incomingClear(id);
      this.wills.delete(id);
      this.sessions.removed(id);
      ended.push(id);
    }
    return ended;
  }

  // ---- queued messages ----
  async outgoingEnqueue(sub: { clientId: string; qos?: number }, packet: QueuedPacket): Promise<void> {
    this.queues.enqueue([sub], packet);
  }

  async outgoingEnqueueCombi(subs: Array<{ clientId: string; qos?: number }>, packet: QueuedPacket): Promise<void> {
    this.queues.enqueue(subs, packet);
  }

  async outgoingUpdate(client: Client, packet: QueuedPacket): Promise<void> {
    // Not found: the session's queue dropped it as full, or it went out before it was queued. aedes
    // would close the connection on an error here, for a message it can still deliver.
    this.queues.update(client.id, packet);
  }

  async outgoingClearMessageId(client: Client, packet: { messageId?: number } | number): Promise<QueuedPacket | undefined> {
    const messageId = typeof packet === 'number' ? packet : packet?.messageId;
    return messageId === undefined ? undefined : this.queues.clearMessageId(client.id, messageId);
  }

  outgoingStream(client: Client): Readable {
    return Readable.from(this.queues.queued(client.id));
  }

  // ---- inbound QoS 2 ----
  async incomingStorePacket(client: Client, packet: QueuedPacket): Promise<void> {
    this.queues.incomingStore(client.id, packet);
  }

  async incomingGetPacket(client: Client, packet: { messageId?: number }): Promise<QueuedPacket> {
    const found = this.queues.incomingGet(client.id, packet.messageId ?? -1);
    if (!found) throw new Error('no such packet');
    return found;
  }

  async incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<void> {
    if (!this.queues.incomingDelete(client.id, packet.messageId ?? -1)) throw new Error('no such packet');
  }

  async cleanIncoming(client: Client): Promise<void> {
    this.queues.incomingClear(client.id);
  }

  // ---- wills ----
  async putWill(client: Client & { [WILL_ALLOWED]?: boolean }, packet: QueuedPacket): Promise<Client> {
    packet.brokerId = this.broker?.id;
    packet.clientId = client.id;
    // Only a will the token allowed is kept for after a crash (WILL_ALLOWED, set at CONNECT).
    if (client[WILL_ALLOWED] !== false) this.wills.put(client.id, packet);
    return client;
  }

  async getWill(client: Client): Promise<QueuedPacket | undefined> {
    return this.wills.get(client.id);
  }

  async delWill(client: Client): Promise<QueuedPacket | undefined> {
    return this.wills.delete(client.id);
  }

  streamWill(brokers: Record<string, unknown> = {}): Readable {
    return Readable.from(this.wills.all().filter((w) => !brokers[String(w.brokerId)]));
  }

  async destroy(): Promise<void> {
    this.commit.flush();
  }
}

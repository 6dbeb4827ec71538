// The MQTT 5 pieces of the bridge queue without a network: the properties' wire
// form against mqtt-packet's (the reference encoder), a PUBLISH from an outbox row
// byte for byte, the schema upgrade of an existing queue in place, and the
// per-message outcome of a group commit.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { encode, forwardable, remainingExpirySec, toStored } from '../../src/bridge/messageProperties.js';
import { type DropReason, Outbox, type OutboxOptions, type OutboxRow } from '../../src/bridge/outbox.js';
import { RowPublisher } from '../../src/bridge/rowPublisher.js';
import type { MessageProperties } from '../../src/broker/broker.js';
import { openDatabase } from '../../src/storage/database.js';
import { tempDir } from '../helpers/daemon.js';

const PROPS: MessageProperties = {
  payloadFormatIndicator: true,
  contentType: 'application/json; charset=ütf-8',
  responseTopic: 'reply/here',
  correlationData: Buffer.from([0x00, 0xff, 0x10, 0x80]),
  userProperties: { site: 'north', tag: ['a', 'b', 'c'], ключ: 'значение' },
};

/** Parses one MQTT 5 packet with mqtt-packet. */
function parse(bytes: Buffer): mqttPacket.IPublishPacket {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let packet: mqttPacket.Packet | undefined;
  parser.on('packet', (p: mqttPacket.Packet) => (packet = p));
  parser.on('error', (err: Error) => {
    throw err;
  });
  parser.parse(bytes);
  assert.ok(packet, 'one whole packet');
  return packet as mqttPacket.IPublishPacket;
}

/** A RowPublisher on a stand-in for mqtt.js's client: the bytes it writes. */
function writtenBy(protocolVersion: 4 | 5, rows: OutboxRow[], nowMs: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const client = {
      on: () => client,
      removeListener: () => client,
      messageIdProvider: { allocate: () => 7 },
      stream: { destroyed: false, writable: true, write: (b: Buffer) => (resolve(Buffer.from(b)), true) },
    };
    const publisher = new RowPublisher(client as unknown as MqttClient, protocolVersion).start();
    for (const row of rows) publisher.publish(row, () => undefined, nowMs);
  });
}

const row = (over: Partial<OutboxRow>): OutboxRow => ({
  id: 1,
  topic: 'up/t',
  payload: Buffer.from('{"v":1}'),
  qos: 1,
  retain: false,
  enqueuedAt: 1_000_000,
  properties: undefined,
  expiresAt: undefined,
  ...over,
});

describe('bridge MQTT 5: properties in the queue and on the wire', () => {
  it('encodes the carried properties exactly as mqtt-packet does (MQTT 5.0 section 3.3.2.3)', () => {
    const ours = encode(PROPS)!;
    const reference = mqttPacket.generate(
      { cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false, properties: PROPS },
      { protocolVersion: 5 },
    );
    // No payload: the properties end the packet, after their one-byte Property Length.
    assert.ok(ours.length < 128);
    assert.equal(reference[reference.length - ours.length - 1], ours.length);
    assert.deepEqual(reference.subarray(reference.length - ours.length), ours);
    assert.equal(encode({}), undefined);
    assert.equal(encode({ messageExpiryInterval: 60 }), undefined, 'the expiry is kept apart');
  });

  it('never carries Topic Alias or Subscription Identifier; an expiry of 0 is none', () => {
    assert.deepEqual(forwardable({ topicAlias: 3, subscriptionIdentifier: 9, contentType: 'x', responseTopic: undefined }), { contentType: 'x' });
    assert.equal(forwardable({ topicAlias: 3 }), undefined);
    assert.equal(forwardable(undefined), undefined);
    assert.deepEqual(toStored({ messageExpiryInterval: 0, contentType: 'x' }), { properties: encode({ contentType: 'x' }), expiryIntervalSec: undefined });
    assert.deepEqual(toStored({ messageExpiryInterval: 30 }), { properties: undefined, expiryIntervalSec: 30 });
  });

  it('remaining expiry = interval - whole seconds queued; never above the interval', () => {
    const r = { enqueuedAt: 10_000, expiresAt: 10_000 + 60_000 };
    assert.equal(remainingExpirySec(r, 10_000), 60);
    assert.equal(remainingExpirySec(r, 10_999), 60);
    assert.equal(remainingExpirySec(r, 11_000), 59);
    assert.equal(remainingExpirySec(r, 69_999), 1);
    assert.equal(remainingExpirySec(r, 70_000), 0);
    assert.equal(remainingExpirySec(r, 5_000), 60, 'wall clock stepped back');
  });

  it('writes a row as mqtt-packet would, with the remaining expiry; without properties as before', async () => {
    const properties = encode(PROPS);
    const rows = [row({ properties, expiresAt: 1_000_000 + 90_000 }), row({ id: 2, qos: 0, retain: true }), row({ id: 3, expiresAt: 1_000_000 + 45_000 })];
    const now = 1_000_000 + 30_500; // 30 whole seconds queued
    const publish = (r: OutboxRow, properties?: MessageProperties): Buffer =>
      mqttPacket.generate(
        { cmd: 'publish', topic: r.topic, payload: r.payload, qos: r.qos, messageId: r.qos ? 7 : undefined, dup: false, retain: r.retain, properties },
        { protocolVersion: 5 },
      );
    // mqtt-packet writes properties in the object's key order: the expiry first, as rowPublisher.ts does.
    const first = publish(rows[0], { messageExpiryInterval: 60, ...PROPS });
    const v5 = await writtenBy(5, rows, now);
    assert.deepEqual(v5, Buffer.concat([first, publish(rows[1]), publish(rows[2], { messageExpiryInterval: 15 })]));
    const parsed = parse(first).properties!;
    assert.deepEqual({ ...parsed, userProperties: { ...parsed.userProperties } }, { messageExpiryInterval: 60, ...PROPS });
    // 3.1.1: no properties at all, whatever the row holds.
    const v4 = await writtenBy(4, [rows[0]], now);
    assert.deepEqual(
      v4,
      mqttPacket.generate({ cmd: 'publish', topic: 'up/t', payload: rows[0].payload, qos: 1, messageId: 7, dup: false, retain: false }, { protocolVersion: 4 }),
    );
  });
});

describe('bridge MQTT 5: the queue table and per-message outcomes', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir('edgegate-outbox5-')));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const options = (over: Partial<OutboxOptions> = {}, drops: Array<[DropReason, number]> = []): OutboxOptions => ({
    maxMessages: 1000,
    maxBytes: 1_000_000,
    ttlSec: 0,
    overflow: 'reject-new',
    nowMs: () => 5_000_000,
    commitDelayMs: 0,
    onDrop: (reason, n) => drops.push([reason, n]),
    onCommitted: () => undefined,
    onError: () => undefined,
    ...over,
  });

  it('upgrades a queue of schema 2 in place: rows kept, properties and expiry stored from then on', async () => {
    const file = join(dir, 'edgegate.db');
    const old = openDatabase(file);
    // Exactly what migrations 1 and 2 of outboxTable.ts left behind.
    old.exec(`CREATE TABLE bridge_outbox (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
        qos INTEGER NOT NULL, retain INTEGER NOT NULL, enqueued_at INTEGER NOT NULL);
      INSERT INTO schema_versions (owner, version) VALUES ('bridge', 2);
      INSERT INTO bridge_outbox VALUES (41, 'up/old', x'6f6c64', 1, 0, 4000000)`);
    old.close();
    const db = openDatabase(file);
    try {
      const outbox = new Outbox(db, options());
      assert.equal((db.prepare("SELECT version FROM schema_versions WHERE owner = 'bridge'").get() as { version: number }).version, 3);
      assert.deepEqual(outbox.read(0, 10), [
        { id: 41, topic: 'up/old', payload: Buffer.from('old'), qos: 1, retain: false, enqueuedAt: 4_000_000, properties: undefined, expiresAt: undefined },
      ]);
      const properties = encode(PROPS)!;
      await outbox.enqueue({ topic: 'up/new', payload: Buffer.from('new'), qos: 1, retain: false, properties, expiryIntervalSec: 60 });
      await outbox.enqueue({ topic: 'up/plain', payload: Buffer.from('p'), qos: 1, retain: false });
      const rows = outbox.read(41, 10);
      assert.deepEqual(
        rows.map((r) => [r.id, r.properties, r.expiresAt]),
        [
          [42, properties, 5_000_000 + 60_000],
          [43, undefined, undefined],
        ],
      );
      // The bounds count the stored properties with the payload.
      assert.equal(outbox.bytes, 3 + 3 + properties.length + 1);
      outbox.ack(rows[0]);
      outbox.flush();
      assert.equal(outbox.bytes, 3 + 1);
    } finally {
      db.close();
    }
  });

  it('tells each message of one group commit whether it was stored (reject-new, larger than maxBytes)', async () => {
    const drops: Array<[DropReason, number]> = [];
    const db = openDatabase(join(dir, 'edgegate.db'));
    try {
      const outbox = new Outbox(db, options({ maxMessages: 2, maxBytes: 100 }, drops));
      const m = (payload: string) => ({ topic: 't', payload: Buffer.from(payload), qos: 1 as const, retain: false });
      // One turn: one group commit, one shared promise for enqueue(), an outcome each for the others.
      const outcomes = Promise.all([
        outbox.enqueueWithOutcome(m('a')),
        outbox.enqueueWithOutcome(m('x'.repeat(101))),
        outbox.enqueue(m('b')),
        outbox.enqueueWithOutcome(m('c')),
      ]);
      assert.deepEqual(await outcomes, ['stored', 'rejected', undefined, 'rejected']);
      assert.deepEqual(drops, [['rejected', 2]]);
      assert.equal(outbox.messages, 2);
      // A failed commit rejects every message of its group (room made first: a full queue writes nothing).
      for (const r of outbox.read(0, 10)) outbox.ack(r);
      outbox.flush();
      db.pragma('query_only = ON');
      await assert.rejects(outbox.enqueueWithOutcome(m('d')));
    } finally {
      db.close();
    }
  });

  it('a row whose Message Expiry Interval ran out may no longer be sent: "expired" (the TTL stays "ttl")', async () => {
    const db = openDatabase(join(dir, 'edgegate.db'));
    let now = 5_000_000;
    try {
      const outbox = new Outbox(db, options({ ttlSec: 100, nowMs: () => now }));
      await outbox.enqueue({ topic: 't', payload: Buffer.from('e'), qos: 1, retain: false, expiryIntervalSec: 10 });
      const [r] = outbox.read(0, 1);
      assert.equal(outbox.expiry(r, now + 9_999), undefined);
      assert.equal(outbox.expiry(r, now + 10_000), 'expired');
      assert.equal(outbox.expiry(r, now + 100_000), 'ttl');
      now += 10_000;
      assert.equal(outbox.expiry(r), 'expired');
    } finally {
      db.close();
    }
  });
});

// Sends outbox rows on the uplink's mqtt.js connection without going through
// MqttClient.publish(). mqtt.js keeps every QoS 1 publish in its own in-memory
// outgoing store, builds a packet object, encodes it in several small writes and
// runs its callback chain: on the gateway that was the largest single cost per
// bridged message. The outbox is already the durable store, so here each row is
// encoded straight into one buffer with the rows of the same pump, written once,
// and matched with its PUBACK by packet identifier. mqtt.js still owns the
// connection (CONNECT, keepalive, subscriptions, incoming PUBLISH) and parses the
// PUBACKs; it ignores acknowledgements of identifiers it did not send, and it
// hands out the identifiers used here, so the two never collide.
import type { MqttClient } from 'mqtt';
import type { IPubackPacket, Packet } from 'mqtt-packet';
import { EdgegateError } from '../errors.js';
import type { OutboxRow } from './outboxTable.js';

type Done = (err?: Error) => void;

/** The cloud answered with a refusal (MQTT 5 section 3.4.2.1, reason code 0x80 or above): resending will not help. */
export class CloudRefusal extends EdgegateError {
  constructor(readonly reasonCode: number) {
    super('EDGEGATE_CLOUD_REFUSED', `cloud refused the message (PUBACK reason code 0x${reasonCode.toString(16)})`);
    this.name = 'CloudRefusal';
  }
}

/** Bytes of the Remaining Length field (MQTT 3.1.1 section 2.2.3). */
const lengthBytes = (n: number): number => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

export class RowPublisher {
  /** Rows written and not yet acknowledged, by packet identifier. */
  private readonly pending = new Map<number, Done>();
  private batch: Array<{ row: OutboxRow; topicBytes: number; messageId: number; done: Done }> = [];
  private batchBytes = 0;
  private flushQueued = false;
  private closed = false;
  private readonly onPacket = (packet: Packet): void => {
    if (packet.cmd === 'puback') this.acknowledged(packet);
  };

  constructor(
    private readonly client: MqttClient,
    private readonly protocolVersion: 4 | 5,
  ) {}

  /** Listens for PUBACKs; call once the connection is up. */
  start(): this {
    this.client.on('packetreceive', this.onPacket);
    return this;
  }

  /** The connection is gone: stop listening; pending rows stay in the outbox and are sent again. */
  close(): void {
    this.closed = true;
    this.client.removeListener('packetreceive', this.onPacket);
    const err = new Error('uplink connection closed');
    for (const item of this.batch) item.done(err);
    for (const done of this.pending.values()) done(err);
    this.batch = [];
    this.pending.clear();
  }

  /** The sender's publish function: the row leaves with the others of this turn. */
  readonly publish = (row: OutboxRow, done: Done): void => {
    if (this.closed) return done(new Error('uplink connection closed'));
    const topicBytes = Buffer.byteLength(row.topic);
    const messageId = row.qos === 1 ? this.client.messageIdProvider.allocate() ?? 0 : 0;
    if (row.qos === 1 && messageId === 0) return done(new Error('no packet identifier available'));
    this.batch.push({ row, topicBytes, messageId, done });
    this.batchBytes += packetSize(row, topicBytes, this.protocolVersion);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After the synchronous pump that queued it: every row of that pump in one write.
      process.nextTick(() => this.flush());
    }
  };

  private flush(): void {
    this.flushQueued = false;
    const batch = this.batch;
    if (batch.length === 0 || this.closed) return;
    this.batch = [];
    const out = Buffer.allocUnsafe(this.batchBytes);
    this.batchBytes = 0;
    let at = 0;
    for (const item of batch) at = encodePublish(out, at, item.row, item.topicBytes, item.messageId, this.protocolVersion);
    const stream = this.client.stream;
    if (!stream || stream.destroyed || !stream.writable) {
      const err = new Error('uplink stream not writable');
      for (const item of batch) item.done(err);
      return;
    }
    const qos0: Done[] = [];
    for (const item of batch) {
      if (item.messageId !== 0) this.pending.set(item.messageId, item.done);
      else qos0.push(item.done);
    }
    // A QoS 0 row is done once written, as with MqttClient.publish().
    stream.write(out, qos0.length > 0 ? (err?: Error | null) => qos0.forEach((done) => done(err ?? undefined)) : undefined);
  }

  /** A PUBACK (MQTT 3.1.1 section 3.4; MQTT 5 section 3.4.2.1 adds the reason code). */
  private acknowledged(packet: IPubackPacket): void {
    if (packet.messageId === undefined) return;
    const done = this.pending.get(packet.messageId);
    if (!done) return; // one of mqtt.js's own publishes
    this.pending.delete(packet.messageId);
    // MQTT 5: 0x10 "no matching subscribers" is a success; 0x80 and above refuse the message.
    const rc = packet.reasonCode ?? 0;
    done(rc >= 0x80 ? new CloudRefusal(rc) : undefined);
  }
}

function packetSize(row: OutboxRow, topicBytes: number, protocolVersion: 4 | 5): number {
  const remaining = remainingLength(row, topicBytes, protocolVersion);
  return 1 + lengthBytes(remaining) + remaining;
}

function remainingLength(row: OutboxRow, topicBytes: number, protocolVersion: 4 | 5): number {
  // Topic (length-prefixed), packet identifier at QoS > 0, MQTT 5's empty property list, payload.
  return 2 + topicBytes + (row.qos > 0 ? 2 : 0) + (protocolVersion === 5 ? 1 : 0) + row.payload.length;
}

/** Writes one PUBLISH packet (MQTT 3.1.1 section 3.3, MQTT 5 section 3.3) at `at`; returns the end. */
function encodePublish(out: Buffer, at: number, row: OutboxRow, topicBytes: number, messageId: number, protocolVersion: 4 | 5): number {
  out[at++] = 0x30 | (row.qos << 1) | (row.retain ? 1 : 0);
  let remaining = remainingLength(row, topicBytes, protocolVersion);
  do {
    let byte = remaining % 128;
    remaining = Math.floor(remaining / 128);
    if (remaining > 0) byte |= 0x80;
    out[at++] = byte;
  } while (remaining > 0);
  out.writeUInt16BE(topicBytes, at);
  at += 2;
  at += out.write(row.topic, at, 'utf8');
  if (row.qos > 0) {
    out.writeUInt16BE(messageId, at);
    at += 2;
  }
  if (protocolVersion === 5) out[at++] = 0; // no properties
  at += row.payload.copy(out, at);
  return at;
}

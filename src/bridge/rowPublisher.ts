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
import { MESSAGE_EXPIRY_INTERVAL, remainingExpirySec } from './messageProperties.js';
import type { OutboxRow } from './outboxTable.js';

type Done = (err?: Error) => void;

/** The cloud answered with a refusal (MQTT 5 section 3.4.2.1, reason code 0x80 or above): resending will not help. */
export class CloudRefusal extends EdgegateError {
  constructor(readonly reasonCode: number) {
    super('EDGEGATE_CLOUD_REFUSED', `cloud refused the message (PUBACK reason code 0x${reasonCode.toString(16)})`);
    this.name = 'CloudRefusal';
  }
}

/** Bytes of a Variable Byte Integer: the Remaining Length (MQTT 3.1.1 section 2.2.3), MQTT 5's Property Length (1.5.5). */
const lengthBytes = (n: number): number => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);

export class RowPublisher {
  /** Rows written and not yet acknowledged, by packet identifier. */
  private readonly pending = new Map<number, Done>();
  /** expirySec: the MQTT 5 Message Expiry Interval to send, 0 for none. */
  private batch: Array<{ row: OutboxRow; topicBytes: number; messageId: number; expirySec: number; done: Done }> = [];
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

  /** The sender's publish function: the row leaves with the others of this turn; `nowMs` counts its expiry down. */
  readonly publish = (row: OutboxRow, done: Done, nowMs: number): void => {
    if (this.closed) return done(new Error('uplink connection closed'));
    const topicBytes = Buffer.byteLength(row.topic);
    const messageId = row.qos === 1 ? (this.client.messageIdProvider.allocate() ?? 0) : 0;
    if (row.qos === 1 && messageId === 0) return done(new Error('no packet identifier available'));
    // The sender dropped the row if nothing was left of it, so this is at least 1.
    const expirySec =
      row.expiresAt !== undefined && this.protocolVersion === 5 ? remainingExpirySec({ enqueuedAt: row.enqueuedAt, expiresAt: row.expiresAt }, nowMs) : 0;
    this.batch.push({ row, topicBytes, messageId, expirySec, done });
    this.batchBytes += packetSize(row, topicBytes, expirySec, this.protocolVersion);
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
    for (const item of batch) at = encodePublish(out, at, item, this.protocolVersion);
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
    stream.write(
      out,
      qos0.length > 0
        ? (err?: Error | null) => {
            for (const done of qos0) done(err ?? undefined);
          }
        : undefined,
    );
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

function packetSize(row: OutboxRow, topicBytes: number, expirySec: number, protocolVersion: 4 | 5): number {
  const remaining = remainingLength(row, topicBytes, expirySec, protocolVersion);
  return 1 + lengthBytes(remaining) + remaining;
}

/** MQTT 5 Property Length: the stored properties (never Topic Alias or Subscription Identifier) and the expiry (identifier + 4 bytes). */
function propertyLength(row: OutboxRow, expirySec: number): number {
  return (row.properties?.length ?? 0) + (expirySec > 0 ? 5 : 0);
}

function remainingLength(row: OutboxRow, topicBytes: number, expirySec: number, protocolVersion: 4 | 5): number {
  // Topic (length-prefixed), packet identifier at QoS > 0, MQTT 5's property list (1 byte when empty), payload.
  let properties = 0;
  if (protocolVersion === 5) {
    const n = row.properties === undefined && expirySec === 0 ? 0 : propertyLength(row, expirySec);
    properties = n === 0 ? 1 : lengthBytes(n) + n;
  }
  return 2 + topicBytes + (row.qos > 0 ? 2 : 0) + properties + row.payload.length;
}

/** Writes a Variable Byte Integer (MQTT 5.0 section 1.5.5) at `at`; returns the end. */
function writeVarInt(out: Buffer, at: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out[at++] = byte;
  } while (n > 0);
  return at;
}

/** Writes one PUBLISH packet (MQTT 3.1.1 section 3.3, MQTT 5 section 3.3) at `at`; returns the end. */
function encodePublish(
  out: Buffer,
  at: number,
  item: { row: OutboxRow; topicBytes: number; messageId: number; expirySec: number },
  protocolVersion: 4 | 5,
): number {
  const { row, topicBytes, messageId, expirySec } = item;
  out[at++] = 0x30 | (row.qos << 1) | (row.retain ? 1 : 0);
  at = writeVarInt(out, at, remainingLength(row, topicBytes, expirySec, protocolVersion));
  out.writeUInt16BE(topicBytes, at);
  at += 2;
  at += out.write(row.topic, at, 'utf8');
  if (row.qos > 0) {
    out.writeUInt16BE(messageId, at);
    at += 2;
  }
  if (protocolVersion === 5) {
    if (row.properties === undefined && expirySec === 0)
      out[at++] = 0; // no properties
    else {
      // MQTT 5.0 section 3.3.2.3: Property Length, then the properties (their order is free).
      at = writeVarInt(out, at, propertyLength(row, expirySec));
      if (expirySec > 0) {
        out[at++] = MESSAGE_EXPIRY_INTERVAL;
        at = out.writeUInt32BE(expirySec, at);
      }
      if (row.properties) at += row.properties.copy(out, at);
    }
  }
  at += row.payload.copy(out, at);
  return at;
}

// Local → cloud: the bridge's publish interceptor. It runs before the publisher's
// PUBACK (broker.ts), maps the topic by the out rules, and hands the message to
// the durable outbox (QoS 1, or QoS 0 with queue.qos0) or straight to the uplink
// (QoS 0 while connected). With an MQTT 5 uplink the message's properties go with
// it; an MQTT 5 publisher is told by the PUBACK's reason code when the queue did
// not store its message (MQTT 5.0 section 3.4.2.1), never given 0x00 for it.
import type { MqttClient } from 'mqtt';
import { type PublishInterceptor, type PublishOrigin, PublishRefused } from '../broker/broker.js';
import type { BridgeConfig } from '../config/types.js';
import { isDiskFull } from '../storage/groupCommit.js';
import type { DropLog } from './dropLog.js';
import { forwardable, toStored } from './messageProperties.js';
import type { Outbox, OutboxMessage } from './outbox.js';
import type { TopicRules } from './rules.js';

type PublishPacket = Parameters<PublishInterceptor>[0];

/** The origin source of messages the bridge brings in from the cloud. */
export const BRIDGE_SOURCE = 'bridge';

/** MQTT 5.0 section 2.4: the queue is at its bound (or the message exceeds it). */
const QUOTA_EXCEEDED = 0x97;
/** MQTT 5.0 section 2.4: the queue could not commit the message (disk full, I/O error). */
const UNSPECIFIED_ERROR = 0x80;

export interface IntakeDeps {
  config: BridgeConfig;
  rules: TopicRules;
  outbox: Outbox;
  drops: DropLog;
  /** The uplink while the bridge is connected, else undefined. */
  uplink: () => MqttClient | undefined;
  /** Counts a message sent straight to the cloud. */
  forwarded: () => void;
}

export class LocalIntake {
  private readonly v5Uplink: boolean;

  constructor(private readonly deps: IntakeDeps) {
    this.v5Uplink = deps.config.protocolVersion === 5;
  }

  /** The publish interceptor: map, then queue durably or send. */
  readonly intercept = (packet: PublishPacket, origin: PublishOrigin): Promise<void> | void => {
    if (origin.kind === 'internal' && origin.source === BRIDGE_SOURCE) return; // came from the cloud: never back
    // Even once stopped (the broker stops after the bridge), QoS 1 rows are still
    // committed (synchronously) before the PUBACK, and sent after the next start.
    const { rules, outbox, config } = this.deps;
    const mapped = rules.mapOut(packet.topic);
    if (!mapped) return;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload ?? '');
    const qos: 0 | 1 = Math.min(packet.qos ?? 0, mapped.qos) >= 1 ? 1 : 0;
    // A 3.1.1 uplink has no place for properties: they are dropped here, not stored.
    const properties = this.v5Uplink ? forwardable(packet.properties) : undefined;
    // The publisher's own QoS decides whether it waits for an acknowledgement (not the rule's).
    const told = origin.kind === 'client' && origin.protocolVersion === 5 && (packet.qos ?? 0) > 0;
    if (qos === 1) return this.enqueue(mapped.topic, payload, qos, packet.retain === true, properties, told);
    const uplink = this.deps.uplink();
    if (uplink && (outbox.messages === 0 || !config.queue.qos0)) {
      uplink.publish(mapped.topic, payload, { qos: 0, retain: packet.retain === true, properties });
      this.deps.forwarded();
      return;
    }
    if (config.queue.qos0) return this.enqueue(mapped.topic, payload, qos, packet.retain === true, properties, told);
    this.deps.drops.record('offline', 1, payload.length);
  };

  private enqueue(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean, properties: PublishPacket['properties'], told: boolean): Promise<void> {
    const stored = properties && toStored(properties);
    const message: OutboxMessage = { topic, payload, qos, retain, properties: stored?.properties, expiryIntervalSec: stored?.expiryIntervalSec };
    // 3.1.1 publishers (and wills, internal publishes) share the group commit's one
    // promise: a refused message is acknowledged and counted, as MQTT 3.1.1 has no
    // negative PUBACK. Only an MQTT 5 publisher pays for a promise of its own.
    if (!told) return this.deps.outbox.enqueue(message);
    return this.deps.outbox.enqueueWithOutcome(message).then(
      (outcome) => {
        if (outcome === 'rejected') throw new PublishRefused('bridge queue full', QUOTA_EXCEEDED);
      },
      (err: unknown) => {
        // A full card is a quota (0x97, as for a full queue); anything else an unspecified error.
        if (isDiskFull(err)) throw new PublishRefused('bridge queue could not store the message: the disk is full', QUOTA_EXCEEDED);
        throw new PublishRefused('bridge queue could not store the message', UNSPECIFIED_ERROR);
      },
    );
  }
}

// The types of the publish path that other components see: who published, what
// an interceptor (the bridge queue, the revocation topic) may answer, and the
// MQTT 5 properties a message carries. aedes's own types stay inside src/broker/.
import type { PublishPacket } from 'aedes';
import { EdgegateError } from '../errors.js';

/** Who published: a client (with the MQTT protocol level it connected with: 3, 4 or 5), or the gateway itself. */
export type PublishOrigin = { kind: 'client'; clientId: string; protocolVersion: number } | { kind: 'internal'; source: string };

/**
 * Sees every accepted publish before it is acknowledged and routed: client
 * publishes after the ACL allowed them (so a QoS 1 PUBACK waits for it), and
 * internal ones. A rejection (or throw) refuses the publish. An MQTT 3.1.1
 * client's QoS 1 message is then not acknowledged and its connection closes, so
 * the client sends it again after reconnecting (MQTT 3.1.1 section 4.4); an MQTT 5
 * client gets PUBACK/PUBREC with the error's `reasonCode` (PublishRefused: 0x80
 * when the message could not be stored, 0x97 when a queue refused it as full) and
 * keeps its connection (MQTT 5.0 section 3.4.2.1). publishInternal rejects.
 */
export type PublishInterceptor = (packet: PublishPacket, origin: PublishOrigin) => Promise<void> | void;

/** MQTT 5 publish properties a message carries through the gateway (MQTT 5.0 section 3.3.2.3). */
export type MessageProperties = NonNullable<PublishPacket['properties']>;

export type InternalPacket = Pick<PublishPacket, 'topic' | 'payload'> & Partial<Pick<PublishPacket, 'qos' | 'retain' | 'properties'>>;

/** An interceptor's refusal with the MQTT 5 reason code the publisher gets (MQTT 5.0 section 2.4). */
export class PublishRefused extends EdgegateError {
  constructor(
    message: string,
    /** 0x80 Unspecified error, 0x97 Quota exceeded, ... */
    readonly reasonCode: number,
  ) {
    super('EDGEGATE_PUBLISH_REFUSED', message);
    this.name = 'PublishRefused';
  }
}

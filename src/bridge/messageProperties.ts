// The MQTT 5 PUBLISH properties a message carries across the bridge (MQTT 5.0
// section 3.3.2.3). Up, a queued message keeps them in its outbox row as the
// bytes they take on the wire (identifier + value each, MQTT 5.0 section 2.2.2.2),
// so rowPublisher.ts copies them into the PUBLISH as they are; only the Message
// Expiry Interval is kept apart, as an absolute time, because what is sent is
// what remains of it (section 3.3.2.3.3). Topic Alias (3.3.2.3.4) and
// Subscription Identifier (3.3.2.3.8) belong to one connection and never cross.
import type { MessageProperties } from '../broker/broker.js';

/** Property identifiers (MQTT 5.0 section 2.2.2.2). */
const PAYLOAD_FORMAT_INDICATOR = 0x01;
export const MESSAGE_EXPIRY_INTERVAL = 0x02;
const CONTENT_TYPE = 0x03;
const RESPONSE_TOPIC = 0x08;
const CORRELATION_DATA = 0x09;
const USER_PROPERTY = 0x26;

/** A two-byte length prefix bounds strings and binary data (MQTT 5.0 sections 1.5.4, 1.5.6). */
const MAX_FIELD = 0xffff;

/** What an outbox row takes of a message's properties. */
export interface StoredProperties {
  /** The wire bytes of the carried properties except the expiry (no Property Length); undefined when none. */
  properties?: Buffer;
  /** The Message Expiry Interval in seconds; undefined when it has none. */
  expiryIntervalSec?: number;
}

/**
 * The properties that may cross to the other side, or undefined when none:
 * everything but Topic Alias and Subscription Identifier (and unset keys: aedes
 * sets a resolved alias to undefined rather than deleting it).
 */
export function forwardable(props: MessageProperties | undefined): MessageProperties | undefined {
  if (!props) return undefined;
  let out: MessageProperties | undefined;
  for (const key of Object.keys(props) as Array<keyof MessageProperties>) {
    if (key === 'topicAlias' || key === 'subscriptionIdentifier' || props[key] === undefined) continue;
    (out ??= {})[key] = props[key] as never;
  }
  return out;
}

/**
 * The row's share of a message's properties. An interval of 0 is read as "no
 * expiry", as Mosquitto reads it (read literally, it would drop the message
 * before any delivery could start).
 */
export function toStored(props: MessageProperties | undefined): StoredProperties | undefined {
  if (!props) return undefined;
  const interval = props.messageExpiryInterval;
  const expiryIntervalSec = typeof interval === 'number' && interval > 0 ? interval : undefined;
  const properties = encode(props);
  return properties || expiryIntervalSec !== undefined ? { properties, expiryIntervalSec } : undefined;
}

/** Encodes the carried properties (all but the expiry) in their wire form, or undefined when there are none. */
export function encode(props: MessageProperties): Buffer | undefined {
  const fields: Array<[id: number, value: Buffer | number]> = [];
  const utf8 = (s: unknown): Buffer => Buffer.from(String(s), 'utf8');
  if (props.payloadFormatIndicator !== undefined) fields.push([PAYLOAD_FORMAT_INDICATOR, props.payloadFormatIndicator ? 1 : 0]);
  if (props.contentType !== undefined) fields.push([CONTENT_TYPE, utf8(props.contentType)]);
  if (props.responseTopic !== undefined) fields.push([RESPONSE_TOPIC, utf8(props.responseTopic)]);
  if (props.correlationData !== undefined) {
    const data = props.correlationData as Buffer | string;
    fields.push([CORRELATION_DATA, Buffer.isBuffer(data) ? data : utf8(data)]);
  }
  let size = 0;
  for (const [, value] of fields) size += 1 + (typeof value === 'number' ? 1 : 2 + value.length);
  // User properties keep their order (MQTT 5.0 section 3.3.2.3.7); a repeated name
  // comes from mqtt-packet as an array of its values, in order.
  const pairs: Array<[Buffer, Buffer]> = [];
  for (const [name, values] of Object.entries(props.userProperties ?? {})) {
    for (const value of Array.isArray(values) ? values : [values]) {
      const pair: [Buffer, Buffer] = [utf8(name), utf8(value)];
      pairs.push(pair);
      size += 1 + 2 + pair[0].length + 2 + pair[1].length;
    }
  }
  if (size === 0) return undefined;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const field = (b: Buffer): void => {
    if (b.length > MAX_FIELD) throw new RangeError(`an MQTT 5 property value of ${b.length} bytes does not fit its 2-byte length`);
    at = out.writeUInt16BE(b.length, at);
    at += b.copy(out, at);
  };
  for (const [id, value] of fields) {
    out[at++] = id;
    if (typeof value === 'number') out[at++] = value;
    else field(value);
  }
  for (const [name, value] of pairs) {
    out[at++] = USER_PROPERTY;
    field(name);
    field(value);
  }
  return out;
}

/**
 * Whole seconds of the Message Expiry Interval left at `nowMs`: the interval minus
 * the whole seconds spent queued (MQTT 5.0 section 3.3.2.3.3), never more than the
 * interval itself (were the wall clock stepped back); 0 or less means expired.
 */
export function remainingExpirySec(row: { enqueuedAt: number; expiresAt: number }, nowMs: number): number {
  return Math.min(Math.ceil((row.expiresAt - nowMs) / 1000), Math.round((row.expiresAt - row.enqueuedAt) / 1000));
}

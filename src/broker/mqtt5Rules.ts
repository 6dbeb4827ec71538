// What an MQTT 5 client may put in a packet, for the packet guard (packetGuard.ts,
// packetFields.ts, mqtt5Properties.ts), checked on raw bytes before the parser
// (mqtt-packet 9) sees them. mqtt-packet does not enforce these: a property given
// twice becomes an array (a Session Expiry Interval [a, b] then arms a NaN timer in
// aedes and crashes the process), a string running past the packet becomes null
// (aedes and edgegate's hooks then throw, or the message is forwarded and cannot be
// encoded for MQTT 5 subscribers), a DISCONNECT or AUTH of remaining length 0 or 1
// takes its properties from the next packet's bytes, and properties of other packets
// or out-of-range values are passed on (paho-mqtt, Home Assistant's library, raises
// on a property it gets twice). MQTT 5.0 section 4.13: a Malformed Packet or a
// Protocol Error closes the connection, after a DISCONNECT with reason code 0x81 or
// 0x82 once the CONNACK is out (listeners.ts). Only MQTT 5 connections are held to
// these rules; MQTT 3.1.1 ones see exactly what they always saw.

/** Stable reason codes (also the `reason` label of edgegate_packets_rejected_total). */
export type PacketRejectReason =
  | 'not_connect'
  | 'malformed_length'
  | 'too_large'
  | 'invalid_utf8'
  /** MQTT 5: a properties block that cannot be read, or a property the packet may not carry (0x81 Malformed Packet). */
  | 'malformed_properties'
  /** MQTT 5: a fixed header or body outside the properties that breaks the packet's layout (0x81 Malformed Packet). */
  | 'malformed_packet'
  /** MQTT 5: a well-formed packet the spec forbids: a property twice, a value out of range, packet id 0, a packet after DISCONNECT (0x82 Protocol Error). */
  | 'protocol_error';

/** Which rule an MQTT 5 packet broke (what a test or a log line may name; never content). */
export type Mqtt5Rule =
  /**
   * The properties length, a value or a string runs past the block or the packet, or a Variable Byte Integer is
   * not minimal (MQTT 5.0 sections 1.5.5, 2.2.2).
   */
  | 'unreadable_properties'
  /** An identifier MQTT 5.0 table 2-4 does not define (section 2.2.2.2: Malformed Packet). */
  | 'unknown_property'
  /** An identifier table 2-4 does not list for this packet (section 2.2.2.2: Malformed Packet). */
  | 'property_not_allowed'
  /** Any property but User Property given twice (section 2.2.2.2 and each packet's property list: Protocol Error). */
  | 'duplicate_property'
  /** A value outside the range the spec fixes (see VALUE_RULE; Protocol Error). */
  | 'value_out_of_range'
  /**
   * What only the server sends: a Subscription Identifier in a PUBLISH [MQTT-3.3.4-6], an AUTH of remaining length
   * 0 (Success, section 3.15.2.1) (Protocol Error).
   */
  | 'client_must_not_send'
  /** A packet after the client's DISCONNECT [MQTT-3.14.4-1] (Protocol Error). */
  | 'after_disconnect'
  /** Will QoS 3 (section 3.1.2.6: Malformed Packet). */
  | 'will_qos_3'
  /** PUBLISH QoS 3 [MQTT-3.3.1-4] (Malformed Packet). */
  | 'qos_3'
  /** DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]; invalid fixed header flags are a Malformed Packet (section 2.1.3). */
  | 'dup_on_qos_0'
  /** Packet Identifier 0 in a PUBLISH (QoS > 0), SUBSCRIBE or UNSUBSCRIBE [MQTT-2.2.1-3] (Protocol Error). */
  | 'packet_id_0'
  /** The body ends before its packet identifier or its properties length (an AUTH's: section 3.15.2.2.1) (Malformed Packet). */
  | 'truncated'
  /** A PINGREQ with a remaining length above 0 (section 3.12: no variable header, no payload). */
  | 'pingreq_body'
  /** Bytes after the properties of a PUBACK..PUBCOMP, DISCONNECT or AUTH, which have no payload (sections 3.4.3 .. 3.15.3). */
  | 'trailing_bytes';

/** A rule broken by an MQTT 5 packet; `property` is the identifier concerned, if any. */
export interface Mqtt5Fault {
  reason: 'malformed_properties' | 'malformed_packet' | 'protocol_error';
  rule: Mqtt5Rule;
  property?: number;
}

const PROTOCOL_ERRORS: ReadonlySet<Mqtt5Rule> = new Set([
  'duplicate_property',
  'value_out_of_range',
  'client_must_not_send',
  'after_disconnect',
  'packet_id_0',
]);
const PROPERTY_RULES: ReadonlySet<Mqtt5Rule> = new Set(['unreadable_properties', 'unknown_property', 'property_not_allowed']);

/** The fault for `rule` (allocated only when a packet is refused). */
export function fault(rule: Mqtt5Rule, property?: number): Mqtt5Fault {
  const reason = PROTOCOL_ERRORS.has(rule) ? 'protocol_error' : PROPERTY_RULES.has(rule) ? 'malformed_properties' : 'malformed_packet';
  return property === undefined ? { reason, rule } : { reason, rule, property };
}

// Where a properties block sits: one bit per block a client sends (MQTT 5.0 table 2-4's
// packet columns; CONNACK, SUBACK and UNSUBACK properties are the server's).
export const IN_CONNECT = 1;
export const IN_WILL = 2;
export const IN_PUBLISH = 4;
/** PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4.2.2 .. 3.7.2.2). */
export const IN_ACK = 8;
export const IN_SUBSCRIBE = 16;
export const IN_UNSUBSCRIBE = 32;
export const IN_DISCONNECT = 64;
export const IN_AUTH = 128;

/**
 * The blocks a client may put each identifier in (MQTT 5.0 table 2-4). A Subscription
 * Identifier is listed for PUBLISH but only the server may send it there
 * [MQTT-3.3.4-6]: it is in CLIENT_MUST_NOT_SEND instead. Server Reference stays
 * allowed in a client's DISCONNECT: the table lists it and nothing forbids it.
 */
export const ALLOWED_IN = new Uint8Array(0x80);
/** Identifiers table 2-4 lists for a block but a client must never send there (a Protocol Error, not a Malformed Packet). */
export const CLIENT_MUST_NOT_SEND = new Uint8Array(0x80);
const allow = (id: number, where: number): void => void (ALLOWED_IN[id] = where);
allow(0x01, IN_PUBLISH | IN_WILL); // Payload Format Indicator
allow(0x02, IN_PUBLISH | IN_WILL); // Message Expiry Interval
allow(0x03, IN_PUBLISH | IN_WILL); // Content Type
allow(0x08, IN_PUBLISH | IN_WILL); // Response Topic
allow(0x09, IN_PUBLISH | IN_WILL); // Correlation Data
allow(0x0b, IN_SUBSCRIBE); // Subscription Identifier
CLIENT_MUST_NOT_SEND[0x0b] = IN_PUBLISH;
allow(0x11, IN_CONNECT | IN_DISCONNECT); // Session Expiry Interval
allow(0x15, IN_CONNECT | IN_AUTH); // Authentication Method
allow(0x16, IN_CONNECT | IN_AUTH); // Authentication Data
allow(0x17, IN_CONNECT); // Request Problem Information
allow(0x18, IN_WILL); // Will Delay Interval
allow(0x19, IN_CONNECT); // Request Response Information
allow(0x1c, IN_DISCONNECT); // Server Reference
allow(0x1f, IN_ACK | IN_DISCONNECT | IN_AUTH); // Reason String
allow(0x21, IN_CONNECT); // Receive Maximum
allow(0x22, IN_CONNECT); // Topic Alias Maximum
allow(0x23, IN_PUBLISH); // Topic Alias
allow(0x26, 0xff); // User Property: every block, any number of times
allow(0x27, IN_CONNECT); // Maximum Packet Size
// 0x12, 0x13, 0x1a, 0x24, 0x25, 0x28, 0x29, 0x2a: CONNACK (and DISCONNECT from the server) only.

/**
 * Value rules by identifier (0: any value). Only ranges the spec fixes and makes a
 * Protocol Error: Payload Format Indicator 0/1 (3.3.2.3.2, 3.1.3.2.3), Request
 * Problem / Response Information 0/1 (3.1.2.11.7, 3.1.2.11.6), Maximum Packet Size
 * above 0 (3.1.2.11.4), Subscription Identifier 1..268,435,455 (3.8.2.1.2; the
 * upper bound is the largest Variable Byte Integer). Left to aedes, which answers
 * with a more telling code: Receive Maximum 0 (CONNACK 0x82, 3.1.2.11.3) and Topic
 * Alias 0 or above the maximum (DISCONNECT 0x94, 3.3.2.3.4). Session Expiry, Will
 * Delay, Message Expiry, Topic Alias Maximum: any value.
 */
export const VALUE_RULE = new Uint8Array(0x80);
export const ZERO_OR_ONE = 1;
export const NOT_ZERO = 2;
for (const id of [0x01, 0x17, 0x19]) VALUE_RULE[id] = ZERO_OR_ONE;
for (const id of [0x27, 0x0b]) VALUE_RULE[id] = NOT_ZERO;

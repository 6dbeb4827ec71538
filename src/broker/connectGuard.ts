// Bounds on the first packet of a new connection, before aedes buffers it: the
// parser (mqtt-packet) would otherwise keep reading a packet whose remaining
// length claims up to 256 MB from a client nobody has authenticated, which on a
// 512 MB gateway is an easy way to exhaust memory. The streaming check that
// applies them (to every packet, the first one included) is in packetGuard.ts.

/**
 * The largest CONNECT that MQTT 3.1.1 allows (section 3.1): a 10-byte variable
 * header and at most five length-prefixed fields (client id, will topic, will
 * message, username, password) of at most 65,535 bytes each.
 */
export const MAX_CONNECT_REMAINING_LENGTH = 10 + 5 * (2 + 65_535);

/**
 * The largest properties block the gateway accepts in an MQTT 5 CONNECT: 64 KiB
 * of properties and the 3-byte Variable Byte Integer that gives their length
 * (MQTT 5.0 sections 2.2.2.1, 1.5.5). MQTT 5 itself bounds a block only by the
 * packet (up to 256 MB); 64 KiB holds an Authentication Method and Data (a JWT of
 * up to 65,535 bytes: Binary Data, section 1.5.6) or plenty of User Properties.
 */
export const MAX_CONNECT_PROPERTIES_BLOCK = 3 + 65_536;

/**
 * The largest MQTT 5 CONNECT the gateway accepts (458,773 bytes of remaining
 * length): the 3.1.1 bound (the same 10-byte variable header and five
 * length-prefixed fields, sections 3.1.2 and 3.1.3) plus two properties blocks,
 * the CONNECT properties (section 3.1.2.11) and the will properties (section
 * 3.1.3.2). Only the total is bounded: how a client spreads it over the fields is
 * the parser's and aedes's business. Still well below what a 512 MB gateway can
 * buffer for a client nobody has authenticated yet.
 */
export const MAX_CONNECT_V5_REMAINING_LENGTH = MAX_CONNECT_REMAINING_LENGTH + 2 * MAX_CONNECT_PROPERTIES_BLOCK;

/**
 * The bound on the first packet's remaining length (never above broker.maxPacketBytes,
 * `maxRemainingLength`), for a CONNECT of protocol `level` (0: not known yet).
 * Only a CONNECT that shows protocol level 5 gets the MQTT 5 bound; every other
 * one, MQTT 3.1 and 3.1.1 (levels 3, 4) included, exactly the 3.1.1 bound.
 */
export function connectLimit(level: number, maxRemainingLength: number): number {
  return Math.min(level === 5 ? MAX_CONNECT_V5_REMAINING_LENGTH : MAX_CONNECT_REMAINING_LENGTH, maxRemainingLength);
}

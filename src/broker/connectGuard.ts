// A cheap check of the first packet on a new connection, before aedes buffers
// it: the parser (mqtt-packet) would otherwise keep reading a packet whose
// remaining length claims up to 256 MB from a client nobody has authenticated,
// which on a 512 MB gateway is an easy way to exhaust memory. The streaming
// check of every packet (first one included) is in packetGuard.ts.

/**
 * The largest CONNECT that MQTT 3.1.1 allows (section 3.1): a 10-byte variable
 * header and at most five length-prefixed fields (client id, will topic, will
 * message, username, password) of at most 65,535 bytes each.
 */
export const MAX_CONNECT_REMAINING_LENGTH = 10 + 5 * (2 + 65_535);

export type FirstPacketVerdict = 'ok' | 'need-more' | 'not-connect' | 'bad-length' | 'too-large';

/** Judges the first bytes a client sent (MQTT 3.1.1 sections 2.2.3 and 3.1.4). */
export function judgeFirstPacket(head: Buffer): FirstPacketVerdict {
  if (head.length === 0) return 'need-more';
  if (head[0] !== 0x10) return 'not-connect'; // CONNECT, flags 0 (section 3.1.1)
  let length = 0;
  for (let i = 1; i <= 4; i++) {
    if (i >= head.length) return 'need-more';
    const byte = head[i]!;
    length += (byte & 0x7f) * 128 ** (i - 1);
    if ((byte & 0x80) === 0) return length > MAX_CONNECT_REMAINING_LENGTH ? 'too-large' : 'ok';
  }
  return 'bad-length'; // a fifth continuation byte is malformed (section 2.2.3)
}

// Whether a message fits the Maximum Packet Size an MQTT 5 client announced in its
// CONNECT (MQTT 5.0 section 3.1.2.11.4): the server must not send it a larger
// packet and discards such a message instead [MQTT-3.1.2-25]. Run for every
// message to a client that set the property, so a message with properties is
// encoded (to know its exact size) only when the size without them fits.
import mqttPacket from 'mqtt-packet';

/** Bytes a PUBLISH may gain on the way out: a Subscription Identifier (1 + up to 4) and a longer properties length. */
const OUTBOUND_SLACK = 6;

interface Message {
  topic: string;
  payload: Buffer | string;
  qos: number;
  retain?: boolean;
  properties?: Record<string, unknown>;
}

/** Bytes of a Variable Byte Integer (MQTT 5.0 section 1.5.5). */
function vbiBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

export function fitsClientMaximum(packet: Message, maximumPacketSize: number): boolean {
  const payloadBytes = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
  // Section 3.3: topic (2 + bytes), packet id for QoS > 0, properties length (0 here), payload.
  const remaining = 2 + Buffer.byteLength(packet.topic) + (packet.qos > 0 ? 2 : 0) + 1 + payloadBytes;
  if (1 + vbiBytes(remaining) + remaining + OUTBOUND_SLACK > maximumPacketSize) return false;
  if (!packet.properties) return true;
  const encoded = mqttPacket.generate(
    {
      cmd: 'publish',
      topic: packet.topic,
      payload: packet.payload,
      qos: packet.qos as 0 | 1 | 2,
      retain: packet.retain === true,
      dup: false,
      messageId: packet.qos > 0 ? 1 : undefined,
      properties: packet.properties,
    },
    { protocolVersion: 5 },
  );
  return encoded.length + OUTBOUND_SLACK <= maximumPacketSize;
}

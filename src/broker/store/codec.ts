// Packets as rows: the payload in a BLOB column (never base64 in JSON: SD writes),
// everything else as JSON, Buffers inside MQTT 5 properties (correlation data,
// authentication data) tagged so they come back as Buffers.
/** A packet as aedes hands it to its persistence (aedes-packet fields). */
export interface StoredPacket {
  cmd?: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  dup?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  properties?: Record<string, unknown>;
  messageExpiry?: number;
  [key: string]: unknown;
}

const BUFFER_TAG = '$base64';

/**
 * The fields of a packet worth keeping, as aedes-packet copies them (a stored
 * copy must not carry a parser's `length` or anything a caller attached).
 */
export function normalizePacket(p: StoredPacket): StoredPacket {
  const out: StoredPacket = { cmd: p.cmd ?? 'publish' };
  for (const key of ['clientId', 'nl', 'properties', 'messageExpiry'] as const) if (Object.hasOwn(p, key)) (out as Record<string, unknown>)[key] = p[key];
  out.brokerId = p.brokerId;
  out.brokerCounter = p.brokerCounter ?? 0;
  out.topic = p.topic;
  out.payload = p.payload ?? Buffer.alloc(0);
  out.qos = p.qos ?? 0;
  out.retain = p.retain ?? false;
  out.dup = p.dup ?? false;
  out.messageId = p.messageId;
  return out;
}

function replacer(this: unknown, _key: string, value: unknown): unknown {
  // JSON.stringify hands Buffer.toJSON()'s result here; keep the bytes compact and tagged.
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { [BUFFER_TAG]: Buffer.from((value as { data: number[] }).data).toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && typeof (value as Record<string, unknown>)[BUFFER_TAG] === 'string') {
    return Buffer.from((value as Record<string, string>)[BUFFER_TAG]!, 'base64');
  }
  return value;
}

/** The packet without its payload, as JSON; the payload as its own column. */
/** Marks a payload given as a string (aedes's API allows it): it comes back as one. */
const STRING_PAYLOAD = '$stringPayload';

export function encodePacket(packet: StoredPacket): { json: string; payload: Buffer | null } {
  const { payload, ...rest } = packet;
  if (typeof payload === 'string') (rest as Record<string, unknown>)[STRING_PAYLOAD] = true;
  // JSON drops undefined fields.
  return { json: JSON.stringify(rest, replacer), payload: payload === undefined ? null : typeof payload === 'string' ? Buffer.from(payload) : payload };
}

export function decodePacket(json: string, payload: Buffer | null): StoredPacket {
  const packet = JSON.parse(json, reviver) as StoredPacket;
  const asString = packet[STRING_PAYLOAD] === true;
  delete packet[STRING_PAYLOAD];
  if (payload !== null) packet.payload = asString ? payload.toString('utf8') : payload;
  return packet;
}

export function encodeProperties(properties: unknown): string | null {
  return properties === undefined || properties === null ? null : JSON.stringify(properties, replacer);
}

export function decodeProperties(text: string | null): Record<string, unknown> | undefined {
  return text === null ? undefined : (JSON.parse(text, reviver) as Record<string, unknown>);
}

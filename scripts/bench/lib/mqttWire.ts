// Minimal MQTT 3.1.1 and 5.0 wire helpers for load generation: a raw CONNECT packet
// and CONNACK parsing. Far lighter than a full client, so on a small machine the
// load generator does not steal the CPU the server under test needs.

/** MQTT variable-length "remaining length" (MQTT 3.1.1 section 2.2.3). */
export function encodeRemainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

function utf8Field(s: string | Buffer): Buffer {
  const body = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
}

/** MQTT 5 CONNECT properties the benchmarks send (MQTT 5.0 section 3.1.2.11). */
export interface ConnectProperties5 {
  /** 0x11 Session Expiry Interval, seconds (absent: 0). */
  sessionExpiryIntervalSec?: number;
  /** 0x15 Authentication Method (enhanced authentication, section 4.12), e.g. "JWT". */
  authenticationMethod?: string;
  /** 0x16 Authentication Data, e.g. the token. */
  authenticationData?: string | Buffer;
}

export interface ConnectFields {
  clientId: string;
  username?: string;
  password?: string | Buffer;
  keepaliveSec?: number;
  cleanSession?: boolean;
  /** Protocol level: 4 = MQTT 3.1.1 (default), 5 = MQTT 5.0 (the CONNECT then carries properties). */
  protocolVersion?: 4 | 5;
  /** MQTT 5 only; none: a property length of 0. */
  properties?: ConnectProperties5;
}

function connectProperties(p: ConnectProperties5 = {}): Buffer {
  const parts: Buffer[] = [];
  if (p.sessionExpiryIntervalSec !== undefined) {
    const b = Buffer.alloc(5);
    b[0] = 0x11;
    b.writeUInt32BE(p.sessionExpiryIntervalSec, 1);
    parts.push(b);
  }
  if (p.authenticationMethod !== undefined) parts.push(Buffer.from([0x15]), utf8Field(p.authenticationMethod));
  if (p.authenticationData !== undefined) parts.push(Buffer.from([0x16]), utf8Field(Buffer.from(p.authenticationData)));
  const body = Buffer.concat(parts);
  return Buffer.concat([encodeRemainingLength(body.length), body]);
}

/**
 * A CONNECT packet (section 3.1; MQTT 5.0 section 3.1 with `protocolVersion: 5`).
 * A password without a username is allowed on the wire for fault tests (MQTT 5
 * allows it anyway).
 */
export function connectPacket(f: ConnectFields): Buffer {
  const level = f.protocolVersion ?? 4;
  let flags = f.cleanSession === false ? 0 : 0x02;
  if (f.username !== undefined) flags |= 0x80;
  if (f.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(f.keepaliveSec ?? 0);
  const variable = Buffer.concat([utf8Field('MQTT'), Buffer.from([level, flags]), keepalive, ...(level === 5 ? [connectProperties(f.properties)] : [])]);
  const payload = Buffer.concat([
    utf8Field(f.clientId),
    ...(f.username !== undefined ? [utf8Field(f.username)] : []),
    ...(f.password !== undefined ? [utf8Field(f.password)] : []),
  ]);
  const body = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(body.length), body]);
}

/** The remaining length at `offset` and the bytes it took, or undefined while incomplete (or malformed). */
export function decodeRemainingLength(data: Buffer, offset = 1): { value: number; bytes: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= data.length) return undefined;
    const b = data[offset + i]!;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) return { value, bytes: i + 1 };
  }
  return undefined;
}

/** The whole first packet of `data` (fixed header included), or undefined while it is incomplete. */
export function firstPacket(data: Buffer): Buffer | undefined {
  const rl = decodeRemainingLength(data);
  if (!rl || data.length < 1 + rl.bytes + rl.value) return undefined;
  return data.subarray(0, 1 + rl.bytes + rl.value);
}

/**
 * The CONNACK return code (3.1.1) or reason code (5.0) if `data` starts with a
 * complete CONNACK (section 3.2; a 5.0 CONNACK carries properties after the
 * code, so its remaining length is more than 2), else undefined.
 */
export function connackCode(data: Buffer): number | undefined {
  if (data.length < 4 || data[0] !== 0x20) return undefined;
  const packet = firstPacket(data);
  if (!packet) return undefined;
  const start = packet.length - decodeRemainingLength(packet)!.value;
  return packet.length >= start + 2 ? packet[start + 1] : undefined;
}

/**
 * The properties of an MQTT 5 CONNACK (MQTT 5.0 section 3.2.2.3), by identifier:
 * numbers for the integer ones, strings for UTF-8 strings, Buffers for binary
 * data; user properties are skipped. Undefined if `connack` is not a complete 5.0 CONNACK.
 */
export function connackProperties(connack: Buffer): Map<number, number | string | Buffer> | undefined {
  const packet = firstPacket(connack);
  if (packet?.[0] !== 0x20) return undefined;
  const rl = decodeRemainingLength(packet)!;
  let at = 1 + rl.bytes + 2;
  const len = decodeRemainingLength(packet, at);
  if (!len) return undefined;
  at += len.bytes;
  const end = at + len.value;
  const props = new Map<number, number | string | Buffer>();
  const u16 = (): number => ((at += 2), packet.readUInt16BE(at - 2));
  const bytes = (): Buffer => {
    const n = u16();
    return ((at += n), packet.subarray(at - n, at));
  };
  while (at < end) {
    const id = packet[at++]!;
    if ([0x24, 0x25, 0x28, 0x29, 0x2a].includes(id)) props.set(id, packet[at++]!);
    else if ([0x13, 0x21, 0x22].includes(id)) props.set(id, u16());
    else if ([0x11, 0x27].includes(id)) props.set(id, ((at += 4), packet.readUInt32BE(at - 4)));
    else if ([0x12, 0x15, 0x1a, 0x1c, 0x1f].includes(id)) props.set(id, bytes().toString('utf8'));
    else if (id === 0x16) props.set(id, Buffer.from(bytes()));
    else if (id === 0x26) bytes(), bytes();
    else return undefined;
  }
  return props;
}

/** A SUBSCRIBE packet for one filter (section 3.8; fixed header flags 0b0010). */
export function subscribePacket(packetId: number, filter: string, qos: 0 | 1 | 2): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  const body = Buffer.concat([id, utf8Field(filter), Buffer.from([qos])]);
  return Buffer.concat([Buffer.from([0x82]), encodeRemainingLength(body.length), body]);
}

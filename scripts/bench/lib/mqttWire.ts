// Minimal MQTT 3.1.1 wire helpers for load generation: a raw CONNECT packet and
// CONNACK parsing. Far lighter than a full client, so on a small machine the
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

export interface ConnectFields {
  clientId: string;
  username?: string;
  password?: string | Buffer;
  keepaliveSec?: number;
  cleanSession?: boolean;
}

/** A CONNECT packet (section 3.1). A password without a username is allowed on the wire for fault tests. */
export function connectPacket(f: ConnectFields): Buffer {
  let flags = f.cleanSession === false ? 0 : 0x02;
  if (f.username !== undefined) flags |= 0x80;
  if (f.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(f.keepaliveSec ?? 0);
  const variable = Buffer.concat([utf8Field('MQTT'), Buffer.from([4, flags]), keepalive]);
  const payload = Buffer.concat([
    utf8Field(f.clientId),
    ...(f.username !== undefined ? [utf8Field(f.username)] : []),
    ...(f.password !== undefined ? [utf8Field(f.password)] : []),
  ]);
  const body = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(body.length), body]);
}

/** The CONNACK return code if `data` starts with a CONNACK (section 3.2), else undefined. */
export function connackCode(data: Buffer): number | undefined {
  if (data.length >= 4 && data[0] === 0x20 && data[1] === 0x02) return data[3];
  return undefined;
}

/** A SUBSCRIBE packet for one filter (section 3.8; fixed header flags 0b0010). */
export function subscribePacket(packetId: number, filter: string, qos: 0 | 1 | 2): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  const body = Buffer.concat([id, utf8Field(filter), Buffer.from([qos])]);
  return Buffer.concat([Buffer.from([0x82]), encodeRemainingLength(body.length), body]);
}

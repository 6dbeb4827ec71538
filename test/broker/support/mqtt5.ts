// MQTT 5 clients for the broker suites: mqtt.js with protocolVersion 5 (its CONNACK,
// PUBACK and DISCONNECT reason codes), and a raw client speaking mqtt-packet's v5
// encoding for what mqtt.js will not send (AUTH, bad aliases, odd properties).

import { type Socket, connect as tcpConnect } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';

export interface V5Outcome {
  client?: MqttClient;
  /** CONNACK reason code (0 = success). */
  reasonCode: number;
  properties?: Record<string, unknown>;
}

/** mqtt.js over MQTT 5, once (no reconnect): the CONNACK reason code and properties. */
export function connect5(port: number, opts: IClientOptions = {}): Promise<V5Outcome> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({ host: '127.0.0.1', port, protocol: 'mqtt', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5, ...opts });
    const timer = setTimeout(() => (client.end(true), reject(new Error('no CONNACK within 5 s'))), 5000);
    client.once('connect', (connack) => {
      clearTimeout(timer);
      resolve({ client, reasonCode: connack.reasonCode ?? 0, properties: connack.properties as Record<string, unknown> | undefined });
    });
    client.once('error', (err: Error & { code?: number }) => {
      clearTimeout(timer);
      client.end(true);
      if (typeof err.code === 'number') resolve({ reasonCode: err.code });
      else reject(err);
    });
  });
}

export async function connect5Ok(port: number, opts: IClientOptions = {}): Promise<MqttClient & { connack: Record<string, unknown> }> {
  const out = await connect5(port, opts);
  if (!out.client) throw new Error(`MQTT 5 connection refused with CONNACK 0x${out.reasonCode.toString(16)}`);
  return Object.assign(out.client, { connack: out.properties ?? {} });
}

/** Resolves with the server's DISCONNECT reason code, or null when the connection closed without one. */
export function serverDisconnect(client: MqttClient, ms = 5000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    let code: number | null = null;
    const t = setTimeout(() => reject(new Error('still connected')), ms);
    client.once('disconnect', (packet) => (code = packet.reasonCode ?? 0));
    client.once('close', () => (clearTimeout(t), resolve(code)));
  });
}

/** PUBLISH and resolve with the PUBACK/PUBREC reason code (0 on success) and its Reason String, read from the packet itself. */
export function publish5(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  opts: Parameters<MqttClient['publish']>[2] = {},
): Promise<{ reasonCode: number; reasonString?: string }> {
  return new Promise((resolve, reject) => {
    let ack: { reasonCode?: number; properties?: { reasonString?: string } } | undefined;
    const onPacket = (p: { cmd: string }): void => {
      if (p.cmd === 'puback' || p.cmd === 'pubrec') ack ??= p as unknown as typeof ack;
    };
    client.on('packetreceive', onPacket);
    client.publish(topic, payload, { qos: 1, ...opts }, (err) => {
      client.off('packetreceive', onPacket);
      const e = err as (Error & { code?: number }) | undefined;
      if (e && typeof e.code !== 'number') return reject(e);
      resolve({ reasonCode: ack?.reasonCode ?? e?.code ?? 0, reasonString: ack?.properties?.reasonString });
    });
  });
}

/** A raw MQTT 5 connection: write any packet mqtt-packet can encode, read every packet the server sends. */
export class RawV5 {
  readonly packets: Packet[] = [];
  closed = false;
  private waiters: Array<() => void> = [];
  private constructor(readonly socket: Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.notify();
    });
    parser.on('error', (err: Error) => {
      // mqtt-packet 9 refuses DISCONNECT 0x8C (Bad authentication method), which MQTT 5.0
      // Table 3-10 allows a server to send: keep the packet it had read anyway.
      const p = (parser as unknown as { packet?: Packet & { reasonCode?: number } }).packet;
      if (p?.cmd === 'disconnect' && /disconnect reason code/.test(err.message)) {
        this.packets.push({ cmd: 'disconnect', reasonCode: p.reasonCode } as Packet);
        this.notify();
        return;
      }
      socket.destroy();
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawV5> {
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ port, host: '127.0.0.1' }, () => resolve(new RawV5(s)));
      s.once('error', reject);
    });
  }

  send(packet: Record<string, unknown>): void {
    this.socket.write(mqttPacket.generate(packet as unknown as Packet, { protocolVersion: 5 }));
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Waits for the next packet of `cmd` (counting from `from`, default: any seen so far is not taken twice). */
  async next(cmd: string, ms = 5000): Promise<Packet & Record<string, any>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0] as Packet & Record<string, any>;
      if (this.closed) throw new Error(`connection closed before a ${cmd} (got ${this.packets.map((p) => p.cmd).join(', ') || 'nothing'})`);
      if (Date.now() > deadline) throw new Error(`no ${cmd} within ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  /** Resolves once the server has closed the connection. */
  async whenClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server kept the connection open');
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  end(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A v5 CONNECT packet for RawV5.send. */
export function connectPacket5(clientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 60, ...extra };
}

// Real MQTT clients (mqtt.js) for tests: connect and learn the CONNACK code,
// collect messages, subscribe and read the granted QoS; and the barriers that show
// the broker is past a point (a ping round trip, a marker message).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { waitUntil } from './wait.js';

export interface ConnectOutcome {
  client?: MqttClient;
  /** CONNACK return code: 0 accepted, 4 bad user name or password, 5 not authorized. */
  returnCode: number;
}

/** Connects once (no reconnect) and resolves with the CONNACK return code. */
export function connect(port: number, opts: IClientOptions = {}, host = '127.0.0.1'): Promise<ConnectOutcome> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect({ host, port, protocol: 'mqtt', reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error('no CONNACK within 5 s'));
    }, 5000);
    client.once('connect', () => {
      clearTimeout(timer);
      resolve({ client, returnCode: 0 });
    });
    client.once('error', (err: Error & { code?: number }) => {
      clearTimeout(timer);
      client.end(true);
      if (typeof err.code === 'number') resolve({ returnCode: err.code });
      else reject(err);
    });
  });
}

/** Connects and fails the test unless accepted. */
export async function connectOk(port: number, opts: IClientOptions = {}): Promise<MqttClient> {
  const out = await connect(port, opts);
  if (!out.client) throw new Error(`connection refused with CONNACK ${out.returnCode}`);
  return out.client;
}

/** Subscribes and resolves with the granted QoS per filter (128 = refused). */
export function subscribe(client: MqttClient, filter: string | string[], qos: 0 | 1 | 2 = 0): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos }, (err, granted) => {
      // mqtt.js reports any 0x80 in the SUBACK as an error carrying the packet,
      // and leaves `granted` with the requested QoS: read the SUBACK itself.
      const suback = (err as (Error & { packet?: { granted?: number[] } }) | undefined)?.packet?.granted;
      if (suback) return resolve(suback);
      if (err && !granted) return reject(err);
      resolve((granted ?? []).map((g) => g.qos));
    });
  });
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer, opts: { qos?: 0 | 1 | 2; retain?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, { qos: opts.qos ?? 0, retain: opts.retain ?? false }, (err) => (err ? reject(err) : resolve())),
  );
}

/** Collects messages; `waitFor(n)` resolves once n have arrived (or rejects after ms). */
export function collector(client: MqttClient): {
  messages: Array<{ topic: string; payload: string; retain: boolean }>;
  waitFor(n: number, ms?: number): Promise<void>;
} {
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    for (const w of waiters.filter((w) => messages.length >= w.n)) w.resolve();
  });
  return {
    messages,
    waitFor(n, ms = 5000) {
      if (messages.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`got ${messages.length} of ${n} messages within ${ms} ms`)), ms);
        waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
  };
}

/** Resolves when the client's connection closes (e.g. the broker disconnected it). */
export function closed(client: MqttClient, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) return resolve();
    const t = setTimeout(() => reject(new Error('connection still open')), ms);
    client.once('close', () => (clearTimeout(t), resolve()));
  });
}

export function end(...clients: Array<MqttClient | undefined>): Promise<void> {
  return Promise.all(clients.map((c) => (c ? new Promise<void>((r) => c.end(true, {}, () => r())) : undefined))).then(() => undefined);
}

/**
 * A PINGREQ and its PINGRESP (or the close): the broker answers it only on a connection
 * it keeps, and the answer follows whatever it did to the connection before (a
 * DISCONNECT, a close). Once this resolves, `client.connected` is the broker's verdict.
 */
export function pingRoundTrip(client: MqttClient, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) return resolve();
    const done = (): void => {
      clearTimeout(t);
      client.off('packetreceive', onPacket);
      client.off('close', done);
      resolve();
    };
    const onPacket = (packet: { cmd: string }): void => {
      if (packet.cmd === 'pingresp') done();
    };
    const t = setTimeout(() => {
      client.off('packetreceive', onPacket);
      client.off('close', done);
      reject(new Error(`no PINGRESP within ${ms} ms`));
    }, ms);
    client.on('packetreceive', onPacket);
    client.once('close', done);
    client.sendPing();
  });
}

/**
 * Waits until `inbox` holds a barrier marker (a message published after what a test
 * checks, through the same path), then takes it out, so that the test's assertions
 * see only its own messages. MQTT keeps one publisher's messages in order (section
 * 4.6): whatever was published before the marker and was going to arrive has arrived.
 */
export async function takeMarker<T>(inbox: T[], isMarker: (m: T) => boolean, what = 'the barrier marker', timeoutMs = 5000): Promise<void> {
  await waitUntil(() => inbox.some(isMarker), { timeoutMs, what });
  inbox.splice(inbox.findIndex(isMarker), 1);
}

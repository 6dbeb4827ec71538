// MQTT 5 pieces of the bridge tests: v5 sensors on the gateway, v5 clients on the
// cloud Mosquitto that keep each message's properties, and the PUBACK reason code
// a v5 publisher gets.
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { MessageProperties } from '../../src/broker/broker.js';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { connectOk, subscribe } from '../helpers/mqtt.js';
import { sensorToken } from './support.js';

/** Every property a message carries across (Topic Alias and Subscription Identifier never do). */
export const PROPS = {
  payloadFormatIndicator: true,
  contentType: 'application/json',
  responseTopic: 'replies/gw-test',
  correlationData: Buffer.from([0x00, 0xde, 0xad, 0xbe, 0xef, 0xff]),
  userProperties: { site: 'north', tag: ['first', 'second', 'third'], unit: '°C' },
} satisfies MessageProperties;

export interface Received {
  topic: string;
  payload: string;
  properties?: MessageProperties;
}

/** An MQTT 5 sensor with a valid token. */
export async function sensor5(port: number, clientId = 'sensor-v5'): Promise<MqttClient> {
  return connectOk(port, { clientId, username: 'sensor', password: await sensorToken(), protocolVersion: 5 });
}

/** Collects messages with their properties (a plain copy: mqtt-packet gives user properties a null prototype). */
export function inbox5(client: MqttClient): { messages: Received[]; waitFor(pred: (m: Received[]) => boolean, what: string, ms?: number): Promise<void> } {
  const messages: Received[] = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    const p = packet.properties;
    messages.push({ topic, payload: payload.toString(), properties: p && { ...p, ...(p.userProperties && { userProperties: { ...p.userProperties } }) } });
    for (const w of waiters.splice(0)) w();
  });
  return {
    messages,
    waitFor(pred, what, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms (got ${JSON.stringify(messages.map((m) => m.payload))})`)), ms);
        const check = (): void => {
          if (pred(messages)) return (clearTimeout(t), resolve());
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/**
 * An MQTT 5 subscriber on the cloud whose session (clean start 0, session expiry
 * 1 h) Mosquitto keeps across its own restarts (with persistence); it reconnects
 * by itself.
 */
export async function cloudSubscriber5(
  cloud: Mosquitto,
  filter: string,
  clientId = 'cloud-sub-v5',
): Promise<{ client: MqttClient; inbox: ReturnType<typeof inbox5> }> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port: cloud.port,
    clientId,
    protocolVersion: 5,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 100,
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('cloud subscriber: no CONNACK')), 5000);
    client.once('connect', () => (clearTimeout(t), resolve()));
  });
  client.on('error', () => undefined); // refused while the cloud restarts: it retries
  const inbox = inbox5(client);
  await subscribe(client, filter, 1);
  return { client, inbox };
}

/** Publishes and resolves with the PUBACK reason code (0 for success) instead of rejecting. */
export function publish5(client: MqttClient, topic: string, payload: string | Buffer, opts: IClientPublishOptions): Promise<number> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, opts, (err) => {
      if (!err) return resolve(0);
      const code = (err as Error & { code?: unknown }).code;
      if (typeof code === 'number') resolve(code);
      else reject(err);
    }),
  );
}

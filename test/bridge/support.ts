// Shared pieces of the bridge tests: sensor tokens, bridge config, a cloud-side
// subscriber with a persistent session (so it misses nothing across cloud restarts).
import mqtt, { type MqttClient } from 'mqtt';
import type { BridgeTopicRule, ConfigOverrides } from '../../src/config/types.js';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { collector, connectOk, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';

export const SECRET = 'bridge-test-secret';

export function sensorToken(sub = 'sensor'): Promise<string> {
  return hsToken(SECRET, { sub, iat: nowSec(), exp: nowSec() + 3600 });
}

export function rule(pattern: string, direction: BridgeTopicRule['direction'], qos: 0 | 1, localPrefix = '', remotePrefix = ''): BridgeTopicRule {
  return { pattern, direction, qos, localPrefix, remotePrefix };
}

/** A daemon config with the bridge pointed at 127.0.0.1:cloudPort and fast reconnects. */
export function bridgeConfig(url: string, topics: BridgeTopicRule[], bridge: Record<string, unknown> = {}, rest: ConfigOverrides = {}): ConfigOverrides {
  return {
    ...rest,
    auth: { jwt: { secret: SECRET }, ...(rest.auth ?? {}) },
    bridge: {
      enabled: true,
      url,
      clientId: 'gw-test',
      reconnect: { minSec: 0.05, maxSec: 0.3 },
      topics,
      ...bridge,
    },
  } as ConfigOverrides;
}

export async function sensor(port: number, clientId = 'sensor-1'): Promise<MqttClient> {
  return connectOk(port, { clientId, username: 'sensor', password: await sensorToken() });
}

export interface BridgeStatus {
  state: string;
  queue: { messages: number; bytes: number; inflight: number };
  lastError: string | null;
}

export function bridgeStatus(daemon: { status: { snapshot(): Record<string, unknown> } }): BridgeStatus {
  return daemon.status.snapshot().bridge as BridgeStatus;
}

/**
 * A cloud subscriber whose session lives in the cloud Mosquitto (clean=false,
 * QoS 1; the Mosquitto runs with persistence), reconnecting by itself.
 */
export async function cloudSubscriber(
  cloud: Mosquitto,
  filter: string,
  clientId = 'cloud-sub',
): Promise<{ client: MqttClient; inbox: ReturnType<typeof collector> }> {
  // Not the connect() helper: it ends the client on its first error, and this one must reconnect.
  const client = mqtt.connect({ host: '127.0.0.1', port: cloud.port, clientId, clean: false, reconnectPeriod: 100, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('cloud subscriber: no CONNACK')), 5000);
    client.once('connect', () => (clearTimeout(t), resolve()));
  });
  client.on('error', () => undefined); // refused while the cloud restarts: it retries
  const inbox = collector(client);
  await subscribe(client, filter, 1);
  return { client, inbox };
}

/** Messages in order of first arrival, without the duplicates QoS 1 allows. */
export function distinct<T extends { payload: string }>(messages: T[]): T[] {
  const seen = new Set<string>();
  return messages.filter((m) => (seen.has(m.payload) ? false : (seen.add(m.payload), true)));
}

// Shared pieces of the fleet tests: a fleet signing key pair on disk, a gateway
// configuration bridged to a cloud Mosquitto with the revocation topic, a
// two-node "cloud" (two Mosquittos bridged to each other) and metric reading.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigOverrides } from '../../src/config/types.js';
import type { Daemon } from '../../src/daemon/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';

export const SECRET = 'fleet-test-secret';
export const CLOUD_TOPIC = 'edgegate/revocations';
export const LOCAL_TOPIC = 'edgegate/revocations';

export interface FleetKeyFiles {
  privateKey: string;
  publicKey: string;
}

/** A P-256 (ES256) or Ed25519 (EdDSA) key pair as PEM files in `dir`. */
export function makeFleetKey(dir: string, name: string, type: 'ec' | 'ed25519' = 'ec'): FleetKeyFiles {
  const { privateKey, publicKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const files = { privateKey: join(dir, `${name}.pem`), publicKey: join(dir, `${name}.pub.pem`) };
  writeFileSync(files.privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(files.publicKey, publicKey.export({ type: 'spki', format: 'pem' }));
  return files;
}

/** A gateway bridged to `cloudPort`: the revocation topic comes in (with its /snapshot), sensors/# goes out at QoS 1. */
export function gatewayConfig(clientId: string, cloudPort: number, keys: string[], extra: { healthIntervalSec?: number } = {}): ConfigOverrides {
  return {
    auth: { jwt: { secret: SECRET }, revocation: { topic: LOCAL_TOPIC, keys, pollIntervalSec: 0.5 } },
    bridge: {
      enabled: true,
      url: `mqtt://127.0.0.1:${cloudPort}`,
      clientId,
      reconnect: { minSec: 0.1, maxSec: 0.5 },
      healthIntervalSec: extra.healthIntervalSec ?? 60,
      topics: [
        { pattern: `${CLOUD_TOPIC}/#`, direction: 'in', qos: 1, localPrefix: '', remotePrefix: '' },
        { pattern: 'sensors/#', direction: 'out', qos: 1, localPrefix: '', remotePrefix: '' },
      ],
    },
  } as ConfigOverrides;
}

/** Two cloud nodes: `b` bridges every topic both ways to `a` (a stand-in for a two-node cluster). */
export async function twoNodeCloud(): Promise<{ a: Mosquitto; b: Mosquitto }> {
  const a = await Mosquitto.start({ persistence: true });
  const b = await Mosquitto.start({
    persistence: true,
    extra: [
      'connection to-a',
      `address 127.0.0.1:${a.port}`,
      'topic # both 1',
      'cleansession false',
      'restart_timeout 1',
      'bridge_protocol_version mqttv311',
      'try_private true',
    ],
  });
  return { a, b };
}

/** The value of a labelled counter of a daemon (0 when never incremented). */
export async function counter(daemon: Daemon, name: 'fleetRevocationsRefused' | 'fleetRevocationsApplied', label: Record<string, string>): Promise<number> {
  const json = await daemon.metrics[name].get();
  const hit = json.values.find((v) => Object.entries(label).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val));
  return hit?.value ?? 0;
}

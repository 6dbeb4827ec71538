// mqtt.js options for one connection attempt to the cloud, from bridge.*.
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { BridgeConfig } from '../config/types.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { UplinkCredentials } from './uplinkCredentials.js';

export interface UplinkTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/** Reads the TLS files once at start-up (a bad path is a configuration error). */
export function loadUplinkTls(tls: BridgeConfig['tls']): UplinkTls {
  const read = (key: 'caFile' | 'certFile' | 'keyFile'): Buffer | undefined => {
    if (!tls[key]) return undefined;
    try {
      return readFileSync(tls[key]);
    } catch (err) {
      throw ConfigError.at(`bridge.tls.${key}`, `cannot read ${tls[key]}: ${errorMessage(err)}`);
    }
  };
  return { ca: read('caFile'), cert: read('certFile'), key: read('keyFile'), rejectUnauthorized: tls.rejectUnauthorized };
}

export interface AttemptOptions {
  config: BridgeConfig;
  clientId: string;
  tls: UplinkTls;
  credentials: UplinkCredentials;
  /** `<remotePrefix>edgegate/<clientId>/state` on the cloud. */
  remoteStateTopic: string;
  /**
   * MQTT 3.1.1 only: announce a bridge (protocol level | 0x80, as Mosquitto's
   * `try_private`), so Mosquitto/EMQX neither echo our own messages back on
   * `both` topics nor clear the retain flag of what they forward to us.
   */
  bridgeMode: boolean;
}

export function attemptOptions(o: AttemptOptions): IClientOptions {
  const { config } = o;
  const v5 = config.protocolVersion === 5;
  const options: IClientOptions = {
    clientId: o.clientId,
    protocolVersion: config.protocolVersion,
    clean: config.cleanSession,
    keepalive: config.keepaliveSec,
    // The caller adds its listeners first (e.g. bridgeModeOnConnect), then connects.
    manualConnect: true,
    // Reconnects are ours (decorrelated jitter, fresh credentials, outbox restart).
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    resubscribe: false,
    // Nothing may pile up in mqtt.js's memory: we publish only while connected.
    queueQoSZero: false,
    // Per-packet costs off the uplink path: no keepalive timer reset on every
    // PUBACK (a PINGREQ then goes every keepalive even under traffic, and its
    // PINGRESP still proves the link), and no debug() call per packet unless
    // DEBUG asks for mqtt.js's log.
    reschedulePings: false,
    ...(process.env.DEBUG ? {} : { log: () => undefined }),
    username: o.credentials.username,
    password: o.credentials.password,
    will: { topic: o.remoteStateTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    ca: o.tls.ca,
    cert: o.tls.cert,
    key: o.tls.key,
    rejectUnauthorized: o.tls.rejectUnauthorized,
  };
  if (v5) {
    // A persistent session in MQTT 5 also needs a session expiry (section 3.1.2.11.2).
    options.properties = { sessionExpiryInterval: config.cleanSession ? 0 : 0xffffffff, receiveMaximum: 65_535 };
  }
  return options;
}

/**
 * mqtt.js builds the CONNECT packet without mqtt-packet's `bridgeMode` flag, but
 * emits 'packetsend' with the very packet object right before writing it: set
 * the flag there (protocol level 0x84, MQTT 3.1.1 only).
 */
export function bridgeModeOnConnect(client: MqttClient): void {
  client.on('packetsend', (packet: { cmd: string; bridgeMode?: boolean }) => {
    if (packet.cmd === 'connect') packet.bridgeMode = true;
  });
}

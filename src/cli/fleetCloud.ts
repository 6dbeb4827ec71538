// The cloud connection of `edgegate fleet ...`: one short-lived mqtt.js client to
// --cloud (mqtt:// or mqtts://, ws(s):// too), with --username/--password or the
// same self-signed uplink JWT as the bridge (--jwt-key, --jwt-alg, ...), and TLS
// (--ca, --cert, --cert-key, --insecure). Publishes at QoS 1 and waits for the
// PUBACK; reads retained messages until the cloud has been quiet for a moment.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import { createUplinkClient } from '../bridge/uplinkClient.js';
import { UplinkCredentialSource } from '../bridge/uplinkCredentials.js';
import type { JwtAlgorithm } from '../config/schema.js';
import { EdgegateError, errorMessage, UnreadableFileError, UsageError } from '../errors.js';

export interface CloudOptions {
  cloud: string;
  username?: string;
  password?: string;
  clientId?: string;
  jwtKey?: string;
  jwtAlg?: string;
  jwtTtl?: string;
  jwtAudience?: string;
  ca?: string;
  cert?: string;
  certKey?: string;
  insecure?: boolean;
  timeout?: string;
}

/** The cloud could not be reached or refused us (`fleet status` then exits 1, with the reason on stderr). */
export class CloudUnreachable extends EdgegateError {
  constructor(message: string) {
    super('EDGEGATE_CLOUD_UNREACHABLE', message);
    this.name = 'CloudUnreachable';
  }
}

/** The cloud did not acknowledge a publish or subscription in time, or refused it. */
export class CloudNoAck extends EdgegateError {
  constructor(message: string) {
    super('EDGEGATE_CLOUD_NO_ACK', message);
    this.name = 'CloudNoAck';
  }
}

export interface RetainedMessage {
  topic: string;
  payload: Buffer;
}

function readFile(path: string | undefined, option: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UnreadableFileError(`${option}: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

export class CloudSession {
  private constructor(
    private readonly client: MqttClient,
    readonly timeoutMs: number,
  ) {}

  static async open(o: CloudOptions): Promise<CloudSession> {
    if (!/^(mqtts?|wss?):\/\/[^/]/.test(o.cloud))
      throw new UsageError(`--cloud must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${JSON.stringify(o.cloud)}`);
    const timeoutMs = Math.max(500, Number(o.timeout ?? 10) * 1000 || 10_000);
    const clientId = o.clientId ?? `edgegate-fleet-${randomBytes(4).toString('hex')}`;
    const credentials = await new UplinkCredentialSource(
      {
        username: o.username ?? '',
        // The environment keeps the password out of `ps`.
        password: o.password ?? process.env.EDGEGATE_CLOUD_PASSWORD ?? '',
        jwt: {
          privateKeyFile: o.jwtKey ?? '',
          alg: (o.jwtAlg ?? 'ES256') as JwtAlgorithm,
          ttlSec: Number(o.jwtTtl ?? 300),
          audience: o.jwtAudience ?? '',
          claims: {},
        },
      },
      clientId,
      () => Date.now(),
    ).next();
    const options: IClientOptions = {
      clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      username: credentials.username,
      password: credentials.password,
      ca: readFile(o.ca, '--ca'),
      cert: readFile(o.cert, '--cert'),
      key: readFile(o.certKey, '--cert-key'),
      rejectUnauthorized: o.insecure !== true,
      log: () => undefined,
    };
    const client = createUplinkClient(o.cloud, options);
    const where = o.cloud.replace(/\/\/[^@/]*@/, '//');
    // Only our own listeners are removed afterwards: mqtt.js has its own on 'close'.
    const onClose = (): void => fail(new Error('connection closed'));
    let fail: (err: Error) => void = () => undefined;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
      fail = (err: Error): void => {
        clearTimeout(t);
        client.removeListener('close', onClose);
        client.end(true);
        reject(new CloudUnreachable(`cannot connect to ${where}: ${errorMessage(err)}`));
      };
      client.once('connect', () => (clearTimeout(t), resolve()));
      client.on('error', (err) => fail(err));
      client.once('close', onClose);
    });
    client.removeListener('close', onClose);
    return new CloudSession(client, timeoutMs);
  }

  /** Publishes at QoS 1; resolves on the PUBACK. */
  publish(topic: string, payload: string, retain: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new CloudNoAck(`no PUBACK for ${topic} within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.client.publish(topic, payload, { qos: 1, retain }, (err) => {
        clearTimeout(t);
        if (err) reject(new CloudNoAck(`publishing to ${topic} failed: ${errorMessage(err)}`));
        else resolve();
      });
    });
  }

  /**
   * Subscribes to `filters` and collects the retained messages the cloud sends,
   * until none has come for `quietMs` after the SUBACK (at most the timeout).
   */
  retained(filters: string[], quietMs: number): Promise<RetainedMessage[]> {
    return new Promise((resolve, reject) => {
      const got = new Map<string, RetainedMessage>();
      let quiet: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(quiet);
        clearTimeout(overall);
        this.client.removeListener('message', onMessage);
        resolve([...got.values()]);
      };
      const overall = setTimeout(finish, this.timeoutMs);
      const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
        if (packet.retain !== true) return;
        if (payload.length === 0) got.delete(topic);
        else got.set(topic, { topic, payload });
        clearTimeout(quiet);
        quiet = setTimeout(finish, quietMs);
      };
      this.client.on('message', onMessage);
      this.client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) {
          clearTimeout(overall);
          return reject(new CloudNoAck(`subscribing to ${filters.join(', ')} failed: ${errorMessage(err)}`));
        }
        quiet = setTimeout(finish, quietMs);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => (this.client.end(true), resolve()), 2000);
      this.client.end(false, {}, () => (clearTimeout(t), resolve()));
    });
  }
}

/** Opens a session, runs `fn`, always closes. */
export async function withCloud<T>(o: CloudOptions, fn: (s: CloudSession) => Promise<T>): Promise<T> {
  const session = await CloudSession.open(o);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

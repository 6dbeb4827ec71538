// Typed view of the validated configuration (see schema.ts for the rules).
import type { JwtAlgorithm } from './schema.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export interface LogConfig { level: LogLevel; format: 'auto' | 'json' | 'pretty' }

export interface TcpListenerConfig { enabled: boolean; host: string; port: number }
export interface TlsListenerConfig extends TcpListenerConfig {
  certFile: string; keyFile: string; caFile: string; requestClientCert: boolean;
}
export interface WsListenerConfig extends TcpListenerConfig {
  /** The only URL path an upgrade is accepted on (others get HTTP 404). */
  path: string;
  /** When non-empty, an upgrade whose Origin header is not listed gets HTTP 403. */
  allowedOrigins: string[];
}
export interface WssListenerConfig extends WsListenerConfig { certFile: string; keyFile: string; caFile: string }

export interface BrokerConfig {
  connectTimeoutSec: number; drainTimeoutSec: number; queueLimit: number; maxInflightInbound: number;
  /** Largest remaining length of any client packet; larger ones close the connection. */
  maxPacketBytes: number;
  /** Connected (and being authenticated) clients at most; beyond, CONNACK 3. */
  maxClients: number;
  /** MQTT 5: the highest Topic Alias a client may use towards the gateway (0: none). */
  topicAliasMaximum: number;
  persistence: BrokerPersistenceConfig;
}

/** The broker's durable state (src/broker/store/): bounds of what it keeps. */
export interface BrokerPersistenceConfig {
  /** Retained messages kept at most (0: none); a new topic beyond it is not retained. */
  maxRetained: number;
  /** An MQTT 3.1.1 persistent session (clean session 0) ends this long after its client left (0: never). */
  sessionExpirySec: number;
}

/** How every write to the database reaches the card. */
export interface StorageConfig {
  /** `full`: a commit is on the card (fsync) before anything that depends on it is acknowledged; `normal`: survives a process crash only. */
  sync: 'normal' | 'full';
}

export interface JwksConfig {
  url: string; refreshIntervalSec: number; timeoutSec: number; maxStaleSec: number; caFile: string;
}

export interface JwtConfig {
  from: 'password' | 'username';
  secret: string;
  secretBase64: boolean;
  pubkey: string;
  algorithms: JwtAlgorithm[];
  verifyClaims: Record<string, string>;
  clockToleranceSec: number;
  maxAgeSec: number;
  maxTokenBytes: number;
  aclClaim: string;
  defaultAcl: 'allow' | 'deny';
  disconnectOnExpiry: boolean;
  /** ECDSA (ES256/384/512) signature encoding: "raw" r||s as JOSE says, or ASN.1 "der" (EMQX 4 signature_format = der). */
  signatureFormat: 'raw' | 'der';
  jwks: JwksConfig;
}

export interface AuthConfig {
  jwt: JwtConfig;
  aclDenyAction: 'ignore' | 'disconnect';
  cache: { enabled: boolean; maxEntries: number; negativeTtlSec: number };
  rateLimit: { maxFailures: number; windowSec: number; banSec: number };
  revocation: {
    pollIntervalSec: number; topic: string; maxEntries: number;
    /** PEM public keys (ES256 P-256 or EdDSA Ed25519) that may sign fleet revocations and snapshots. */
    keys: string[];
    /** Refuse unsigned JSON messages on the revocation topic. */
    requireSigned: boolean;
  };
}

export interface ClockConfig { persistIntervalSec: number; maxOffsetSec: number }

export interface BridgeTopicRule {
  pattern: string; direction: 'in' | 'out' | 'both'; qos: 0 | 1; localPrefix: string; remotePrefix: string;
}

export interface BridgeConfig {
  enabled: boolean;
  url: string;
  clientId: string;
  username: string;
  password: string;
  jwt: { privateKeyFile: string; alg: JwtAlgorithm; ttlSec: number; audience: string; claims: Record<string, string> };
  protocolVersion: 4 | 5;
  keepaliveSec: number;
  cleanSession: boolean;
  tls: { caFile: string; certFile: string; keyFile: string; rejectUnauthorized: boolean };
  reconnect: { minSec: number; maxSec: number };
  maxInflight: number;
  /** Messages per second the uplink sends from the queue at most; 0 = no cap. */
  drainRatePerSec: number;
  topics: BridgeTopicRule[];
  queue: {
    maxMessages: number; maxBytes: number; ttlSec: number;
    overflow: 'drop-oldest' | 'reject-new'; qos0: boolean;
    /** Deprecated alias of storage.sync; '' when not set. */
    sync: '' | 'normal' | 'full';
  };
  stateTopic: string;
  /** Retained health summary on <remotePrefix>edgegate/<clientId>/health every this many seconds (0 = off). */
  healthIntervalSec: number;
}

export interface SerialPortConfig {
  name: string;
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
  delimiter: string;
  format: 'json' | 'kv' | 'text';
  topic: string;
  qos: 0 | 1;
  retain: boolean;
  commandTopic: string;
  maxLineBytes: number;
  reopen: { minSec: number; maxSec: number };
}

export interface HttpConfig {
  enabled: boolean;
  host: string;
  port: number;
  /** The status page at GET / (its code loads on the first request). */
  statusPage: boolean;
  /** "auto": admin login required when `host` is not a loopback address; "always": required everywhere. */
  pageAuth: 'auto' | 'always';
  /** GET /metrics requires an admin token (Bearer) or a page session. */
  metricsAuth: boolean;
  /** How often the page's charts are sampled; the ring keeps the last hour (at most 3600 samples). */
  sampleIntervalSec: number;
}

export interface GatewayConfig {
  dataDir: string;
  storage: StorageConfig;
  log: LogConfig;
  listeners: { tcp: TcpListenerConfig; tls: TlsListenerConfig; ws: WsListenerConfig; wss: WssListenerConfig };
  broker: BrokerConfig;
  auth: AuthConfig;
  clock: ClockConfig;
  bridge: BridgeConfig;
  serial: { ports: SerialPortConfig[] };
  http: HttpConfig;
}

/** Deep partial, for tests and overrides. */
export type ConfigOverrides = { [K in keyof GatewayConfig]?: DeepPartial<GatewayConfig[K]> };
export type DeepPartial<T> = T extends unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

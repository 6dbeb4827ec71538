// The one schema of edgegate's configuration. Every key here has its default in
// config/default.json (array items get theirs from this file) and one row in
// docs/configuration.md.
import { bool, file, int, num, obj, oneOf, port, secret, str, type Spec } from './spec.js';

export const JWT_ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const DAY = 86_400;

const serialPortSpec = obj({
  name: str({ required: true, nonEmpty: true }),
  path: str({ required: true, nonEmpty: true }),
  baudRate: int(50, 4_000_000, 9600),
  dataBits: { kind: 'number', integer: true, min: 5, max: 8, default: 8 },
  parity: oneOf(['none', 'even', 'odd', 'mark', 'space'], 'none'),
  stopBits: { kind: 'number', min: 1, max: 2, default: 1 },
  delimiter: str({ default: '\n', nonEmpty: true }),
  format: oneOf(['json', 'kv', 'text'], 'json'),
  topic: str({ default: 'sensors/%n/data', nonEmpty: true }),
  qos: int(0, 1, 0),
  retain: bool(false),
  commandTopic: str({ default: '' }),
  maxLineBytes: int(16, 1_048_576, 1024),
  reopen: obj({ minSec: num({ min: 0.05, max: 3600, default: 1 }), maxSec: num({ min: 0.05, max: 86_400, default: 30 }) }),
});

const bridgeTopicSpec = obj({
  pattern: str({ required: true, nonEmpty: true }),
  direction: oneOf(['in', 'out', 'both'], 'out'),
  qos: int(0, 1, 0),
  localPrefix: str({ default: '' }),
  remotePrefix: str({ default: '' }),
});

export const configSpec: Spec = obj({
  dataDir: str({ nonEmpty: true }),
  storage: obj({ sync: oneOf(['normal', 'full']) }),
  log: obj({ level: oneOf(LOG_LEVELS), format: oneOf(['auto', 'json', 'pretty']) }),
  listeners: obj({
    tcp: obj({ enabled: bool(), host: str({ nonEmpty: true }), port: port() }),
    tls: obj({
      enabled: bool(),
      host: str({ nonEmpty: true }),
      port: port(),
      certFile: file(),
      keyFile: file(),
      caFile: file(),
      requestClientCert: bool(),
    }),
    ws: obj({
      enabled: bool(),
      host: str({ nonEmpty: true }),
      port: port(),
      path: str({ nonEmpty: true }),
      allowedOrigins: { kind: 'array', items: str({ nonEmpty: true }) },
    }),
    wss: obj({
      enabled: bool(),
      host: str({ nonEmpty: true }),
      port: port(),
      path: str({ nonEmpty: true }),
      allowedOrigins: { kind: 'array', items: str({ nonEmpty: true }) },
      certFile: file(),
      keyFile: file(),
      caFile: file(),
    }),
  }),
  broker: obj({
    connectTimeoutSec: num({ min: 1, max: 3600 }),
    drainTimeoutSec: num({ min: 1, max: 3600 }),
    queueLimit: int(1, 1_000_000),
    maxInflightInbound: int(0, 65_535),
    maxPacketBytes: int(1024, 268_435_455),
    maxClients: int(1, 10_000_000),
    topicAliasMaximum: int(0, 65_535),
    persistence: obj({
      maxRetained: int(0, 10_000_000),
      sessionExpirySec: int(0, 4_294_967_295),
    }),
  }),
  auth: obj({
    jwt: obj({
      from: oneOf(['password', 'username']),
      secret: secret(),
      secretBase64: bool(),
      pubkey: file(),
      algorithms: { kind: 'array', items: oneOf(JWT_ALGORITHMS) },
      verifyClaims: { kind: 'record', values: str() },
      clockToleranceSec: num({ min: 0, max: 30 * DAY }),
      maxAgeSec: num({ min: 0 }),
      maxTokenBytes: int(64, 1_048_576),
      aclClaim: str({ nonEmpty: true }),
      defaultAcl: oneOf(['allow', 'deny']),
      disconnectOnExpiry: bool(),
      signatureFormat: oneOf(['raw', 'der']),
      jwks: obj({
        url: str(),
        refreshIntervalSec: num({ min: 1 }),
        timeoutSec: num({ min: 0.1, max: 300 }),
        maxStaleSec: num({ min: 0 }),
        caFile: file(),
      }),
    }),
    aclDenyAction: oneOf(['ignore', 'disconnect']),
    cache: obj({ enabled: bool(), maxEntries: int(1, 10_000_000), negativeTtlSec: num({ min: 0 }) }),
    rateLimit: obj({ maxFailures: int(0, 1_000_000), windowSec: num({ min: 1 }), banSec: num({ min: 0 }) }),
    revocation: obj({
      pollIntervalSec: num({ min: 0.1, max: 3600 }),
      topic: str(),
      maxEntries: int(1, 10_000_000),
      keys: { kind: 'array', items: file(), maxItems: 16 },
      requireSigned: bool(),
    }),
  }),
  clock: obj({ persistIntervalSec: num({ min: 1 }), maxOffsetSec: num({ min: 0 }) }),
  bridge: obj({
    enabled: bool(),
    url: str(),
    clientId: str(),
    username: str(),
    password: secret(),
    jwt: obj({
      privateKeyFile: file(),
      alg: oneOf(JWT_ALGORITHMS.filter((a) => !a.startsWith('HS'))),
      ttlSec: num({ min: 60 }),
      audience: str(),
      claims: { kind: 'record', values: str() },
    }),
    protocolVersion: { kind: 'number', integer: true, min: 4, max: 5 },
    keepaliveSec: int(0, 65_535),
    cleanSession: bool(),
    tls: obj({ caFile: file(), certFile: file(), keyFile: file(), rejectUnauthorized: bool() }),
    reconnect: obj({ minSec: num({ min: 0.01 }), maxSec: num({ min: 0.01 }) }),
    maxInflight: int(1, 65_535),
    drainRatePerSec: int(0, 1_000_000),
    topics: { kind: 'array', items: bridgeTopicSpec },
    queue: obj({
      maxMessages: int(1, Number.MAX_SAFE_INTEGER),
      maxBytes: int(1024, Number.MAX_SAFE_INTEGER),
      ttlSec: num({ min: 0 }),
      overflow: oneOf(['drop-oldest', 'reject-new']),
      qos0: bool(),
      // Deprecated alias of storage.sync (empty: not set).
      sync: oneOf(['', 'normal', 'full']),
    }),
    stateTopic: str(),
    healthIntervalSec: num({ min: 0, max: 86_400 }),
  }),
  serial: obj({ ports: { kind: 'array', items: serialPortSpec } }),
  http: obj({
    enabled: bool(),
    host: str({ nonEmpty: true }),
    port: port(),
    statusPage: bool(),
    pageAuth: oneOf(['auto', 'always']),
    metricsAuth: bool(),
    sampleIntervalSec: num({ min: 0.1, max: 60 }),
  }),
});

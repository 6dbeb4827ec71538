// The bridge to a cloud broker: connection, credentials, topic rules and the
// durable queue of what waits for the cloud.
import { bool, file, int, list, num, numOf, obj, oneOf, record, secret, str } from '../spec.js';
import { JWT_ALGORITHMS } from './auth.js';

const DAY = 86_400;

const topicRuleSpec = obj({
  pattern: str({ required: true, nonEmpty: true, description: 'topic or filter (`+`, `#`)' }),
  direction: oneOf(['in', 'out', 'both'], 'out', '`out` (local → cloud), `in` (cloud → local) or `both`'),
  qos: numOf([0, 1], 0, 'the highest QoS a message is carried with (as in Mosquitto)'),
  localPrefix: str({ default: '', description: 'local topic = `localPrefix + pattern`' }),
  remotePrefix: str({ default: '', description: 'remote topic = `remotePrefix + pattern`' }),
});

export const bridgeSpec = obj({
  enabled: bool(false, 'connect to a cloud broker'),
  url: str({ default: '', description: '`mqtt://`, `mqtts://`, `ws://` or `wss://` URL (required when enabled)' }),
  clientId: str({ default: '', description: 'client id on the cloud; empty = `edgegate-<hostname>`' }),
  username: str({ default: '', description: 'static user name' }),
  password: secret('static password'),
  jwt: obj({
    privateKeyFile: file('if set, the password is a JWT signed with this PEM private key, re-minted on each (re)connect'),
    // The bridge signs with a private key: no shared-secret (HS*) algorithms.
    alg: oneOf(
      JWT_ALGORITHMS.filter((a) => !a.startsWith('HS')),
      'ES256',
      'its algorithm (RS*, PS*, ES*, EdDSA)',
    ),
    ttlSec: num({ min: 60, default: 3600, description: 'its lifetime' }),
    audience: str({ default: '', description: 'its `aud` claim (omitted when empty)' }),
    claims: record(str(), 'extra claims (string values)'),
  }),
  protocolVersion: numOf([4, 5], 4, '`4` (MQTT 3.1.1) or `5`'),
  keepaliveSec: int(0, 65_535, 60, 'keep-alive towards the cloud'),
  cleanSession: bool(false, '`false` keeps the cloud session (subscriptions, queued QoS 1) across reconnects'),
  tls: obj({
    caFile: file("CA for the cloud's certificate"),
    certFile: file('client certificate'),
    keyFile: file('client key'),
    rejectUnauthorized: bool(true, "verify the cloud's certificate"),
  }),
  reconnect: obj({
    minSec: num({ min: 0.01, default: 1, description: 'decorrelated-jitter backoff, lower bound' }),
    maxSec: num({ min: 0.01, default: 60, description: 'upper bound' }),
  }),
  maxInflight: int(1, 65_535, 100, 'unacknowledged QoS 1 messages on the uplink'),
  drainRatePerSec: int(
    0,
    1_000_000,
    0,
    'cap on the messages per second the bridge sends to the cloud from its queue, 0 = no cap. Every QoS 1 message passes through the queue, so live ' +
      'traffic above the cap queues too; with a fleet, it keeps gateways that come back together after a cloud outage from draining every backlog at full ' +
      'speed at once ([fleet.md](fleet.md))',
  ),
  topics: list(topicRuleSpec, { description: 'topic rules, each `{pattern, direction, qos, localPrefix, remotePrefix}` (below)' }),
  queue: obj({
    maxMessages: int(1, Number.MAX_SAFE_INTEGER, 1_000_000, 'durable queue bound (messages)'),
    maxBytes: int(1024, Number.MAX_SAFE_INTEGER, 268_435_456, 'durable queue bound (payload bytes)'),
    ttlSec: num({ min: 0, default: 7 * DAY, description: 'queued messages older than this are dropped and counted; 0 = forever' }),
    overflow: oneOf(
      ['drop-oldest', 'reject-new'],
      'drop-oldest',
      'when the queue is full: `drop-oldest` drops its oldest message to make room, `reject-new` refuses the new one',
    ),
    qos0: bool(false, 'also queue QoS 0 messages while offline'),
    // Deprecated alias of storage.sync (empty: not set), see deprecations.ts.
    sync: oneOf(
      ['', 'normal', 'full'],
      '',
      '**deprecated**: use `storage.sync` (`""`: not set). When set, it still decides `storage.sync`, and the daemon warns at start-up',
    ),
  }),
  stateTopic: str({ default: '$SYS/edgegate/bridge/state', description: 'local retained `online`/`offline`' }),
  healthIntervalSec: num({
    min: 0,
    max: DAY,
    default: 60,
    description:
      'publish a retained JSON health summary (version, state, uptime, clients, queue depth and oldest age, clock, serial ports, time) on ' +
      "`<remotePrefix>edgegate/<clientId>/health` on the cloud every this many seconds, at each (re)connect and when the gateway's health changes; `0` = " +
      'never. Read by `edgegate fleet status` ([fleet.md](fleet.md#fleet-status))',
  }),
});

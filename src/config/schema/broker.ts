// The local broker: its timeouts and the bounds of what it holds in memory and on the card.
import { int, num, obj } from '../spec.js';

const DAY = 86_400;

export const brokerSpec = obj({
  connectTimeoutSec: num({ min: 1, max: 3600, default: 30, description: 'close a connection that has not sent CONNECT by then' }),
  drainTimeoutSec: num({ min: 1, max: 3600, default: 10, description: 'close a client that does not read its messages for this long' }),
  queueLimit: int(
    1,
    1_000_000,
    1000,
    'per session: QoS 1/2 messages kept for a persistent session (MQTT 3.1.1 clean session 0, MQTT 5 session expiry > 0) while its client is away or not ' +
      'acknowledging; beyond it the oldest is dropped, counted in `edgegate_broker_queue_dropped_total` and logged at most every 10 s ' +
      '([durability.md](durability.md#bounds)). Packets a client sends before its CONNACK are bounded separately (42, as before)',
  ),
  maxInflightInbound: int(
    0,
    65_535,
    100,
    "inbound QoS 2 messages awaiting PUBREL per client; an MQTT 5 client learns it as the CONNACK's Receive Maximum, and one more gets DISCONNECT `0x93` " +
      '(a 3.1.1 client is disconnected)',
  ),
  maxPacketBytes: int(
    1024,
    268_435_455,
    1_048_576,
    'largest MQTT packet (remaining length, 1024..268435455) a client may send; a larger one closes its connection as soon as its header arrives ' +
      '([authentication.md](authentication.md#packet-size-limit))',
  ),
  maxClients: int(
    1,
    10_000_000,
    2000,
    'clients connected at once, counting those whose token is being checked; one more CONNECT is refused with CONNACK 3 (server unavailable), counted in ' +
      '`edgegate_connections_refused_total{reason="max_clients"}` and logged at most every 10 s. 2000 sensors fit a Pi Zero 2 W\'s 512 MB with room to ' +
      'spare ([install.md](install.md#memory))',
  ),
  topicAliasMaximum: int(
    0,
    65_535,
    10,
    'MQTT 5: the highest Topic Alias a client may use (CONNACK Topic Alias Maximum, 0..65535; 0: none); an alias above it gets DISCONNECT `0x94`. ' +
      "Towards a client, the gateway uses as many aliases as the client's own CONNECT allows ([mqtt5.md](mqtt5.md))",
  ),
  persistence: obj({
    maxRetained: int(
      0,
      10_000_000,
      10_000,
      'retained messages kept at most (0: none); a retained message on a new topic beyond it is delivered but not retained, counted in ' +
        '`edgegate_broker_retained_dropped_total` and logged at most every 10 s. Topics stay in memory (about 100 bytes each), payloads on the card. Why ' +
        "10,000: ~1 MB of a 512 MB Pi's memory, while Home Assistant discovery for a few hundred devices needs a few thousand " +
        '([durability.md](durability.md#bounds))',
    ),
    sessionExpirySec: int(
      0,
      4_294_967_295,
      7 * DAY,
      'an MQTT 3.1.1 persistent session (clean session 0) whose client has not come back for this long (7 days) is ended with its queued messages, ' +
        'counted in `edgegate_broker_sessions_expired_total`; 0: never. MQTT 5 clients bring their own Session Expiry Interval. Why 7 days: a device gone ' +
        'for good would otherwise keep up to `broker.queueLimit` messages on the card for ever, while a week covers a holiday without power',
    ),
  }),
});

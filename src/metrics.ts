// The Prometheus registry of one daemon. One instance per daemon (no global
// registry) so tests can run several daemons in one process. A gauge is set by
// the component whose state it is: as things happen, or by a collector it adds
// to the registry when the value must be read at each scrape.
import { registerProcessMetrics } from './processMetrics.js';
import { Counter, Gauge, Registry } from './prometheus.js';

export class Metrics {
  readonly registry = new Registry();
  readonly clientsConnected = new Gauge({ name: 'edgegate_clients_connected', help: 'MQTT clients connected now', registers: [this.registry] });
  readonly authAttempts = new Counter({
    name: 'edgegate_auth_attempts_total',
    help: 'Authentication attempts by result (accepted/refused) and reason code',
    labelNames: ['result', 'reason'] as const,
    registers: [this.registry],
  });
  readonly reauthentications = new Counter({
    name: 'edgegate_reauthentications_total',
    help: 'MQTT 5 re-authentications (AUTH 0x19) by result (accepted/refused); each also counts in edgegate_auth_attempts_total',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly authCacheHits = new Counter({
    name: 'edgegate_auth_cache_hits_total',
    help: 'Authentications answered from the verified-token cache',
    registers: [this.registry],
  });
  readonly aclDenied = new Counter({
    name: 'edgegate_acl_denied_total',
    help: 'Publishes and subscriptions denied by the token ACL',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly packetsRejected = new Counter({
    name: 'edgegate_packets_rejected_total',
    help:
      'Client connections closed for a bad packet, by reason ' +
      '(too_large/malformed_length/not_connect/invalid_utf8/malformed_properties/malformed_packet/protocol_error)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'edgegate_connections_refused_total',
    help: 'CONNECTs refused before authentication, by reason (max_clients/identifier_rejected/bad_authentication_method)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly revocationsRefused = new Counter({
    name: 'edgegate_revocations_refused_total',
    help: 'Revocations not applied because the list holds auth.revocation.maxEntries, by source (topic)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  readonly fleetRevocationsRefused = new Counter({
    name: 'edgegate_fleet_revocations_refused_total',
    help: 'Messages on the revocation topic (and its /snapshot) refused, by reason (unsigned/malformed/too_large/unknown_key/bad_signature/replay)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly fleetRevocationsApplied = new Counter({
    name: 'edgegate_fleet_revocations_applied_total',
    help: 'Signed fleet revocation messages applied, by type (event/snapshot)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly brokerRetained = new Gauge({
    name: 'edgegate_broker_retained_messages',
    help: 'Retained messages kept (on the card; broker.persistence.maxRetained)',
    registers: [this.registry],
  });
  readonly brokerSessions = new Gauge({
    name: 'edgegate_broker_persistent_sessions',
    help: 'Persistent sessions kept (MQTT 3.1.1 clean session 0, MQTT 5 session expiry > 0), connected or not',
    registers: [this.registry],
  });
  readonly brokerQueued = new Gauge({
    name: 'edgegate_broker_queued_messages',
    help: 'QoS 1/2 messages queued for persistent sessions',
    registers: [this.registry],
  });
  readonly brokerRetainedDropped = new Counter({
    name: 'edgegate_broker_retained_dropped_total',
    help: 'Retained messages on a new topic not kept because broker.persistence.maxRetained was reached',
    registers: [this.registry],
  });
  readonly brokerQueueDropped = new Counter({
    name: 'edgegate_broker_queue_dropped_total',
    help: 'Oldest queued messages of a session dropped because broker.queueLimit was reached',
    registers: [this.registry],
  });
  readonly brokerSessionsExpired = new Counter({
    name: 'edgegate_broker_sessions_expired_total',
    help: 'Persistent sessions ended by their expiry (broker.persistence.sessionExpirySec, MQTT 5 Session Expiry Interval)',
    registers: [this.registry],
  });
  readonly storageCommitFailures = new Counter({
    name: 'edgegate_storage_commit_failures_total',
    help: 'Group commits of the database that failed (disk full, I/O error): nothing of them was acknowledged',
    registers: [this.registry],
  });
  readonly messagesReceived = new Counter({
    name: 'edgegate_messages_received_total',
    help: 'PUBLISH packets accepted from clients and internal sources',
    registers: [this.registry],
  });
  readonly messagesDelivered = new Counter({
    name: 'edgegate_messages_delivered_total',
    help: 'Messages sent to connected clients (one per subscriber reached)',
    registers: [this.registry],
  });
  readonly bridgeConnected = new Gauge({ name: 'edgegate_bridge_connected', help: '1 when the cloud bridge is connected', registers: [this.registry] });
  readonly bridgeQueueMessages = new Gauge({
    name: 'edgegate_bridge_queue_messages',
    help: 'Messages waiting in the durable bridge queue',
    registers: [this.registry],
  });
  readonly bridgeQueueBytes = new Gauge({
    name: 'edgegate_bridge_queue_bytes',
    help: 'Payload bytes waiting in the durable bridge queue',
    registers: [this.registry],
  });
  readonly bridgeForwarded = new Counter({
    name: 'edgegate_bridge_messages_total',
    help: 'Messages carried by the bridge, by direction (in/out)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly bridgeDropped = new Counter({
    name: 'edgegate_bridge_dropped_total',
    help: 'Messages dropped by the bridge queue, by reason (overflow/rejected/ttl/expired/refused/error/offline)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly serialLines = new Counter({
    name: 'edgegate_serial_lines_total',
    help: 'Lines read from serial ports, by port and result (published/invalid/oversized)',
    labelNames: ['port', 'result'] as const,
    registers: [this.registry],
  });
  readonly serialCommands = new Counter({
    name: 'edgegate_serial_commands_total',
    help: 'Commands for serial ports, by port and result (written/dropped)',
    labelNames: ['port', 'result'] as const,
    registers: [this.registry],
  });
  readonly serialPortOpen = new Gauge({
    name: 'edgegate_serial_port_open',
    help: '1 when the serial port is open',
    labelNames: ['port'] as const,
    registers: [this.registry],
  });
  readonly clockOffsetSeconds = new Gauge({ name: 'edgegate_clock_offset_seconds', help: 'Trusted time minus system time', registers: [this.registry] });
  readonly clockSynchronized = new Gauge({ name: 'edgegate_clock_synchronized', help: '1 synced, 0 unsynchronized or skewed', registers: [this.registry] });
  readonly healthy = new Gauge({
    name: 'edgegate_healthy',
    help: '1 when the gateway is serving and every health check passes (as GET /healthz)',
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: 'edgegate_build_info',
    help: 'Always 1; the labels say which edgegate and Node.js run',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    // Computed at scrape time only: nothing runs between scrapes.
    if (options.processMetrics !== false) registerProcessMetrics(this.registry);
  }
}

// The broker's tables in the one database (owner "broker"): what Mosquitto's
// persist-sqlite keeps (retained messages, sessions with their subscriptions,
// queued messages, wills), plus inbound QoS 2 state. Written through the group
// commit (storage/groupCommit.ts), so whatever a PUBACK depends on is on the card
// before it is sent (storage.sync = full).
import type { Migration } from '../../storage/database.js';

export const BROKER_MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      -- The packet as published (JSON, with its MQTT 5 properties and expiry), its payload apart.
      CREATE TABLE broker_retained (
        topic TEXT PRIMARY KEY,
        packet TEXT NOT NULL,
        payload BLOB NOT NULL
      ) WITHOUT ROWID;
      -- A persistent session (MQTT 3.1.1 clean session 0, MQTT 5 session expiry > 0).
      CREATE TABLE broker_sessions (
        client_id TEXT PRIMARY KEY,
        protocol_version INTEGER NOT NULL,
        -- Seconds the session outlives its connection; 4294967295: never.
        expiry_sec INTEGER NOT NULL,
        -- NULL while connected.
        disconnected_at INTEGER
      ) WITHOUT ROWID;
      CREATE TABLE broker_subscriptions (
        client_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        qos INTEGER NOT NULL,
        options TEXT NOT NULL,
        -- rowid order is subscription order (a session's SUBSCRIBEs come back in it).
        UNIQUE (client_id, topic)
      );
      -- QoS 1/2 messages for persistent sessions, in delivery order (id).
      CREATE TABLE broker_outgoing (
        id INTEGER PRIMARY KEY,
        client_id TEXT NOT NULL,
        packet TEXT NOT NULL,
        payload BLOB,
        broker_counter INTEGER NOT NULL,
        message_id INTEGER
      );
      CREATE INDEX broker_outgoing_client ON broker_outgoing (client_id, id);
      -- Inbound QoS 2 messages awaiting PUBREL (MQTT-4.3.3-2: no second delivery).
      CREATE TABLE broker_incoming (
        client_id TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        packet TEXT NOT NULL,
        payload BLOB,
        PRIMARY KEY (client_id, message_id)
      ) WITHOUT ROWID;
      CREATE TABLE broker_wills (
        client_id TEXT PRIMARY KEY,
        packet TEXT NOT NULL,
        payload BLOB
      ) WITHOUT ROWID;
    `,
  },
];

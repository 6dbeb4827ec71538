// MQTT 5 is not served yet: aedes 1.x speaks MQTT 3.1 and 3.1.1 only and answers a
// CONNECT with protocol level 5 with CONNACK 1 (unacceptable protocol version),
// then closes. That is right for a 3.1.1 server (MQTT 3.1.1 section 3.1.2.2), but
// the operator should learn why a client cannot connect, so it is said in a log
// line (at a limited rate) instead of a generic protocol error. The only Node MQTT 5
// broker, aedes 2.0.0-beta, must not ship (README, docs/authentication.md).
import type { Client, ConnectPacket } from 'aedes';
import type { LogLimiter } from '../logLimiter.js';

export const MQTT5_PROTOCOL_LEVEL = 5;

type PreConnect = (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void) => void;

/**
 * An aedes preConnect hook that only notices MQTT 5 CONNECTs and lets aedes refuse
 * them as before (CONNACK 1). Everything else passes untouched.
 */
export function mqtt5NoticeHook(limitedLog: LogLimiter): PreConnect {
  return (client, packet, callback) => {
    if (packet.protocolVersion === MQTT5_PROTOCOL_LEVEL) {
      const address = (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
      limitedLog.log(
        'info',
        'mqtt5_unsupported',
        { clientId: String(packet.clientId ?? '').slice(0, 128), address, protocolVersion: MQTT5_PROTOCOL_LEVEL },
        'MQTT 5 is not supported yet: refused with CONNACK 1 (unacceptable protocol version); connect with MQTT 3.1.1',
      );
    }
    callback(null, true);
  };
}

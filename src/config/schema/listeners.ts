// The broker's listeners: plain MQTT, MQTT over TLS, over WebSocket and over
// secure WebSocket.
import { bool, file, list, obj, port, str } from '../spec.js';

const ANY_ADDRESS = '0.0.0.0';
const WS_PATH = '/mqtt';

export const listenersSpec = obj({
  tcp: obj({
    enabled: bool(true, 'plain MQTT listener'),
    host: str({ nonEmpty: true, default: ANY_ADDRESS, description: 'address to bind' }),
    port: port(1883, 'port (0 = any free port)'),
  }),
  tls: obj({
    enabled: bool(false, 'MQTT over TLS (1.2 or newer only)'),
    host: str({ nonEmpty: true, default: ANY_ADDRESS, description: 'address to bind' }),
    port: port(8883, 'port'),
    certFile: file('PEM certificate chain (required when TLS is enabled)'),
    keyFile: file('PEM private key (required when TLS is enabled)'),
    caFile: file('CA bundle for client certificates'),
    requestClientCert: bool(false, 'require and verify a client certificate against `caFile` (in addition to the JWT)'),
  }),
  ws: obj({
    enabled: bool(
      false,
      'MQTT over WebSocket (subprotocol `mqtt`; `mqttv3.1` accepted). The same JWT authentication, ACLs, expiry, revocation, rate limiting (by the TCP ' +
        'peer address), packet size limit, bridge and `$SYS` as on TCP. The WebSocket library is loaded only when this or `listeners.wss` is enabled',
    ),
    host: str({ nonEmpty: true, default: ANY_ADDRESS, description: 'address to bind' }),
    port: port(8083, 'port (0 = any free port; `edgegate status` shows the one bound)'),
    path: str({ nonEmpty: true, default: WS_PATH, description: 'URL path of the upgrade (query string ignored); an upgrade on any other path gets HTTP 404' }),
    allowedOrigins: list(str({ nonEmpty: true }), {
      description:
        'when non-empty, an upgrade whose `Origin` header is not listed (exact match, e.g. `https://dash.example.com`; case-insensitive) is refused with ' +
        'HTTP 403. An upgrade without `Origin` (not from a browser) is let through, as in EMQX; the token is still required',
    }),
  }),
  wss: obj({
    enabled: bool(false, 'MQTT over WebSocket with TLS (1.2 or newer only)'),
    host: str({ nonEmpty: true, default: ANY_ADDRESS, description: 'address to bind' }),
    port: port(8084, 'port (0 = any free port)'),
    path: str({ nonEmpty: true, default: WS_PATH, description: 'as `listeners.ws.path`' }),
    allowedOrigins: list(str({ nonEmpty: true }), { description: 'as `listeners.ws.allowedOrigins`' }),
    certFile: file('PEM certificate chain (required when WSS is enabled)'),
    keyFile: file('PEM private key (required when WSS is enabled)'),
    caFile: file('PEM CA bundle given to TLS as for `listeners.tls.caFile`; WSS does not request client certificates (browsers authenticate with the token)'),
  }),
});

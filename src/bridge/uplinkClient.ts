// The mqtt.js client of the uplink. mqtt.connect() loads, on its first call, every
// transport mqtt.js knows, WebSocket (the ws package, with http, https and zlib)
// included: about 2 MiB of memory on a Pi whose uplink is plain MQTT or MQTT over
// TLS. For mqtt:// and mqtts:// the client is built here on mqtt.js's own TCP and
// TLS stream builders, exactly as mqtt.connect() would; ws:// and wss:// still go
// through mqtt.connect().
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import tcpModule from 'mqtt/lib/connect/tcp';
import tlsModule from 'mqtt/lib/connect/tls';

type StreamBuilder = (typeof tcpModule)['default'];
/** A CommonJS module's `exports.default`, whichever interop the loader applied. */
const builder = (m: { default: StreamBuilder } | StreamBuilder): StreamBuilder => (typeof m === 'function' ? m : m.default);
const buildTcpStream = builder(tcpModule);
const buildTlsStream = builder(tlsModule);

export function createUplinkClient(url: string, options: IClientOptions): MqttClient {
  const parsed = new URL(url);
  if (parsed.protocol !== 'mqtt:' && parsed.protocol !== 'mqtts:') return mqtt.connect(url, options);
  const secure = parsed.protocol === 'mqtts:';
  const opts: IClientOptions = {
    ...options,
    protocol: secure ? 'mqtts' : 'mqtt',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : secure ? 8883 : 1883,
  };
  // Credentials in the URL (mqtt://user:pass@host), as mqtt.connect() reads them.
  if (parsed.username && opts.username === undefined) {
    opts.username = decodeURIComponent(parsed.username);
    if (parsed.password) opts.password = decodeURIComponent(parsed.password);
  }
  const build = secure ? buildTlsStream : buildTcpStream;
  return new MqttClient((client) => build(client, opts), opts);
}

/** Ends the connection cleanly (DISCONNECT), or forcibly once `ms` have passed. */
export function endUplinkClient(client: MqttClient, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      client.end(true);
      resolve();
    }, ms);
    client.end(false, {}, () => {
      clearTimeout(t);
      resolve();
    });
  });
}

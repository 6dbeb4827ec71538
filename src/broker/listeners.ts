// The sockets sensors connect to: plain TCP, TLS (1.2 or newer), and, when
// enabled, MQTT over WebSocket and WebSocket with TLS (websocket.ts, loaded only
// then). Each accepted stream is handed to aedes after the same packet guard; a
// listener never dies of a bad peer.
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { TcpListenerConfig, TlsListenerConfig, WsListenerConfig, WssListenerConfig } from '../config/types.js';
import { ListenError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PacketRejection } from './packetGuard.js';
import { guardPackets } from './socketGuard.js';

/**
 * Pending-connection queue of the listening socket. Node's default (511)
 * overflows when a thousand sensors reconnect at once after a gateway restart:
 * the kernel drops the excess SYNs and those clients retry only after a 1 s
 * timeout. EMQX uses 1024 too; the kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 1024;

export type ListenerName = 'tcp' | 'tls' | 'ws' | 'wss';

export type ListenerAddresses = Partial<Record<ListenerName, AddressInfo>>;

/** A connection's byte stream: a TCP/TLS socket, or a WebSocket's stream carrying its TCP peer's address. */
export type ClientStream = Duplex & { remoteAddress?: string };

export interface ListenersConfig {
  tcp: TcpListenerConfig;
  tls: TlsListenerConfig;
  ws?: WsListenerConfig;
  wss?: WssListenerConfig;
}

export interface PacketLimits {
  /** Largest remaining length accepted for any packet (broker.maxPacketBytes). */
  maxPacketBytes: number;
  /** Told about each closed connection (counts the metric). */
  onReject?: (why: PacketRejection) => void;
}

/**
 * How long a connection told why it is closed (an MQTT 5 DISCONNECT) may take to
 * flush it before it is destroyed anyway: a peer that does not read must not hold
 * the socket.
 */
const DISCONNECT_LINGER_MS = 1000;

/** What aedes puts on a stream it handles (`conn.client`): its Client, of which only this is read. */
interface AedesClientView {
  version?: number | null;
  connackSent?: boolean;
}

/**
 * The MQTT 5 reason code to send in a DISCONNECT before closing a connection the
 * packet guard refused, or undefined to close it silently. MQTT 5.0 section 4.13:
 * after an error in a packet other than CONNECT the server SHOULD send a DISCONNECT
 * with the reason code first: 0x95 Packet too large for a packet above the Maximum
 * Packet Size the CONNACK announced [MQTT-3.2.2-15 family, section 3.14.2.1]; 0x81
 * Malformed Packet for a bad remaining length (section 1.5.5), ill-formed UTF-8
 * (section 1.5.4), a properties block that cannot be read or holds a property its
 * packet may not carry (section 2.2.2.2), or a bad fixed header or body layout
 * (sections 2.1.3, 3.3.1, 3.12); 0x82 Protocol Error for a well-formed packet the
 * spec forbids: a property twice, a value out of range, packet identifier 0, a
 * packet after the client's DISCONNECT (mqtt5Rules.ts). Only once the CONNACK is out: no DISCONNECT before a CONNACK
 * [MQTT-3.14.0-1] (a bad CONNECT gets a CONNACK or nothing, section 4.13.1).
 * MQTT 3.1.1 has no server DISCONNECT: closed silently, as always.
 */
function disconnectReasonCode(stream: ClientStream, why: PacketRejection): number | undefined {
  const client = (stream as { client?: AedesClientView }).client;
  if (client?.version !== 5 || client.connackSent !== true) return undefined;
  switch (why.reason) {
    case 'too_large':
      return 0x95;
    case 'invalid_utf8':
    case 'malformed_length':
    case 'malformed_properties':
    case 'malformed_packet':
      return 0x81;
    case 'protocol_error':
      return 0x82;
    default:
      return undefined;
  }
}

/**
 * Closes a stream the packet guard refused; returns the DISCONNECT reason code if
 * one was sent. The guard calls this synchronously inside aedes's read, between two
 * packets, and aedes writes whole packets, so the 3-byte DISCONNECT cannot land
 * inside another packet. end() queues it behind what aedes already wrote, refuses
 * any later write (nothing may follow a DISCONNECT [MQTT-3.14.4-1]) and sends FIN;
 * the stream is destroyed once that is flushed. The guard hands nothing more to
 * aedes meanwhile. A WebSocket stream (websocket.ts) carries the same `client`
 * and gets the same treatment: the DISCONNECT in one binary message, then the
 * WebSocket close.
 */
function closeRejected(stream: ClientStream, why: PacketRejection): number | undefined {
  const reasonCode = disconnectReasonCode(stream, why);
  if (reasonCode === undefined || !stream.writable) {
    stream.destroy();
    return undefined;
  }
  const timer = setTimeout(() => stream.destroy(), DISCONNECT_LINGER_MS);
  timer.unref();
  stream.end(Buffer.from([0xe0, 0x01, reasonCode]), () => {
    clearTimeout(timer);
    stream.destroy();
  });
  return reasonCode;
}

export class Listeners {
  private servers = new Map<ListenerName, Server>();
  private sockets = new Set<ClientStream>();
  private readonly closeIdleHttp: Array<() => void> = [];

  constructor(
    private readonly config: ListenersConfig,
    private readonly handle: (stream: ClientStream) => void,
    private readonly logger: Logger,
    private readonly limits: PacketLimits,
  ) {}

  async start(): Promise<void> {
    if (this.config.tcp.enabled) {
      await this.listen(
        'tcp',
        createTcpServer((s) => this.accept(s)),
        this.config.tcp,
      );
    }
    const tls = this.config.tls;
    if (tls.enabled) {
      const server = createTlsServer(
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          ca: tls.caFile ? readFileSync(tls.caFile) : undefined,
          requestCert: tls.requestClientCert,
          rejectUnauthorized: tls.requestClientCert,
          minVersion: 'TLSv1.2',
        },
        (s) => this.accept(s),
      );
      // A failed handshake (plain MQTT on the TLS port, old TLS) only concerns that peer.
      server.on('tlsClientError', (err) => this.logger.debug({ err: err.message }, 'TLS handshake failed'));
      await this.listen('tls', server, tls);
    }
    for (const name of ['ws', 'wss'] as const) {
      const cfg = this.config[name];
      if (cfg?.enabled) await this.startWebSocket(name, cfg);
    }
  }

  /** The `ws` package is imported here, only when a WebSocket listener is enabled. */
  private async startWebSocket(name: 'ws' | 'wss', cfg: WsListenerConfig | WssListenerConfig): Promise<void> {
    const { WebSocketListener } = await import('./websocket.js');
    const listener = new WebSocketListener({
      name,
      config: cfg,
      tls: name === 'wss' ? (cfg as WssListenerConfig) : undefined,
      maxPacketBytes: this.limits.maxPacketBytes,
      accept: (stream) => this.accept(stream),
      onMessageTooLarge: () => this.limits.onReject?.({ reason: 'too_large', packetType: 0 }),
      logger: this.logger,
    });
    this.closeIdleHttp.push(() => listener.closeIdle());
    await this.listen(name, listener.server, cfg, { path: cfg.path });
  }

  addresses(): ListenerAddresses {
    const out: ListenerAddresses = {};
    for (const [name, server] of this.servers) out[name] = server.address() as AddressInfo;
    return out;
  }

  /**
   * Stops accepting; existing connections are left to the broker to close.
   * `server.close()` stops listening at once but calls back only when every
   * connection has ended, so waiting for it here (before the broker closes
   * its clients) would never return while a client is connected.
   */
  async stopAccepting(): Promise<void> {
    for (const server of this.servers.values()) server.close();
    this.servers.clear();
  }

  /** Destroys sockets that are still open (e.g. never sent CONNECT), and HTTP connections that never upgraded. */
  destroyRemaining(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    for (const close of this.closeIdleHttp.splice(0)) close();
  }

  private accept(socket: ClientStream): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // aedes reports it; never an uncaught error
    (socket as Partial<Socket>).setNoDelay?.(true); // a WebSocket's socket: ws sets it
    const address = socket.remoteAddress;
    guardPackets(socket, this.limits.maxPacketBytes, (why) => {
      const reasonCode = closeRejected(socket, why);
      this.limits.onReject?.(why);
      // Sizes only, never content. Junk from port scanners stays at debug.
      if (why.reason === 'too_large') {
        this.logger.info(
          {
            address,
            packetType: why.packetType,
            announcedBytes: why.announced,
            limitBytes: why.limit,
            ...(reasonCode !== undefined ? { disconnectReasonCode: reasonCode } : {}),
          },
          'connection closed: packet too large',
        );
      } else {
        this.logger.debug({ address, reason: why.reason, packetType: why.packetType }, 'connection closed: malformed or unexpected packet');
      }
    });
    this.handle(socket);
  }

  private listen(name: ListenerName, server: Server, cfg: TcpListenerConfig, extra: Record<string, unknown> = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const env = { tcp: 'EDGEGATE_PORT', tls: 'EDGEGATE_TLS_PORT' } as Partial<Record<ListenerName, string>>;
      server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError(`listeners.${name}.port`, cfg.host, cfg.port, err, env[name])));
      server.listen({ port: cfg.port, host: cfg.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err, listener: name }, 'listener error'));
        this.servers.set(name, server);
        const a = server.address() as AddressInfo;
        this.logger.info({ listener: name, host: a.address, port: a.port, ...extra }, 'listening');
        resolve();
      });
    });
  }
}

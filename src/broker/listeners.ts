// The sockets sensors connect to: plain TCP, TLS (1.2 or newer), and, when
// enabled, MQTT over WebSocket and WebSocket with TLS (websocket.ts, loaded only
// then). Each accepted stream is handed to aedes after the same packet guard; a
// listener never dies of a bad peer.
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { TcpListenerConfig, TlsListenerConfig, WsListenerConfig, WssListenerConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { guardPackets, type PacketRejection } from './packetGuard.js';

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
      await this.listen('tcp', createTcpServer((s) => this.accept(s)), this.config.tcp);
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
      socket.destroy();
      this.limits.onReject?.(why);
      // Sizes only, never content. Junk from port scanners stays at debug.
      if (why.reason === 'too_large') {
        this.logger.info({ address, packetType: why.packetType, announcedBytes: why.announced, limitBytes: why.limit }, 'connection closed: packet too large');
      } else {
        this.logger.debug({ address, reason: why.reason, packetType: why.packetType }, 'connection closed: malformed or unexpected packet');
      }
    });
    this.handle(socket);
  }

  private listen(name: ListenerName, server: Server, cfg: TcpListenerConfig, extra: Record<string, unknown> = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
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

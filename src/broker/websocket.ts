// MQTT over WebSocket (listeners.ws) and over WebSocket with TLS (listeners.wss).
// An HTTP(S) server takes upgrades on one path only (404 elsewhere), checks the
// Origin when an allow-list is configured (403), and turns each accepted WebSocket
// into a byte stream (ws's createWebSocketStream), which then takes exactly the
// road of a TCP socket: packet guard, aedes, the same hooks. WebSocket messages
// do not delimit MQTT packets: a message may carry half a packet or several.
//
// This module (and with it the `ws` package) is imported only when a WebSocket
// listener is enabled: the gateway's idle memory is budgeted (docs/benchmarks.md).
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';
import type { WsListenerConfig, WssListenerConfig } from '../config/types.js';
import type { Logger } from '../log.js';

/** Subprotocols offered by MQTT clients, in our order of preference (MQTT 3.1.1 section 6). */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/** What one WebSocket listener needs from its owner. */
export interface WebSocketListenerOptions {
  name: 'ws' | 'wss';
  config: WsListenerConfig | WssListenerConfig;
  /** TLS (wss) when set. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Largest MQTT remaining length accepted (broker.maxPacketBytes). */
  maxPacketBytes: number;
  /** Takes an accepted connection's byte stream (its `remoteAddress` is the TCP peer's). */
  accept: (stream: Duplex & { remoteAddress?: string }) => void;
  /** A WebSocket message over the size bound closed its connection. */
  onMessageTooLarge?: (address: string | undefined) => void;
  logger: Logger;
}

export function pickSubprotocol(offered: Set<string>): string | false {
  for (const p of SUBPROTOCOLS) if (offered.has(p)) return p;
  return false;
}

/** Origins compare as ASCII case-insensitive strings without a trailing slash (RFC 6454 serialisation). */
function normaliseOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

/**
 * The upgrade path without query string. Only the path of the request target
 * counts: `/mqtt?x=1` is `/mqtt`, `/mqtt/` is not.
 */
function requestPath(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

/** A bare HTTP response on a socket that is then closed (refused upgrades). */
function refuse(socket: Duplex, status: 403 | 404 | 426, text: string): void {
  const body = `${text}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  // A peer that never reads must not hold the socket: destroy soon after the response.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class WebSocketListener {
  readonly server: HttpServer;
  private readonly wss: WebSocketServer;
  private readonly allowed?: Set<string>;
  private readonly path: string;

  constructor(private readonly o: WebSocketListenerOptions) {
    this.path = o.config.path;
    this.allowed = o.config.allowedOrigins.length > 0 ? new Set(o.config.allowedOrigins.map(normaliseOrigin)) : undefined;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false, // aedes and Listeners track connections
      perMessageDeflate: false, // MQTT payloads are small or already compressed; inflate is a memory risk
      // A message is buffered whole before it reaches the stream: bound it by the
      // largest packet the broker accepts (header <= 5 bytes) plus room for small
      // packets sent in the same message. Larger: close 1009 (message too big).
      maxPayload: o.maxPacketBytes + 5 + 65_536,
      handleProtocols: (offered) => pickSubprotocol(offered),
    });
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      // Plain HTTP: say what this port is for, nothing else.
      const onPath = requestPath(req.url) === this.path;
      res.writeHead(onPath ? 426 : 404, { 'Content-Type': 'text/plain', Connection: 'close', ...(onPath ? { Upgrade: 'websocket' } : {}) });
      res.end(onPath ? 'Upgrade Required: MQTT over WebSocket\n' : 'Not Found\n');
    };
    if (o.tls) {
      this.server = createHttpsServer(
        {
          cert: readFileSync(o.tls.certFile),
          key: readFileSync(o.tls.keyFile),
          ca: o.tls.caFile ? readFileSync(o.tls.caFile) : undefined,
          minVersion: 'TLSv1.2',
        },
        onRequest,
      );
      this.server.on('tlsClientError', (err) => o.logger.debug({ err: err.message, listener: o.name }, 'TLS handshake failed'));
    } else {
      this.server = createHttpServer(onRequest);
    }
    // Bad HTTP from a peer concerns that peer only (Node answers 400 by default; just close).
    this.server.on('clientError', (_err, socket) => socket.destroy());
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Closes the HTTP connections that never upgraded (upgraded ones belong to aedes). */
  closeIdle(): void {
    this.server.closeAllConnections();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const address = (socket as Socket).remoteAddress;
    if (requestPath(req.url) !== this.path) {
      this.o.logger.debug({ listener: this.o.name, address, path: requestPath(req.url) }, 'WebSocket upgrade refused: wrong path');
      return refuse(socket, 404, 'Not Found');
    }
    const origin = req.headers.origin;
    // No Origin: not a browser (browsers always send it on a WebSocket upgrade); the token decides.
    if (this.allowed && origin !== undefined && !this.allowed.has(normaliseOrigin(origin))) {
      this.o.logger.info({ listener: this.o.name, address, origin: origin.slice(0, 200) }, 'WebSocket upgrade refused: origin not allowed');
      return refuse(socket, 403, 'Forbidden');
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => this.open(ws, address));
  }

  private open(ws: WebSocket, address: string | undefined): void {
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.o.logger.info({ listener: this.o.name, address }, 'connection closed: WebSocket message too large');
        this.o.onMessageTooLarge?.(address);
      } else {
        this.o.logger.debug({ listener: this.o.name, address, err: err.message }, 'WebSocket error');
      }
    });
    const stream = createWebSocketStream(ws) as Duplex & { remoteAddress?: string };
    // The authenticator (rate limit, bans, logs) reads conn.remoteAddress: the TCP peer's.
    stream.remoteAddress = address;
    this.o.accept(stream);
  }
}

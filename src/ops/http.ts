// The operations HTTP endpoint: GET /healthz (JSON, 200 when serving, 503 when
// not), GET /metrics (Prometheus text) and the status page (GET /, /assets/,
// /api/: page/pageServer.ts, imported on its first request). Loopback by
// default; small and bounded, since anything on the network may talk to it:
// short timeouts, few connections, small headers, request bodies never read
// (but the page's small JSON POSTs), and a malformed request costs a 400 and
// the connection, never the daemon.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Component } from '../component.js';
import type { HttpConfig } from '../config/types.js';
import { ListenError } from '../errors.js';
import type { HealthReport } from '../health.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PageDeps, PageServer } from './page/pageServer.js';

const MAX_CONNECTIONS = 32;
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 8 * 1024;

export interface HttpEndpointDeps {
  config: HttpConfig;
  metrics: Metrics;
  logger: Logger;
  /** Builds the health report. */
  report: () => HealthReport;
  /** What the status page (GET /, http.statusPage) and http.metricsAuth are built from; their code loads on first use. */
  page?: PageDeps;
}

/** Registered only when http.enabled. The bound address (none until listening) is how tests and users learn a port 0 choice. */
export interface HttpStatus {
  enabled: true;
  host?: string;
  port?: number;
}

declare module '../status.js' {
  interface StatusMap {
    http: HttpStatus;
  }
}

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export class HttpEndpoint implements Component {
  readonly name = 'http';
  private server?: Server;
  private serving = false;
  private readonly sockets = new Set<Socket>();
  private pageServer?: Promise<PageServer>;

  constructor(private readonly deps: HttpEndpointDeps) {}

  async start(): Promise<void> {
    const server = createServer(
      { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES },
      (req, res) => this.handle(req, res),
    );
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Garbage on the wire (not HTTP, oversized headers, timeouts): answer 400, 431
    // or 408 if the socket still can, then drop it; an 'error' on the socket
    // afterwards must not escape either.
    server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
      socket.on('error', () => undefined);
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    const { host, port } = this.deps.config;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new ListenError('http.port', host, port, err, 'EDGEGATE_HTTP_PORT')));
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.deps.logger.error({ err }, 'http server error'));
        resolve();
      });
    });
    this.server = server;
    this.serving = true;
    const a = this.address();
    this.deps.logger.info({ host: a?.host, port: a?.port }, 'health and metrics endpoint listening');
  }

  /** The bound address (the real port when configured with port 0). */
  address(): { host: string; port: number } | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  status(): HttpStatus {
    return { enabled: true, ...(this.address() ?? {}) };
  }

  async stop(): Promise<void> {
    this.serving = false;
    const server = this.server;
    this.server = undefined;
    // Open pages' event streams end first (they would hold the server open).
    (await this.pageServer?.catch(() => undefined))?.stop();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections (Prometheus keeps one open) would hold close() open.
    server.closeIdleConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const path = pathOf(req.url);
    if (path !== undefined && this.deps.page && this.deps.config.statusPage && isPagePath(path)) {
      this.loadPage()
        .then((page) => page.handle(req, res, path))
        .catch((err: unknown) => this.failed(err, req, res));
      return;
    }
    // We never read bodies; one that is being sent ends the connection after the answer.
    if (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') res.setHeader('Connection', 'close');
    if (req.headers['transfer-encoding'] !== undefined) res.setHeader('Connection', 'close');
    req.resume();
    const route = this.route(path);
    if (!route) return send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    Promise.resolve(route(req, res)).catch((err: unknown) => this.failed(err, req, res));
  }

  private failed(err: unknown, req: IncomingMessage, res: ServerResponse): void {
    this.deps.logger.error({ err }, 'http handler failed');
    if (!res.headersSent) send(res, req, 500, 'text/plain; charset=utf-8', 'internal error\n');
    else res.destroy();
  }

  /** The status page's server code, imported on the first request that needs it (the bundle only pre-parses it). */
  private loadPage(): Promise<PageServer> {
    const deps = this.deps.page;
    if (!deps) return Promise.reject(new Error('status page not configured'));
    return (this.pageServer ??= import('./page/pageServer.js').then((m) => m.createPageServer(deps)));
  }

  private route(path: string | undefined): Route | undefined {
    if (path === '/healthz') return (req, res) => this.healthz(req, res);
    if (path === '/metrics') return (req, res) => this.metrics(req, res);
    return undefined;
  }

  /** The health report as this endpoint answers it: unhealthy once it stops serving. */
  private verdict(): HealthReport {
    const report = this.deps.report();
    if (!this.serving && report.healthy) {
      report.healthy = false;
      report.status = 'unhealthy';
    }
    return report;
  }

  private healthz(req: IncomingMessage, res: ServerResponse): void {
    const report = this.verdict();
    send(res, req, report.healthy ? 200 : 503, 'application/json; charset=utf-8', JSON.stringify(report) + '\n');
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.deps.config.metricsAuth && !(await this.loadPage().then((p) => p.authorizeMetrics(req)))) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="edgegate"');
      return send(res, req, 401, 'text/plain; charset=utf-8', 'an admin token is required (http.metricsAuth)\n');
    }
    // edgegate_healthy is this endpoint's verdict, the one GET /healthz gives; the other gauges are their owners'.
    this.deps.metrics.healthy.set(this.verdict().healthy ? 1 : 0);
    const registry = this.deps.metrics.registry;
    send(res, req, 200, registry.contentType, await registry.metrics());
  }
}

/** Paths of the status page (answered by page/pageServer.ts). */
export function isPagePath(path: string): boolean {
  return path === '/' || path.startsWith('/assets/') || path.startsWith('/api/');
}

/** The path of a request target, or undefined when it is not one we could route. */
export function pathOf(url: string | undefined): string | undefined {
  if (!url || url.length > 2048) return undefined;
  try {
    const path = new URL(url, 'http://localhost').pathname;
    return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, contentType: string, body: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

// The status page's server side, loaded by ../http.ts on the first request for
// it (nobody looking costs nothing). Routes:
//   GET  /                          the page (static HTML; data comes from the API)
//   GET  /assets/<file>             its script, style and uPlot
//   GET  /api/session               {authRequired, loggedIn, subject, csrf}; sets the session cookie
//   POST /api/login {token}         admin token → admin session (new cookie)
//   POST /api/logout
//   GET  /api/status                overview, sensors, bridge, serial (pageStatus.ts)
//   GET  /api/samples               the chart ring (sampler.ts)
//   GET  /api/events                Server-Sent Events: status and sample
//   POST /api/clients/disconnect {clientId}
//   POST /api/revoke {kind: "jti"|"sub", value, reason?}
// Every POST needs the session's CSRF token in X-CSRF-Token and a same-origin
// Origin; with a login required (pageAuthPolicy.ts) everything under /api/ but
// /api/session and /api/login needs an admin session.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TrustedKey } from '../../auth/keys.js';
import type { RevocationStore } from '../../auth/revocations.js';
import type { ClientView } from '../../broker/sessions.js';
import type { GatewayClock } from '../../clock/gatewayClock.js';
import type { HttpConfig, JwtConfig } from '../../config/types.js';
import type { HealthReport } from '../../health.js';
import type { Logger } from '../../log.js';
import { pageAuthRequired } from '../pageAuthPolicy.js';
import type { StatusSampler } from '../sampler.js';
import { AdminLogin } from './adminLogin.js';
import { EventStream } from './eventStream.js';
import { PageActions, type PageBroker } from './pageActions.js';
import { json, loopbackHostHeader, overTls, readJson, reply, SECURITY_HEADERS, sameOrigin } from './pageHttp.js';
import { csrfValid, type PageSession, PageSessions, sessionCookie } from './pageSessions.js';
import { buildPageStatus } from './pageStatus.js';
import { StaticAssets } from './staticAssets.js';

export interface PageDeps {
  http: HttpConfig;
  jwt: JwtConfig;
  clock: GatewayClock;
  logger: Logger;
  keys: () => readonly TrustedKey[];
  report: () => HealthReport;
  broker: PageBroker & { clientViews(): ClientView[]; onClientsChanged(fn: () => void): () => void };
  sampler?: StatusSampler;
  revocations: () => RevocationStore | undefined;
  maxRevocations: number;
  /** The authenticator's immediate revocation (see Authenticator.refuseFromNow). */
  refuseFromNow: (kind: 'jti' | 'sub', value: string, reason: string) => void;
}

export class PageServer {
  private readonly authRequired: boolean;
  private readonly sessions: PageSessions;
  private readonly assets = new StaticAssets();
  private readonly login: AdminLogin;
  private readonly actions: PageActions;
  private readonly events: EventStream;
  /** Revocation generation last checked against the admin sessions. */
  private checkedGeneration = -1;

  constructor(private readonly deps: PageDeps) {
    this.authRequired = pageAuthRequired(deps.http);
    this.sessions = new PageSessions(() => deps.clock.now());
    this.login = new AdminLogin({
      keys: deps.keys,
      rules: deps.jwt,
      now: () => deps.clock.now(),
      monotonic: () => deps.clock.monotonic(),
      revocations: deps.revocations,
    });
    this.actions = new PageActions({
      broker: deps.broker,
      revocations: deps.revocations,
      maxRevocations: deps.maxRevocations,
      now: () => deps.clock.now(),
      logger: deps.logger,
      refuseFromNow: deps.refuseFromNow,
      endAdminSessions: (match) => this.sessions.endWhere(match),
    });
    this.events = new EventStream({ clock: deps.clock, status: () => this.status(), sampler: deps.sampler, changes: (fn) => deps.broker.onClientsChanged(fn) });
  }

  stop(): void {
    this.events.stop();
    this.sessions.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!this.authRequired && !loopbackHostHeader(req)) return json(req, res, 403, { error: 'this page answers loopback host names only (see http.pageAuth)' });
    const post = req.method === 'POST';
    if (!post && req.method !== 'GET' && req.method !== 'HEAD') return json(req, res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD, POST' });
    if (!post) req.resume();
    if (post && !sameOrigin(req)) {
      req.resume();
      return json(req, res, 403, { error: 'cross-origin request refused' });
    }
    if (path === '/') return this.asset(req, res, 'index.html', post);
    if (path.startsWith('/assets/')) return this.asset(req, res, path.slice('/assets/'.length), post);
    const route = `${post ? 'POST' : 'GET'} ${path}`;
    switch (route) {
      case 'GET /api/session':
        return this.session(req, res);
      case 'POST /api/login':
        return this.doLogin(req, res);
      case 'POST /api/logout':
        return this.withPost(req, res, false, (s) => {
          this.sessions.end(s);
          return { status: 200, body: { loggedIn: false }, headers: { 'Set-Cookie': sessionCookie(undefined, overTls(req), this.deps.clock.now()) } };
        });
      case 'GET /api/status':
        return this.withAccess(req, res, () => json(req, res, 200, this.status()));
      case 'GET /api/samples':
        return this.withAccess(req, res, () => json(req, res, 200, this.samples()));
      case 'GET /api/events':
        if (req.method === 'HEAD') return json(req, res, 405, { error: 'an event stream needs GET' }, { Allow: 'GET' });
        return this.withAccess(req, res, (s) => this.events.attach(res, { ...SECURITY_HEADERS }, () => this.alive(s)));
      case 'POST /api/clients/disconnect':
        return this.withPost(req, res, true, (s, body) => this.actions.disconnect(body.clientId, s.admin));
      case 'POST /api/revoke':
        return this.withPost(req, res, true, (s, body) => this.actions.revoke(body.kind, body.value, body.reason, s.admin));
      default:
        if (post) req.resume();
        return json(req, res, 404, { error: 'not found' });
    }
  }

  /** GET /metrics with http.metricsAuth: an admin token as a Bearer credential, or an admin page session. */
  async authorizeMetrics(req: IncomingMessage): Promise<boolean> {
    const session = this.sessions.fromRequest(req);
    if (session?.admin && this.alive(session)) return true;
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const result = await this.login.login(m[1], req.socket.remoteAddress ?? 'unknown');
    if (!result.ok) this.deps.logger.info({ reason: result.reason, address: req.socket.remoteAddress }, 'metrics scrape refused');
    return result.ok;
  }

  private asset(req: IncomingMessage, res: ServerResponse, name: string, post: boolean): void {
    if (post) {
      req.resume();
      return json(req, res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    }
    const asset = this.assets.get(name);
    if (!asset) return json(req, res, 404, { error: 'not found' });
    reply(req, res, 200, asset.contentType, asset.body);
  }

  private session(req: IncomingMessage, res: ServerResponse): void {
    let session = this.sessions.fromRequest(req);
    if (session && !this.alive(session)) session = undefined;
    const headers: Record<string, string> = {};
    if (!session) {
      session = this.sessions.create();
      headers['Set-Cookie'] = sessionCookie(session, overTls(req), this.deps.clock.now());
    }
    json(
      req,
      res,
      200,
      { authRequired: this.authRequired, loggedIn: session.admin !== undefined, subject: session.admin?.subject ?? null, csrf: session.csrf },
      headers,
    );
  }

  private async doLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const current = this.sessions.fromRequest(req);
    const body = await readJson(req);
    if (typeof body === 'number') return json(req, res, body, { error: 'expected a JSON object' });
    if (!current || !csrfValid(req, current)) return json(req, res, 403, { error: 'missing or wrong CSRF token: reload the page' });
    const address = req.socket.remoteAddress ?? 'unknown';
    const result = await this.login.login(body.token, address);
    if (!result.ok) {
      this.deps.logger.warn({ reason: result.reason, address }, 'status page login refused');
      const error =
        result.status === 403
          ? 'not an admin token (no "edgegate": {"admin": true} claim)'
          : result.status === 429
            ? 'too many failed logins: wait a minute'
            : `token refused: ${result.reason}`;
      return json(req, res, result.status, { error, reason: result.reason });
    }
    this.sessions.end(current);
    const session = this.sessions.create(result.admin, result.expiresAtMs ?? undefined);
    this.deps.logger.info({ sub: result.admin.subject, address }, 'status page login');
    json(
      req,
      res,
      200,
      { loggedIn: true, subject: result.admin.subject, csrf: session.csrf },
      { 'Set-Cookie': sessionCookie(session, overTls(req), this.deps.clock.now()) },
    );
  }

  /** Reading the page's data: an admin session when a login is required, nothing more otherwise (loopback only). */
  private allowed(session: PageSession | undefined): boolean {
    return !this.authRequired || (session?.admin !== undefined && this.alive(session));
  }

  private withAccess(req: IncomingMessage, res: ServerResponse, fn: (s: PageSession | undefined) => void): void {
    const session = this.sessions.fromRequest(req);
    if (!this.allowed(session)) return json(req, res, 401, { error: 'login required' });
    fn(session);
  }

  /** A POST: CSRF token of a live session always; an admin session too when `needsAccess` and a login is required. */
  private async withPost(
    req: IncomingMessage,
    res: ServerResponse,
    needsAccess: boolean,
    fn: (s: PageSession, body: Record<string, unknown>) => { status: number; body: Record<string, unknown>; headers?: Record<string, string> },
  ): Promise<void> {
    const body = await readJson(req);
    if (typeof body === 'number') return json(req, res, body, { error: 'expected a JSON object' });
    const session = this.sessions.fromRequest(req);
    if (!session || !csrfValid(req, session)) return json(req, res, 403, { error: 'missing or wrong CSRF token: reload the page' });
    if (needsAccess && !this.allowed(session)) return json(req, res, 401, { error: 'login required' });
    const result = fn(session, body);
    json(req, res, result.status, result.body, result.headers);
  }

  /** A session is alive while it exists and, for an admin, its token is not revoked (checked when revocations change). */
  private alive(session: PageSession | undefined): boolean {
    if (!session) return !this.authRequired;
    const store = this.deps.revocations();
    const generation = store?.generation() ?? 0;
    if (generation !== this.checkedGeneration) {
      this.checkedGeneration = generation;
      this.sessions.endWhere((admin) => this.login.isRevoked(admin));
    }
    return this.sessions.has(session);
  }

  private status(): Record<string, unknown> {
    return buildPageStatus({
      report: this.deps.report,
      clients: () => this.deps.broker.clientViews(),
      bridgeState: () => this.deps.sampler?.bridgeState(),
      authRequired: this.authRequired,
    });
  }

  private samples(): Record<string, unknown> {
    const s = this.deps.sampler;
    return { intervalSec: (s?.intervalMs ?? 0) / 1000, capacity: s?.capacity ?? 0, series: s?.series() ?? {} };
  }
}

export function createPageServer(deps: PageDeps): PageServer {
  return new PageServer(deps);
}

// Browser sessions of the status page, in memory (a restart logs everyone out).
// A session is a random id in an HttpOnly, SameSite=Strict cookie plus a random
// CSRF token the page sends back in a header with every POST. Anonymous sessions
// exist for the CSRF token alone (loopback without login); logging in replaces
// the session (new id and token: no session fixation). Bounded: the oldest
// anonymous session goes first, so that a flood of GET /api/session (which
// anyone who reaches the page may send) cannot log an admin out.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const COOKIE_NAME = 'edgegate_session';
export const CSRF_HEADER = 'x-csrf-token';
const MAX_SESSIONS = 64;
/** Anonymous sessions and the longest an admin session lasts (an admin token's exp may end it sooner). */
export const SESSION_TTL_MS = 12 * 3600_000;

export interface AdminIdentity {
  subject: string | null;
  jti: string | null;
}

export interface PageSession {
  id: string;
  csrf: string;
  expiresAtMs: number;
  admin?: AdminIdentity;
}

export class PageSessions {
  private readonly sessions = new Map<string, PageSession>();

  constructor(private readonly now: () => number) {}

  /** The live session named by the request's cookie. */
  fromRequest(req: IncomingMessage): PageSession | undefined {
    const id = cookieValue(req.headers.cookie, COOKIE_NAME);
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAtMs <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  create(admin?: AdminIdentity, expiresAtMs = this.now() + SESSION_TTL_MS): PageSession {
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.oldestToEvict());
    const s: PageSession = { id: randomToken(), csrf: randomToken(), expiresAtMs: Math.min(expiresAtMs, this.now() + SESSION_TTL_MS), admin };
    this.sessions.set(s.id, s);
    return s;
  }

  /** Still stored and not expired. */
  has(session: PageSession): boolean {
    return this.sessions.get(session.id) === session && session.expiresAtMs > this.now();
  }

  end(session: PageSession): void {
    this.sessions.delete(session.id);
  }

  /** Ends every admin session matching (a revoked admin token); returns how many. */
  endWhere(match: (admin: AdminIdentity) => boolean): number {
    let n = 0;
    for (const [id, s] of this.sessions) if (s.admin && match(s.admin)) this.sessions.delete(id), n++;
    return n;
  }

  clear(): void {
    this.sessions.clear();
  }

  /** The oldest expired or anonymous session (insertion order is age), else the oldest of all. */
  private oldestToEvict(): string {
    const now = this.now();
    for (const [id, s] of this.sessions) if (!s.admin || s.expiresAtMs <= now) return id;
    return this.sessions.keys().next().value!;
  }
}

/** True when the request carries the session's CSRF token in its header (constant-time compare). */
export function csrfValid(req: IncomingMessage, session: PageSession): boolean {
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Set-Cookie value: HttpOnly, SameSite=Strict, whole site; Secure when the page was reached over TLS. */
export function sessionCookie(session: PageSession | undefined, secure: boolean, nowMs: number): string {
  const parts = [`${COOKIE_NAME}=${session?.id ?? ''}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  parts.push(session ? `Max-Age=${Math.max(0, Math.floor((session.expiresAtMs - nowMs) / 1000))}` : 'Max-Age=0');
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 4096) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

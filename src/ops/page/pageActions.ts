// What an admin can do from the page: disconnect a client, revoke a token (jti)
// or a subject (sub). Revocations go into the same store as `edgegate token
// revoke` (so `edgegate token revocations` lists them and the daemon's watcher
// refuses the token from then on), and matching clients are disconnected now.
import type { Session } from '../../auth/authenticator.js';
import { checkValue, type RevocationKind, RevocationListFull, type RevocationStore } from '../../auth/revocations.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { AdminIdentity } from './pageSessions.js';

/** What the actions need from the broker (structural: no aedes types here). */
export interface PageBroker {
  disconnectClient(clientId: string, reason?: string): boolean;
  sessions: { disconnectWhere(match: (s: Session) => boolean, reason: string): number };
}

export interface PageActionsDeps {
  broker: PageBroker;
  revocations: () => RevocationStore | undefined;
  maxRevocations: number;
  now: () => number;
  logger: Logger;
  /** Applies a stored revocation to new connections at once (the authenticator's in-memory list). */
  refuseFromNow: (kind: RevocationKind, value: string, reason: string) => void;
  /** Ends page sessions logged in with a token that is now revoked. */
  endAdminSessions: (match: (a: AdminIdentity) => boolean) => void;
}

export type ActionResult = { status: number; body: Record<string, unknown> };

export class PageActions {
  constructor(private readonly deps: PageActionsDeps) {}

  disconnect(clientId: unknown, by: AdminIdentity | undefined): ActionResult {
    if (typeof clientId !== 'string' || clientId === '') return { status: 400, body: { error: 'clientId must be a non-empty string' } };
    const done = this.deps.broker.disconnectClient(clientId, 'ADMIN_DISCONNECT');
    this.deps.logger.info(
      { clientId, by: by?.subject ?? 'local' },
      done ? 'client disconnected from the status page' : 'disconnect from the status page: no such client',
    );
    return done ? { status: 200, body: { disconnected: 1 } } : { status: 404, body: { error: 'no connected client with that id' } };
  }

  revoke(kind: unknown, value: unknown, reason: unknown, by: AdminIdentity | undefined): ActionResult {
    if (kind !== 'jti' && kind !== 'sub') return { status: 400, body: { error: 'kind must be "jti" or "sub"' } };
    try {
      checkValue(kind, value);
    } catch (err) {
      return { status: 400, body: { error: errorMessage(err) } };
    }
    const store = this.deps.revocations();
    if (!store) return { status: 503, body: { error: 'the database is unusable: revocations cannot be stored' } };
    const why =
      typeof reason === 'string' && reason.trim() !== '' ? reason.trim().slice(0, 200) : `from the status page${by?.subject ? ` by ${by.subject}` : ''}`;
    let added: boolean;
    try {
      added = store.revoke(kind, value, why, this.deps.now(), this.deps.maxRevocations);
    } catch (err) {
      if (err instanceof RevocationListFull) return { status: 409, body: { error: err.message } };
      throw err;
    }
    this.deps.refuseFromNow(kind, value, why);
    const match = matcher(kind, value);
    const disconnected = this.deps.broker.sessions.disconnectWhere((s) => match(s.jti, s.subject), 'JWT_REVOKED');
    this.deps.endAdminSessions((a) => match(a.jti, a.subject));
    this.deps.logger.info({ kind, value, by: by?.subject ?? 'local', disconnected }, 'revoked from the status page');
    return { status: 200, body: { revoked: { kind, value }, new: added, disconnected } };
  }
}

function matcher(kind: RevocationKind, value: string): (jti: string | null | undefined, sub: string | null | undefined) => boolean {
  return kind === 'jti' ? (jti) => jti === value : (_jti, sub) => sub === value;
}

// Logging in to the status page: an admin token (a JWT with `edgegate.admin`
// true) verified by the same verifier as sensor tokens (signature, algorithm,
// exp/nbf, auth.jwt.verifyClaims, revocations), but against the local keys
// only (see ../pageAuthPolicy.ts). Failed attempts are throttled per address.
import type { JWTPayload } from 'jose';
import { isAdminPayload } from '../../auth/adminClaim.js';
import { connectionFreeClaims } from '../../auth/claims.js';
import { KeyRing, type TrustedKey } from '../../auth/keys.js';
import { AuthRefusal } from '../../auth/reasons.js';
import { RevocationList, type RevocationStore } from '../../auth/revocations.js';
import { verifyToken } from '../../auth/verifier.js';
import type { JwtConfig } from '../../config/types.js';
import { adminKeys } from '../pageAuthPolicy.js';
import type { AdminIdentity } from './pageSessions.js';

export interface AdminLoginDeps {
  keys: () => readonly TrustedKey[];
  rules: JwtConfig;
  now: () => number;
  monotonic: () => number;
  revocations: () => RevocationStore | undefined;
}

export type LoginResult = { ok: true; admin: AdminIdentity; expiresAtMs: number | null } | { ok: false; status: 401 | 403 | 429; reason: string };

const MAX_FAILURES = 10;
const WINDOW_MS = 60_000;

export class AdminLogin {
  private readonly failures = new Map<string, { count: number; sinceMono: number }>();
  /** The stored revocations as of their generation: re-read only when they change (a metrics scrape logs in each time). */
  private revoked?: { generation: number; list: RevocationList };

  constructor(private readonly deps: AdminLoginDeps) {}

  async login(token: unknown, address: string): Promise<LoginResult> {
    if (this.throttled(address)) return { ok: false, status: 429, reason: 'RATE_LIMITED' };
    const result = await this.check(token);
    if (!result.ok) this.failed(address);
    return result;
  }

  /** True when a token with these claims is revoked now (by jti or sub). */
  isRevoked(admin: AdminIdentity): boolean {
    const store = this.deps.revocations();
    if (!store) return false;
    const generation = store.generation();
    if (this.revoked?.generation !== generation) {
      const fresh = new RevocationList();
      fresh.replace(store.list());
      this.revoked = { generation, list: fresh };
    }
    const list = this.revoked.list;
    return (admin.jti !== null && list.has('jti', admin.jti)) || (admin.subject !== null && list.has('sub', admin.subject));
  }

  private async check(token: unknown): Promise<LoginResult> {
    if (typeof token !== 'string' || token === '') return { ok: false, status: 401, reason: 'JWT_MISSING' };
    const ring = new KeyRing(this.deps.rules.algorithms);
    ring.replaceConfigured(adminKeys(this.deps.keys()));
    let payload: JWTPayload;
    let expiresAtMs: number | null;
    try {
      // Claims tied to an MQTT connection (%u, %c) have nothing to match here; the others apply.
      const rules = { ...this.deps.rules, verifyClaims: connectionFreeClaims(this.deps.rules.verifyClaims) };
      const verdict = await verifyToken(token.trim(), { clientId: '' }, ring, this.deps.now(), rules);
      payload = verdict.payload;
      expiresAtMs = verdict.expiresAtMs;
    } catch (err) {
      if (err instanceof AuthRefusal) return { ok: false, status: 401, reason: err.reason };
      throw err;
    }
    if (!isAdminPayload(payload)) return { ok: false, status: 403, reason: 'NOT_ADMIN' };
    const admin: AdminIdentity = { subject: typeof payload.sub === 'string' ? payload.sub : null, jti: typeof payload.jti === 'string' ? payload.jti : null };
    if (this.isRevoked(admin)) return { ok: false, status: 401, reason: 'JWT_REVOKED' };
    return { ok: true, admin, expiresAtMs };
  }

  private throttled(address: string): boolean {
    const f = this.failures.get(address);
    if (!f) return false;
    if (this.deps.monotonic() - f.sinceMono > WINDOW_MS) {
      this.failures.delete(address);
      return false;
    }
    return f.count >= MAX_FAILURES;
  }

  private failed(address: string): void {
    const f = this.failures.get(address);
    if (f && this.deps.monotonic() - f.sinceMono <= WINDOW_MS) f.count++;
    else {
      if (this.failures.size >= 1024) this.failures.clear();
      this.failures.set(address, { count: 1, sinceMono: this.deps.monotonic() });
    }
  }
}

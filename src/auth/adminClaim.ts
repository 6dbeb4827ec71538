// The claim that makes a token an admin token for the status page:
// `"edgegate": {"admin": true}` (`edgegate token mint --admin`). A sensor token
// carries no such claim, and the page refuses it at login.
import type { JWTPayload } from 'jose';

export const ADMIN_CLAIM = 'edgegate';

export function isAdminPayload(payload: JWTPayload): boolean {
  const claim = payload[ADMIN_CLAIM];
  return typeof claim === 'object' && claim !== null && (claim as Record<string, unknown>).admin === true;
}

/** The claim's value with admin set, keeping whatever else it held. */
export function withAdmin(existing: unknown): Record<string, unknown> {
  const base = typeof existing === 'object' && existing !== null && !Array.isArray(existing) ? (existing as Record<string, unknown>) : {};
  return { ...base, admin: true };
}

// The claim that makes a token an admin token for the status page:
// `"edgegate": {"admin": true}` (`edgegate token mint --admin`). A sensor token
// carries no such claim, and the page refuses it at login.
import type { JWTPayload } from 'jose';
import { type JsonObject, jsonObject } from '../json.js';

export const ADMIN_CLAIM = 'edgegate';

export function isAdminPayload(payload: JWTPayload): boolean {
  return jsonObject(payload[ADMIN_CLAIM])?.admin === true;
}

/** The claim's value with admin set, keeping whatever else it held. */
export function withAdmin(existing: unknown): JsonObject {
  return { ...jsonObject(existing), admin: true };
}

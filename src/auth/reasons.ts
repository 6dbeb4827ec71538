// Stable reason codes for refused connections. They appear in logs, metrics
// (`edgegate_auth_attempts_total{reason}`) and `edgegate token verify`.
import { EdgegateError } from '../errors.js';

export const REASONS = {
  JWT_MISSING: 'no token where auth.jwt.from says it is',
  JWT_TOO_LARGE: 'token longer than auth.jwt.maxTokenBytes',
  JWT_MALFORMED: 'not a well-formed JWS compact token with a JSON claims set',
  JWT_ALG_NOT_ALLOWED: 'algorithm is none or not allowed',
  JWT_NO_KEY: 'no trusted key fits the token algorithm (or kid)',
  JWT_SIGNATURE: 'signature does not verify',
  JWT_EXPIRED: 'exp is in the past (beyond the clock tolerance)',
  JWT_NOT_YET_VALID: 'nbf is in the future (beyond the clock tolerance)',
  JWT_TOO_OLD: 'iat is older than auth.jwt.maxAgeSec',
  JWT_TIME_INVALID: 'exp, nbf or iat is not a NumericDate (a finite, non-negative number of seconds since 1970)',
  JWT_ISSUED_IN_FUTURE: 'iat is in the future (beyond the clock tolerance) while auth.jwt.maxAgeSec is set',
  JWT_CLAIM_MISMATCH: 'a claim does not match auth.jwt.verifyClaims',
  JWT_ACL_INVALID: 'the ACL claim is not in a known form',
  JWT_REVOKED: 'token revoked by jti or sub',
  RATE_LIMITED: 'too many failed authentications from this address',
  AUTH_UNAVAILABLE: 'internal error while authenticating',
} as const;

export type ReasonCode = keyof typeof REASONS;

/** One error code for every refusal: `reason` (what clients, logs and metrics see) tells them apart. */
export class AuthRefusal extends EdgegateError {
  readonly reason: ReasonCode;
  constructor(reason: ReasonCode, detail?: string) {
    super('EDGEGATE_AUTH_REFUSED', detail ? `${REASONS[reason]}: ${detail}` : REASONS[reason]);
    this.name = 'AuthRefusal';
    this.reason = reason;
  }
}

// The token verifier: pure with respect to the outside world. Given a token, the
// trusted keys, the connection's identity and the time, it answers with the
// verified claims or a reason code. The broker, the CLI and the benchmarks all
// call this one function.
import { compactVerify, decodeProtectedHeader, errors, type JWTPayload } from 'jose';
import type { JwtConfig } from '../config/types.js';
import { parseAclClaim, type Acl, type Identity } from './acl.js';
import { checkClaims, checkTimes, expiryMs } from './claims.js';
import type { KeyRing } from './keys.js';
import { AuthRefusal } from './reasons.js';

export type VerifyRules = Pick<
  JwtConfig,
  'clockToleranceSec' | 'maxAgeSec' | 'maxTokenBytes' | 'verifyClaims' | 'aclClaim' | 'defaultAcl'
>;

export interface SignedClaims {
  payload: JWTPayload;
  /** Fingerprint of the key that verified the signature. */
  keyId: string;
}

export interface Verdict extends SignedClaims {
  acl: Acl;
  /** When the connection must close (exp + tolerance), ms; null when the token has no exp. */
  expiresAtMs: number | null;
}

/** Thrown when the token names a kid no trusted key carries: a JWKS refresh may help. */
export class UnknownKid extends AuthRefusal {
  readonly kid: string;
  constructor(kid: string) {
    super('JWT_NO_KEY', 'unknown kid');
    this.kid = kid;
  }
}

/** Cheap structural checks that run before any cryptography. */
export function checkShape(token: string | undefined, maxTokenBytes: number): string {
  if (token === undefined || token.length === 0) throw new AuthRefusal('JWT_MISSING');
  if (Buffer.byteLength(token) > maxTokenBytes) throw new AuthRefusal('JWT_TOO_LARGE');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) throw new AuthRefusal('JWT_MALFORMED');
  return token;
}

/** Verifies the signature with the key the header's alg (and kid) selects; returns the claims. */
export async function verifySignature(token: string, keys: KeyRing): Promise<SignedClaims> {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new AuthRefusal('JWT_MALFORMED', 'header');
  }
  if (header.crit !== undefined) throw new AuthRefusal('JWT_MALFORMED', 'crit header not supported');
  const selection = keys.select(header.alg, header.kid);
  if ('error' in selection) {
    if (selection.unknownKid !== undefined) throw new UnknownKid(selection.unknownKid);
    throw new AuthRefusal(selection.error);
  }
  let payloadBytes: Uint8Array;
  try {
    const result = await compactVerify(token, selection.cryptoKey, { algorithms: [header.alg as string] });
    payloadBytes = result.payload;
  } catch (err) {
    throw mapJoseError(err);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadBytes).toString('utf8'));
  } catch {
    throw new AuthRefusal('JWT_MALFORMED', 'claims set is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new AuthRefusal('JWT_MALFORMED', 'claims set is not an object');
  return { payload: payload as JWTPayload, keyId: selection.key.id };
}

/** The checks that also run on a cache hit: time, claims, ACL. */
export function checkVerifiedClaims(signed: SignedClaims, id: Identity, nowMs: number, rules: VerifyRules): Verdict {
  checkTimes(signed.payload, nowMs, rules);
  checkClaims(signed.payload, rules.verifyClaims, id);
  const acl = parseAclClaim(signed.payload[rules.aclClaim], id, rules.defaultAcl);
  return { ...signed, acl, expiresAtMs: expiryMs(signed.payload, rules.clockToleranceSec) };
}

/** Full verification: shape, signature, time, claims, ACL. */
export async function verifyToken(token: string | undefined, id: Identity, keys: KeyRing, nowMs: number, rules: VerifyRules): Promise<Verdict> {
  const shaped = checkShape(token, rules.maxTokenBytes);
  return checkVerifiedClaims(await verifySignature(shaped, keys), id, nowMs, rules);
}

function mapJoseError(err: unknown): AuthRefusal {
  if (err instanceof AuthRefusal) return err;
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AuthRefusal('JWT_SIGNATURE');
  if (err instanceof errors.JOSEAlgNotAllowed) return new AuthRefusal('JWT_ALG_NOT_ALLOWED');
  if (err instanceof errors.JOSENotSupported) return new AuthRefusal('JWT_ALG_NOT_ALLOWED', 'not supported');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new AuthRefusal('JWT_MALFORMED');
  // A key of the wrong type for the algorithm never reaches here (KeyRing picks by alg),
  // but a TypeError from WebCrypto must still refuse, not crash.
  return new AuthRefusal('JWT_SIGNATURE', 'verification error');
}

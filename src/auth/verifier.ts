// The token verifier: pure with respect to the outside world. Given a token, the
// trusted keys, the connection's identity and the time, it answers with the
// verified claims or a reason code. The broker, the CLI and the benchmarks all
// call this one function.
import { compactVerify, decodeProtectedHeader, errors, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { JwtConfig } from '../config/types.js';
import { type Acl, type Identity, parseAclClaim } from './acl.js';
import { checkClaims, checkTimes, expiryMs } from './claims.js';
import type { KeyRing } from './keys.js';
import { AuthRefusal } from './reasons.js';

export type VerifyRules = Pick<JwtConfig, 'clockToleranceSec' | 'maxAgeSec' | 'maxTokenBytes' | 'verifyClaims' | 'aclClaim' | 'defaultAcl'> &
  Partial<Pick<JwtConfig, 'signatureFormat'>>;

export type SignatureFormat = JwtConfig['signatureFormat'];

/** Bytes of r and of s in a JOSE ECDSA signature (RFC 7518 section 3.4). */
const ECDSA_PART_BYTES: Record<string, number> = { ES256: 32, ES384: 48, ES512: 66 };

/**
 * An ASN.1 DER ECDSA signature, SEQUENCE { INTEGER r, INTEGER s } (RFC 3279
 * section 2.2.3, what OpenSSL and many device SDKs produce), as the JOSE form
 * r||s with each integer left-padded to `size` bytes. Undefined when the bytes
 * are not exactly such a DER structure or an integer does not fit the curve.
 */
export function derToJoseSignature(der: Uint8Array, size: number): Buffer | undefined {
  let pos = 0;
  const readLength = (): number => {
    if (pos >= der.length) return -1;
    const first = der[pos++]!;
    if (first < 0x80) return first;
    if (first !== 0x81 || pos >= der.length) return -1; // at most 2 * (66 + 3) + 3 bytes: one length byte suffices
    const len = der[pos++]!;
    return len < 0x80 ? -1 : len; // DER: the long form only when needed
  };
  const readInteger = (): Buffer | undefined => {
    if (der[pos++] !== 0x02) return undefined;
    const len = readLength();
    if (len <= 0 || pos + len > der.length) return undefined;
    let start = pos;
    pos += len;
    if (der[start]! & 0x80) return undefined; // negative: r and s are positive
    if (der[start] === 0 && len > 1) {
      if (!(der[start + 1]! & 0x80)) return undefined; // not minimal
      start++;
    }
    const bytes = der.subarray(start, pos);
    if (bytes.length > size) return undefined;
    const out = Buffer.alloc(size);
    out.set(bytes, size - bytes.length);
    return out;
  };
  if (der[pos++] !== 0x30) return undefined;
  const seqLen = readLength();
  if (seqLen < 0 || pos + seqLen !== der.length) return undefined;
  const r = readInteger();
  const s = r && readInteger();
  if (!r || !s || pos !== der.length) return undefined;
  return Buffer.concat([r, s]);
}

/** With signatureFormat "der", an ES256/384/512 token's DER signature is rewritten to the JOSE form jose verifies. */
function joseSignatureToken(token: string, alg: unknown, format: SignatureFormat | undefined): string {
  if (format !== 'der' || typeof alg !== 'string') return token;
  const size = ECDSA_PART_BYTES[alg];
  if (size === undefined) return token; // not ECDSA: its signature has one form only
  const dot = token.lastIndexOf('.');
  const raw = derToJoseSignature(Buffer.from(token.slice(dot + 1), 'base64url'), size);
  if (!raw) throw new AuthRefusal('JWT_SIGNATURE', 'signature is not ASN.1 DER (auth.jwt.signatureFormat = der)');
  return `${token.slice(0, dot + 1)}${raw.toString('base64url')}`;
}

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
export async function verifySignature(token: string, keys: KeyRing, signatureFormat?: SignatureFormat): Promise<SignedClaims> {
  let header: ProtectedHeaderParameters;
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
    const result = await compactVerify(joseSignatureToken(token, header.alg, signatureFormat), selection.cryptoKey, { algorithms: [header.alg as string] });
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
  return checkVerifiedClaims(await verifySignature(shaped, keys, rules.signatureFormat), id, nowMs, rules);
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

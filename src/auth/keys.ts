// The trusted verification keys. Each key knows exactly which algorithms fit its
// type, and a token's `alg` selects among them: an HS256 token can only ever be
// checked with an HMAC secret, never with a public key's PEM text (no algorithm
// confusion), and `none` fits no key at all.
import { createHmac, createPublicKey, type JsonWebKey, type KeyObject, X509Certificate } from 'node:crypto';
import { type CryptoKey, importSPKI, type JWK } from 'jose';
import type { JwtAlgorithm } from '../config/schema.js';

export type KeySource = 'config' | 'generated' | 'jwks';

export interface TrustedKey {
  /** Stable fingerprint: tells cached verifications which key vouched for them. */
  id: string;
  kid?: string;
  source: KeySource;
  type: 'hmac' | 'rsa' | 'ec' | 'ed25519';
  /** One imported CryptoKey per algorithm this key may verify. */
  byAlg: Map<JwtAlgorithm, CryptoKey>;
}

const HMAC_ALGS: JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA_ALGS: JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const CURVE_ALG: Record<string, JwtAlgorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const HASH_OF: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

/** Algorithms a public key of this type may verify. */
export function algorithmsForPublicKey(key: KeyObject): { type: TrustedKey['type']; algs: JwtAlgorithm[] } {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  // jose (WebCrypto) refuses to verify with RSA keys under 2048 bits: say so at
  // start-up instead of refusing every token with a puzzling JWT_SIGNATURE.
  if ((key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && bits !== undefined && bits < 2048) {
    throw new Error(`RSA keys must have at least 2048 bits, this one has ${bits}`);
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { type: 'rsa', algs: RSA_ALGS };
    case 'rsa-pss':
      return { type: 'rsa', algs: ['PS256', 'PS384', 'PS512'] };
    case 'ec': {
      const alg = CURVE_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!alg) throw new Error(`unsupported EC curve ${key.asymmetricKeyDetails?.namedCurve}`);
      return { type: 'ec', algs: [alg] };
    }
    case 'ed25519':
      return { type: 'ed25519', algs: ['EdDSA', 'Ed25519'] };
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

/**
 * Builds a trusted HMAC key, imported once per hash through WebCrypto (about twice
 * as fast to verify with as raw bytes). The fingerprint is an HMAC of a constant.
 */
export async function hmacKey(secret: Uint8Array, source: KeySource): Promise<TrustedKey> {
  const byAlg = new Map<JwtAlgorithm, CryptoKey>();
  for (const alg of HMAC_ALGS) {
    byAlg.set(alg, await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: HASH_OF[alg] }, false, ['verify']));
  }
  const id = 'hmac:' + createHmac('sha256', secret).update('edgegate key fingerprint').digest('base64url').slice(0, 22);
  return { id, source, type: 'hmac', byAlg };
}

/** Builds a trusted public key from a PEM: SPKI public key or X.509 certificate. */
export async function publicKeyFromPem(pem: string, source: KeySource, kid?: string): Promise<TrustedKey> {
  const keyObject = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
  if (keyObject.type !== 'public') throw new Error('not a public key');
  return publicKeyFromKeyObject(keyObject, source, kid);
}

export async function publicKeyFromKeyObject(keyObject: KeyObject, source: KeySource, kid?: string, onlyAlg?: JwtAlgorithm): Promise<TrustedKey> {
  const { type, algs } = algorithmsForPublicKey(keyObject);
  const spki = keyObject.export({ type: 'spki', format: 'pem' }).toString();
  const byAlg = new Map<JwtAlgorithm, CryptoKey>();
  for (const alg of algs) {
    if (onlyAlg && alg !== onlyAlg) continue;
    byAlg.set(alg, await importSPKI(spki, alg));
  }
  const der = keyObject.export({ type: 'spki', format: 'der' });
  const id = `${type}:` + createHmac('sha256', 'edgegate').update(der).digest('base64url').slice(0, 22);
  return { id, kid, source, type, byAlg };
}

/** Builds a trusted public key from a JWK (JWKS endpoint). Private or symmetric JWKs are refused. */
export async function publicKeyFromJwk(jwk: JWK): Promise<TrustedKey> {
  if (jwk.kty === 'oct' || 'd' in jwk) throw new Error('JWKS keys must be public keys');
  const keyObject = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const onlyAlg = typeof jwk.alg === 'string' ? (jwk.alg as JwtAlgorithm) : undefined;
  return publicKeyFromKeyObject(keyObject, 'jwks', jwk.kid, onlyAlg);
}

export type KeySelection = { key: TrustedKey; cryptoKey: CryptoKey } | { error: 'JWT_ALG_NOT_ALLOWED' | 'JWT_NO_KEY'; unknownKid?: string };

/** The set of trusted keys, replaceable per source (config at start, JWKS on refresh). */
export class KeyRing {
  private keys: TrustedKey[] = [];
  private readonly allowList: Set<JwtAlgorithm> | null;

  constructor(allowedAlgorithms: readonly JwtAlgorithm[] = []) {
    this.allowList = allowedAlgorithms.length > 0 ? new Set(allowedAlgorithms) : null;
  }

  /** Replaces every key from `source` with `keys`. */
  replace(source: KeySource, keys: TrustedKey[]): void {
    this.keys = [...this.keys.filter((k) => k.source !== source), ...keys];
  }

  /** Replaces the keys from configuration: configured ones and the generated secret. */
  replaceConfigured(keys: TrustedKey[]): void {
    this.keys = [...this.keys.filter((k) => k.source !== 'config' && k.source !== 'generated'), ...keys];
  }

  list(): readonly TrustedKey[] {
    return this.keys;
  }

  has(id: string): boolean {
    return this.keys.some((k) => k.id === id);
  }

  isEmpty(): boolean {
    return this.keys.length === 0;
  }

  /** Algorithms currently verifiable: the allow-list intersected with what the keys fit. */
  algorithms(): JwtAlgorithm[] {
    const fit = new Set<JwtAlgorithm>();
    for (const k of this.keys) for (const alg of k.byAlg.keys()) fit.add(alg);
    return [...fit].filter((a) => !this.allowList || this.allowList.has(a));
  }

  /**
   * Picks the key for a token header. A `kid` selects among keys that carry
   * one (JWKS); keys from config carry none and fit any kid, as in EMQX.
   */
  select(alg: unknown, kid: unknown): KeySelection {
    if (typeof alg !== 'string' || alg === 'none' || (this.allowList && !this.allowList.has(alg as JwtAlgorithm))) {
      return { error: 'JWT_ALG_NOT_ALLOWED' };
    }
    const fitting = this.keys.filter((k) => k.byAlg.has(alg as JwtAlgorithm));
    if (fitting.length === 0) {
      if (this.algorithms().length > 0 && !isKnownAlg(alg)) return { error: 'JWT_ALG_NOT_ALLOWED' };
      // A kid no key carries (e.g. a JWKS rotated to a new algorithm): a JWKS refresh may help.
      return { error: 'JWT_NO_KEY', ...(typeof kid === 'string' ? { unknownKid: kid } : {}) };
    }
    const withKid = typeof kid === 'string' ? fitting.find((k) => k.kid === kid) : undefined;
    const key = withKid ?? fitting.find((k) => k.kid === undefined) ?? (typeof kid === 'string' ? undefined : fitting[0]);
    if (!key) return { error: 'JWT_NO_KEY', unknownKid: kid as string };
    return { key, cryptoKey: key.byAlg.get(alg as JwtAlgorithm)! };
  }
}

function isKnownAlg(alg: string): boolean {
  return [...HMAC_ALGS, ...RSA_ALGS, 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'].includes(alg as JwtAlgorithm);
}

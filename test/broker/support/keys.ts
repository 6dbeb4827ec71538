// Key material for tests: key pairs of every supported type, self-signed X.509
// certificates (openssl), and tokens signed with jose or with plain node:crypto.
import { execFileSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JWTPayload, SignJWT } from 'jose';
import { b64url } from '../../helpers/tokens.js';

export type PairKind = 'rsa' | 'ec-p256' | 'ec-p384' | 'ed25519';

export interface Pair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

export function keyPair(kind: PairKind): Pair {
  const p =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : kind === 'ec-p256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : kind === 'ec-p384'
          ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
          : generateKeyPairSync('ed25519');
  return {
    ...p,
    privatePem: p.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: p.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Writes the public key PEM (SPKI) into dir; returns the path. */
export function writePublicKey(dir: string, name: string, pair: Pair): string {
  const file = join(dir, name);
  writeFileSync(file, pair.publicPem);
  return file;
}

/**
 * A self-signed X.509 certificate for `pair` made with `openssl req -x509`
 * (the private key goes to a file only openssl reads). Returns {certFile, keyFile}.
 */
export function selfSignedCert(dir: string, name: string, pair: Pair, cn = '127.0.0.1'): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key.pem`);
  const certFile = join(dir, `${name}.cert.pem`);
  writeFileSync(keyFile, pair.privatePem, { mode: 0o600 });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${/^[\d.]+$/.test(cn) ? 'IP' : 'DNS'}:${cn}`,
    ],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile };
}

/** A token signed by jose with any algorithm. */
export async function joseToken(alg: string, key: KeyObject | Uint8Array, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

/** ES256 or RS256 with nothing but node:crypto (an implementation independent of jose). */
export function signWithNodeCrypto(alg: 'ES256' | 'RS256' | 'PS256', privateKey: KeyObject, payload: object): string {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  const sig =
    alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : alg === 'PS256'
        ? sign('sha256', Buffer.from(input), { key: privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 })
        : sign('sha256', Buffer.from(input), privateKey);
  return `${input}.${b64url(sig)}`;
}

/** An HS256 token whose "secret" is any bytes (e.g. a public key's PEM text: algorithm confusion). */
export function hs256WithKeyBytes(keyBytes: string | Buffer, payload: object, alg = 'HS256'): string {
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  return `${input}.${createHmac(hash, keyBytes).update(input).digest('base64url')}`;
}

/** An unsigned token (`alg: none`, empty signature). */
export function unsignedToken(payload: object, alg = 'none'): string {
  return `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.`;
}

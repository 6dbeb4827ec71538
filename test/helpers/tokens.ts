// Test tokens, signed with jose (and, where said, with plain node:crypto).

import { createHmac } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';

export const nowSec = (): number => Math.floor(Date.now() / 1000);

export async function hsToken(secret: string | Uint8Array, payload: JWTPayload, alg = 'HS256', header: Record<string, unknown> = {}): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

export function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** HS256 with nothing but node:crypto: an independent implementation to check the verifier against. */
export function hs256WithNodeCrypto(secret: string, payload: object, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

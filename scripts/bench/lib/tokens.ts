// HS256 tokens for load generators, signed with node:crypto: no JOSE library in
// the benchmark process, so its CPU stays with the server under test.
import { createHmac } from 'node:crypto';

const b64 = (x: string | Buffer): string => Buffer.from(x).toString('base64url');

export function hs256Token(secret: string, claims: Record<string, unknown>): string {
  const input = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(createHmac('sha256', secret).update(input).digest())}`;
}

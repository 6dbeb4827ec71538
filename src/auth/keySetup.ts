// Turns auth.jwt's key settings into trusted keys. With nothing configured, the
// first start generates a random 256-bit secret in the data directory (0600) so
// that no installation ever runs on a shipped secret.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JwtConfig } from '../config/types.js';
import { ConfigError, errorMessage } from '../errors.js';
import { hmacKey, publicKeyFromPem, type TrustedKey } from './keys.js';

export const GENERATED_SECRET_FILE = 'jwt-secret';

export interface ConfiguredKeys {
  keys: TrustedKey[];
  /** Set when the HMAC secret came from (or was just written to) the data directory. */
  generatedSecretFile?: string;
  generatedNow: boolean;
}

/** The HMAC secret bytes from config, or undefined when none is configured. */
export function configuredSecret(jwt: Pick<JwtConfig, 'secret' | 'secretBase64'>): Uint8Array | undefined {
  if (jwt.secret === '') return undefined;
  if (!jwt.secretBase64) return Buffer.from(jwt.secret, 'utf8');
  const normalized = jwt.secret.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]+$/.test(normalized)) throw ConfigError.at('auth.jwt.secret', 'is not valid base64 (auth.jwt.secretBase64 is true)');
  return Buffer.from(normalized, 'base64');
}

/** Whether the config names any key source; if not, a secret is generated. */
export function needsGeneratedSecret(jwt: JwtConfig): boolean {
  return jwt.secret === '' && jwt.pubkey === '' && jwt.jwks.url === '';
}

/** Reads the generated secret, creating it (mode 0600) if `create` and it is absent. */
export function generatedSecret(dataDir: string, create: boolean): { secret?: Uint8Array; file: string; createdNow: boolean } {
  const file = join(dataDir, GENERATED_SECRET_FILE);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8').trim();
    const secret = Buffer.from(text, 'base64url');
    if (secret.length < 32) throw ConfigError.at('auth.jwt.secret', `generated secret ${file} is damaged; delete it to make a new one`);
    return { secret, file, createdNow: false };
  }
  if (!create) return { file, createdNow: false };
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  return { secret, file, createdNow: true };
}

export async function loadConfiguredKeys(jwt: JwtConfig, dataDir: string, options: { createSecret?: boolean } = {}): Promise<ConfiguredKeys> {
  const keys: TrustedKey[] = [];
  const secret = configuredSecret(jwt);
  if (secret) keys.push(await hmacKey(secret, 'config'));
  if (jwt.pubkey !== '') {
    try {
      keys.push(await publicKeyFromPem(readFileSync(jwt.pubkey, 'utf8'), 'config'));
    } catch (err) {
      throw ConfigError.at('auth.jwt.pubkey', `${jwt.pubkey} is not a usable public key or certificate: ${errorMessage(err)}`);
    }
  }
  if (!needsGeneratedSecret(jwt)) return { keys, generatedNow: false };
  const generated = generatedSecret(dataDir, options.createSecret ?? true);
  if (generated.secret) keys.push(await hmacKey(generated.secret, 'generated'));
  return { keys, generatedSecretFile: generated.file, generatedNow: generated.createdNow };
}

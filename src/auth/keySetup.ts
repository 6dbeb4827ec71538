// Turns auth.jwt's key settings into trusted keys. With nothing configured, the
// first start generates a random 256-bit secret in the data directory (0600) so
// that no installation ever runs on a shipped secret. It is written atomically and
// fsynced: a power cut right after the first start must not leave it empty.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JwtConfig } from '../config/types.js';
import { ConfigError, errorMessage, StorageError } from '../errors.js';
import { writeFileAtomicSync } from '../storage/atomicFile.js';
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

/**
 * Reads the generated secret, creating it (mode 0600, atomically and durably) if
 * `create` and it is absent. A file that exists but is empty, unreadable or not a
 * secret is never replaced: every token minted with it depends on it, and a
 * silently new secret would lock out every sensor (ConfigError naming the file
 * and what to do instead).
 */
export function generatedSecret(dataDir: string, create: boolean): { secret?: Uint8Array; file: string; createdNow: boolean } {
  const file = join(dataDir, GENERATED_SECRET_FILE);
  const existing = readGeneratedSecret(file);
  if (existing) return { secret: existing, file, createdNow: false };
  if (!create) return { file, createdNow: false };
  const secret = randomBytes(32);
  try {
    // Never over an existing file: the daemon's first start and a `token mint` may race to create it.
    writeFileAtomicSync(file, secret.toString('base64url') + '\n', { mode: 0o600, overwrite: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      // The other writer won; its file is complete (it was renamed into place whole), so use it.
      const theirs = readGeneratedSecret(file);
      if (theirs) return { secret: theirs, file, createdNow: false };
    }
    throw new StorageError(`cannot write the generated secret ${file}: ${errorMessage(err)}`, { cause: err });
  }
  return { secret, file, createdNow: true };
}

/** The generated secret, undefined when the file does not exist; throws ConfigError when it exists but is not usable. */
function readGeneratedSecret(file: string): Uint8Array | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw damagedSecret(
      file,
      `cannot be read (${errorMessage(err)})`,
      'fix its owner and mode (0600, owned by the user the daemon runs as) or restore it from a backup',
    );
  }
  if (text === '') throw damagedSecret(file, 'is empty (a power cut while an older edgegate was writing it leaves it so)');
  // Buffer.from(…, 'base64url') skips characters it does not know, so garbage would decode to a "secret": check the text first.
  if (!/^[A-Za-z0-9_+/-]+={0,2}$/.test(text)) throw damagedSecret(file, 'is not a base64url secret (it holds other characters: damaged or overwritten)');
  const secret = Buffer.from(text, 'base64url');
  if (secret.length < 32) throw damagedSecret(file, `holds only ${secret.length} bytes of secret, fewer than the 32 edgegate generates (damaged or truncated)`);
  return secret;
}

function damagedSecret(file: string, problem: string, fix = 'restore it from a backup'): ConfigError {
  return ConfigError.at(
    'auth.jwt.secret',
    `the generated secret ${file} ${problem}. edgegate does not replace it by itself: ${fix} to keep the tokens minted with it valid, ` +
      'or delete it to have a new one generated at the next start (every token minted ' +
      'with the old one is then refused; mint new ones with `edgegate token mint`), ' +
      'or configure a key instead (auth.jwt.secret, auth.jwt.pubkey or auth.jwt.jwks.url)',
  );
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

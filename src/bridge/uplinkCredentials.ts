// Credentials for the cloud connection: static username/password, or a JWT the
// gateway signs itself with bridge.jwt.privateKeyFile (Google-IoT-Core style).
// The JWT is minted afresh on every (re)connect, so it is never presented expired.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { BridgeConfig } from '../config/types.js';
import { EdgegateError, errorMessage } from '../errors.js';

export interface UplinkCredentials {
  username?: string;
  password?: Buffer;
  /** Seconds since the epoch at which the password stops being valid (JWT exp), if it does. */
  expiresAtSec?: number;
}

export class BridgeCredentialError extends EdgegateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EDGEGATE_BRIDGE_CREDENTIALS', message, options);
  }
}

export class UplinkCredentialSource {
  private key?: KeyObject;

  constructor(
    private readonly config: Pick<BridgeConfig, 'username' | 'password' | 'jwt'>,
    private readonly clientId: string,
    private readonly nowMs: () => number,
  ) {}

  get usesJwt(): boolean {
    return this.config.jwt.privateKeyFile !== '';
  }

  /** Reads the private key once (start-up fails early on an unreadable or invalid key). */
  load(): void {
    if (!this.usesJwt) return;
    try {
      // createPrivateKey accepts PKCS#8, SEC1 ("EC PRIVATE KEY") and PKCS#1 PEM alike.
      this.key = createPrivateKey(readFileSync(this.config.jwt.privateKeyFile));
    } catch (err) {
      throw new BridgeCredentialError(`cannot read bridge.jwt.privateKeyFile: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Credentials for the next CONNECT: a freshly signed JWT when configured. */
  async next(): Promise<UplinkCredentials> {
    const username = this.config.username || undefined;
    if (!this.usesJwt) return { username, password: this.config.password ? Buffer.from(this.config.password) : undefined };
    if (!this.key) this.load();
    const { alg, ttlSec, audience, claims } = this.config.jwt;
    const iat = Math.floor(this.nowMs() / 1000);
    const exp = iat + Math.floor(ttlSec);
    const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt(iat).setExpirationTime(exp);
    if (audience) jwt.setAudience(audience);
    if (claims.sub === undefined) jwt.setSubject(this.clientId);
    try {
      const token = await jwt.sign(this.key!);
      return { username: username ?? this.clientId, password: Buffer.from(token), expiresAtSec: exp };
    } catch (err) {
      throw new BridgeCredentialError(`cannot sign the uplink JWT with ${alg}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

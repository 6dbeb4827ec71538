// Verifies signed fleet revocation messages against auth.revocation.keys: the
// PEM public keys are read once at start-up (a bad one is a configuration error,
// exit 2), each known by its RFC 7638 thumbprint. A `kid` equal to a thumbprint
// selects that key; otherwise (no `kid`, or a name of the signer's own) every
// configured key of the `alg` is tried (there are at most 16). A `typ` header is
// optional: when it names the other kind of fleet message, the message is refused.
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import { ConfigError, errorMessage } from '../errors.js';
import {
  checkSize,
  EVENT_TYP,
  type FleetAlg,
  type FleetChannel,
  type FleetEvent,
  FleetRefusal,
  type FleetSnapshot,
  fleetAlgorithm,
  fleetKeyId,
  looksLikeJws,
  parseEvent,
  parseSnapshot,
  SNAPSHOT_TYP,
} from './fleetProtocol.js';

export interface FleetKey {
  kid: string;
  alg: FleetAlg;
  key: KeyObject;
  file: string;
}

/** A verification key (public, P-256 or Ed25519: anything else throws), named by its thumbprint. */
export async function fleetKey(key: KeyObject, file: string): Promise<FleetKey> {
  return { kid: await fleetKeyId(key), alg: fleetAlgorithm(key), key, file };
}

/** Reads the configured public keys; a file that is no usable key throws ConfigError at its index. */
export async function loadFleetKeys(files: string[]): Promise<FleetKey[]> {
  const keys: FleetKey[] = [];
  for (const [i, file] of files.entries()) {
    try {
      const pem = readFileSync(file, 'utf8');
      const key = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
      if (key.type !== 'public') throw new Error('not a public key');
      keys.push(await fleetKey(key, file));
    } catch (err) {
      throw ConfigError.at(`auth.revocation.keys[${i}]`, `${file} is not a usable fleet public key: ${errorMessage(err)}`);
    }
  }
  return keys;
}

/** The JWS alg values a key verifies: ES256, or EdDSA and its newer name Ed25519 (RFC 9864). */
export function jwsAlgs(alg: FleetAlg): string[] {
  return alg === 'EdDSA' ? ['EdDSA', 'Ed25519'] : [alg];
}

export type Verified<T> = { key: FleetKey; message: T };

export class FleetVerifier {
  constructor(private readonly keys: FleetKey[]) {}

  get keyIds(): string[] {
    return this.keys.map((k) => k.kid);
  }

  verifyEvent(text: string): Promise<Verified<FleetEvent>> {
    return this.verify(text, 'event', parseEvent);
  }

  verifySnapshot(text: string): Promise<Verified<FleetSnapshot>> {
    return this.verify(text, 'snapshot', parseSnapshot);
  }

  private async verify<T>(text: string, channel: FleetChannel, parse: (payload: unknown) => T): Promise<Verified<T>> {
    checkSize(text, channel);
    const jws = text.trim();
    if (!looksLikeJws(jws)) {
      throw jws.startsWith('{') ? new FleetRefusal('unsigned', 'an unsigned message') : new FleetRefusal('malformed', 'not a compact JWS');
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(jws);
    } catch {
      throw new FleetRefusal('malformed', 'unreadable JWS header');
    }
    const other = channel === 'event' ? SNAPSHOT_TYP : EVENT_TYP;
    if (header.typ === other) throw new FleetRefusal('malformed', `a ${other} message on the ${channel} topic`);
    const byKid = this.keys.filter((k) => k.kid === header.kid);
    const candidates = byKid.length > 0 ? byKid : this.keys.filter((k) => typeof header.alg === 'string' && jwsAlgs(k.alg).includes(header.alg));
    const unknown = (): FleetRefusal =>
      new FleetRefusal(
        'unknown_key',
        `signed by a key not in auth.revocation.keys (kid ${JSON.stringify(header.kid ?? null)}, alg ${JSON.stringify(header.alg ?? null)})`,
      );
    if (candidates.length === 0) throw unknown();
    for (const key of candidates) {
      let payload: Uint8Array;
      try {
        ({ payload } = await compactVerify(jws, key.key, { algorithms: jwsAlgs(key.alg) }));
      } catch {
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        throw new FleetRefusal('malformed', 'the signed payload is not JSON');
      }
      return { key, message: parse(json) };
    }
    // A kid naming one of our keys, or no kid at all: the signature is wrong. A kid of its own that none of our keys verifies: a stranger's key.
    if (byKid.length === 0 && typeof header.kid === 'string') throw unknown();
    throw new FleetRefusal('bad_signature', 'signature verification failed');
  }
}

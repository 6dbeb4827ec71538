// The fleet revocation protocol, shared by the gateway (which verifies) and
// `edgegate fleet` (which signs): compact JWS (ES256 with a P-256 key or EdDSA
// with an Ed25519 key), the signing key known by its RFC 7638 thumbprint in the
// `kid` header, a `typ` header telling an event from a snapshot (one can never
// be passed off as the other), and a `seq` that increases per signing key.
//
//   event    on <topic>           {"jti"|"sub": V, "unrevoke"?: true, "reason"?: T, "seq": N, "iat": S}
//   snapshot on <topic>/snapshot  {"seq": N, "iat": S, "revocations": [{"jti"|"sub": V, "reason"?: T}, ...]}  (retained)
import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { EdgegateError } from '../errors.js';
import { jsonObject } from '../json.js';
import { checkValue, type RevocationKind } from './revocations.js';

export const EVENT_TYP = 'edgegate-revocation';
export const SNAPSHOT_TYP = 'edgegate-revocation-snapshot';
export const SNAPSHOT_SUFFIX = '/snapshot';
/** Largest event message (JWS text) accepted. */
export const MAX_EVENT_BYTES = 4096;
/**
 * Largest snapshot (JWS text): 128 KiB, the payload limit of AWS IoT Core (EMQX and
 * Mosquitto allow more): about 2,000 entries (a UUID jti, or a short sub with a
 * short reason). `edgegate fleet revoke` refuses a change whose snapshot would not fit.
 */
export const MAX_SNAPSHOT_BYTES = 131_072;
export const MAX_REASON_CHARS = 256;

export type FleetAlg = 'ES256' | 'EdDSA';
export type FleetChannel = 'event' | 'snapshot';

export interface FleetEntry {
  kind: RevocationKind;
  value: string;
  reason: string;
}

export interface FleetEvent extends FleetEntry {
  unrevoke: boolean;
  seq: number;
  iat: number;
}

export interface FleetSnapshot {
  seq: number;
  iat: number;
  revocations: FleetEntry[];
}

/** Why a message on the revocation topic was not applied (the metric's `reason` label). */
export type FleetRefusalReason = 'unsigned' | 'malformed' | 'too_large' | 'unknown_key' | 'bad_signature' | 'replay';

/** One error code for every refusal: `reason` (the log line's and the metric's) tells them apart. */
export class FleetRefusal extends EdgegateError {
  constructor(
    readonly reason: FleetRefusalReason,
    message: string,
  ) {
    super('EDGEGATE_FLEET_REFUSED', message);
    this.name = 'FleetRefusal';
  }
}

/** The algorithm a fleet key signs with; anything but P-256 and Ed25519 is refused. */
export function fleetAlgorithm(key: KeyObject): FleetAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  const what = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : String(key.asymmetricKeyType);
  throw new Error(`a fleet revocation key must be EC P-256 (ES256) or Ed25519 (EdDSA), this one is ${what}`);
}

/** RFC 7638 thumbprint (SHA-256) of the public key: the `kid`, and the key's name in the seq table. */
export async function fleetKeyId(key: KeyObject): Promise<string> {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return calculateJwkThumbprint(await exportJWK(pub), 'sha256');
}

function record(value: unknown, what: string): Record<string, unknown> {
  const object = jsonObject(value);
  if (!object) throw new FleetRefusal('malformed', `${what} is not a JSON object`);
  return object;
}

function finiteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new FleetRefusal('malformed', `"${name}" must be a number`);
  return value;
}

function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new FleetRefusal('malformed', `"${name}" must be a positive integer`);
  return value;
}

/** Exactly one of "jti"/"sub" (a non-empty string of at most 1,024 characters) and an optional reason. */
export function entryOf(input: Record<string, unknown>): FleetEntry {
  // Also {"kind": "jti"|"sub", "value": …}, the shape `edgegate token revocations --json` prints.
  const msg =
    input.jti === undefined && input.sub === undefined && (input.kind === 'jti' || input.kind === 'sub') ? { ...input, [input.kind]: input.value } : input;
  const kinds = (['jti', 'sub'] as const).filter((k) => msg[k] !== undefined);
  if (kinds.length !== 1) throw new FleetRefusal('malformed', 'exactly one of "jti" or "sub" is required');
  const kind = kinds[0]!;
  const value = msg[kind];
  try {
    checkValue(kind, value);
  } catch (err) {
    throw new FleetRefusal('malformed', (err as Error).message);
  }
  if (msg.reason !== undefined && typeof msg.reason !== 'string') throw new FleetRefusal('malformed', '"reason" must be a string');
  return { kind, value, reason: typeof msg.reason === 'string' ? msg.reason.slice(0, MAX_REASON_CHARS) : '' };
}

export function parseEvent(payload: unknown): FleetEvent {
  const msg = record(payload, 'the revocation');
  if (msg.unrevoke !== undefined && typeof msg.unrevoke !== 'boolean') throw new FleetRefusal('malformed', '"unrevoke" must be true or false');
  const iat = finiteNumber(msg.iat, 'iat');
  return { ...entryOf(msg), unrevoke: msg.unrevoke === true, seq: positiveInt(msg.seq, 'seq'), iat };
}

export function parseSnapshot(payload: unknown): FleetSnapshot {
  const msg = record(payload, 'the snapshot');
  const iat = finiteNumber(msg.iat, 'iat');
  if (!Array.isArray(msg.revocations)) throw new FleetRefusal('malformed', '"revocations" must be an array');
  return { seq: positiveInt(msg.seq, 'seq'), iat, revocations: msg.revocations.map((r) => entryOf(record(r, 'a snapshot entry'))) };
}

/** The JSON form of an entry inside a snapshot or an event. */
export function entryJson(e: FleetEntry): Record<string, string> {
  return { [e.kind]: e.value, ...(e.reason ? { reason: e.reason } : {}) };
}

/** Refuses (too_large) a message over its channel's limit: checked before anything else is done with it. */
export function checkSize(text: string, channel: FleetChannel): void {
  const limit = channel === 'event' ? MAX_EVENT_BYTES : MAX_SNAPSHOT_BYTES;
  if (Buffer.byteLength(text) > limit) throw new FleetRefusal('too_large', `message larger than ${limit} bytes`);
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

/** Three base64url parts: a compact JWS (to be verified), as opposed to unsigned JSON. */
export function looksLikeJws(text: string): boolean {
  return COMPACT_JWS.test(text.trim());
}

export const entryKey = (e: { kind: RevocationKind; value: string }): string => `${e.kind}\u0000${e.value}`;

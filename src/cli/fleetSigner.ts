// The operator's side of fleet revocations: the signing key (PEM private key,
// P-256 or Ed25519), its state file beside it (`<key>.fleet-state.json`, 0600:
// the last seq and the current list) guarded by a lock file, and the signed
// event and snapshot JWS. The seq is saved before anything is published, so a
// failed publish never reuses one; running the command again republishes.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { CompactSign } from 'jose';
import {
  EVENT_TYP,
  entryJson,
  entryKey,
  type FleetAlg,
  type FleetEntry,
  fleetAlgorithm,
  fleetKeyId,
  MAX_SNAPSHOT_BYTES,
  SNAPSHOT_TYP,
} from '../auth/fleetProtocol.js';
import { EdgegateError, errorMessage, UnreadableFileError } from '../errors.js';
import { writeFileAtomicSync } from '../storage/atomicFile.js';

export interface SignerState {
  version: 1;
  kid: string;
  seq: number;
  updatedAt: string;
  revocations: Array<FleetEntry & { revokedAt: string }>;
}

/** The fleet state file, or the cloud's snapshot, does not fit this key, is damaged, or is in use by another command. */
export class FleetStateError extends EdgegateError {
  constructor(message: string) {
    super('EDGEGATE_FLEET_STATE', message);
    this.name = 'FleetStateError';
  }
}

export class FleetSigner {
  private constructor(
    readonly keyFile: string,
    readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly alg: FleetAlg,
    readonly kid: string,
  ) {}

  static async load(keyFile: string): Promise<FleetSigner> {
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(keyFile));
    } catch (err) {
      throw new UnreadableFileError(`--key: cannot read a PEM private key from ${keyFile}: ${errorMessage(err)}`, { cause: err });
    }
    const alg = fleetAlgorithm(key);
    return new FleetSigner(keyFile, key, createPublicKey(key), alg, await fleetKeyId(key));
  }

  get stateFile(): string {
    return `${this.keyFile}.fleet-state.json`;
  }

  hasState(): boolean {
    return existsSync(this.stateFile);
  }

  readState(): SignerState {
    if (!this.hasState()) return { version: 1, kid: this.kid, seq: 0, updatedAt: new Date(0).toISOString(), revocations: [] };
    const state = JSON.parse(readFileSync(this.stateFile, 'utf8')) as SignerState;
    if (state.kid !== this.kid) throw new FleetStateError(`${this.stateFile} belongs to another key (kid ${state.kid}); this key is ${this.kid}`);
    if (!Number.isSafeInteger(state.seq) || !Array.isArray(state.revocations)) throw new FleetStateError(`${this.stateFile} is not a fleet state file`);
    return state;
  }

  /**
   * Atomic and durable replace, mode 0600. The seq is saved before anything is
   * published, so it must survive a power cut (fsynced file and directory): a
   * seq handed out and then lost would be reused, and gateways ignore a seq they
   * have already seen.
   */
  writeState(state: SignerState): void {
    writeFileAtomicSync(this.stateFile, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  }

  /** Runs `fn` holding `<state>.lock` (created exclusively): two operators never hand out the same seq. */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = `${this.stateFile}.lock`;
    let fd: number;
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new FleetStateError(`${lock} exists: another \`edgegate fleet\` command is running with this key (remove the file if none is)`);
      }
      throw err;
    }
    closeSync(fd);
    try {
      return await fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  private sign(typ: string, payload: Record<string, unknown>): Promise<string> {
    return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: this.alg, typ, kid: this.kid }).sign(this.privateKey);
  }

  event(entry: FleetEntry, unrevoke: boolean, seq: number, iat: number): Promise<string> {
    return this.sign(EVENT_TYP, { ...entryJson(entry), ...(unrevoke ? { unrevoke: true } : {}), seq, iat });
  }

  /** The signed snapshot; throws (nothing truncated) when it would exceed MAX_SNAPSHOT_BYTES. */
  async snapshot(entries: FleetEntry[], seq: number, iat: number): Promise<string> {
    const jws = await this.sign(SNAPSHOT_TYP, { seq, iat, revocations: entries.map(entryJson) });
    const size = Buffer.byteLength(jws);
    if (size > MAX_SNAPSHOT_BYTES) {
      throw new SnapshotTooLarge(
        `the revocation snapshot would be ${size} bytes with ${entries.length} entries, over the limit of ${MAX_SNAPSHOT_BYTES} bytes: ` +
          'nothing was published or changed; unrevoke entries no longer needed (a jti ' +
          'whose token has expired), shorten reasons, or revoke by sub instead of many jti',
      );
    }
    return jws;
  }
}

export class SnapshotTooLarge extends EdgegateError {
  constructor(message: string) {
    super('EDGEGATE_FLEET_SNAPSHOT_TOO_LARGE', message);
    this.name = 'SnapshotTooLarge';
  }
}

/** The list after a revoke/unrevoke; `changed` false when it already was so. */
export function applyChange(
  list: SignerState['revocations'],
  entry: FleetEntry,
  unrevoke: boolean,
  nowIso: string,
): { list: SignerState['revocations']; changed: boolean } {
  const key = entryKey(entry);
  const existing = list.find((r) => entryKey(r) === key);
  if (unrevoke) return { list: list.filter((r) => entryKey(r) !== key), changed: existing !== undefined };
  if (existing) return { list: list.map((r) => (entryKey(r) === key ? { ...r, reason: entry.reason || r.reason } : r)), changed: false };
  return { list: [...list, { ...entry, revokedAt: nowIso }], changed: true };
}

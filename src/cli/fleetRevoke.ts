// `edgegate fleet revoke|unrevoke|revocations`: signed revocations for every
// gateway bridged to the cloud. revoke/unrevoke publish the event on --topic and
// the new whole list, retained, on <topic>/snapshot (both QoS 1); `revocations`
// prints the retained snapshot. Exit 0 done, 1 failed (nothing published when
// the snapshot would not fit; cloud unreachable), 2 bad usage of a file.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { type FleetEntry, type FleetSnapshot, MAX_REASON_CHARS, parseSnapshot, SNAPSHOT_SUFFIX } from '../auth/fleetProtocol.js';
import { FleetVerifier, fleetKey } from '../auth/fleetVerifier.js';
import { checkValue, type RevocationKind } from '../auth/revocations.js';
import { UsageError } from '../errors.js';
import { failAndExit } from './common.js';
import { type CloudOptions, type CloudSession, withCloud } from './fleetCloud.js';
import { applyChange, FleetSigner, FleetStateError, type SignerState } from './fleetSigner.js';

export const DEFAULT_FLEET_TOPIC = 'edgegate/revocations';
/** How long the cloud must stay quiet after the SUBACK before the retained snapshot counts as absent. */
const RETAINED_QUIET_MS = 700;

export interface FleetRevokeOptions extends CloudOptions {
  key: string;
  jti?: string;
  sub?: string;
  reason?: string;
  topic?: string;
  previousKey?: string;
}

function target(o: FleetRevokeOptions): FleetEntry {
  if ((o.jti === undefined) === (o.sub === undefined)) throw new UsageError('give exactly one of --jti ID or --sub NAME');
  const kind: RevocationKind = o.jti !== undefined ? 'jti' : 'sub';
  const value = o.jti ?? o.sub;
  checkValue(kind, value);
  return { kind, value, reason: (o.reason ?? '').slice(0, MAX_REASON_CHARS) };
}

async function readSnapshot(session: CloudSession, topic: string): Promise<string | undefined> {
  const got = await session.retained([topic + SNAPSHOT_SUFFIX], RETAINED_QUIET_MS);
  return got[0]?.payload.toString('utf8');
}

/** A verifier of one key: `key` (public), or the PEM file `file` (a public or a private key). */
async function verifierFor(file: string, key?: KeyObject): Promise<FleetVerifier> {
  return new FleetVerifier([await fleetKey(key ?? createPublicKey(readFileSync(file, 'utf8')), file)]);
}

/** The signer's list, as a snapshot gives it (each entry dated by the snapshot). */
function listOf(snap: FleetSnapshot): SignerState['revocations'] {
  return snap.revocations.map((e) => ({ ...e, revokedAt: new Date(snap.iat * 1000).toISOString() }));
}

/**
 * The state to continue from. Without a state file, a snapshot already on the
 * cloud is adopted when this key (or --previous-key, after a rotation) signed it:
 * starting from an empty list would lift every revocation on every gateway.
 */
async function startingState(signer: FleetSigner, session: CloudSession, o: FleetRevokeOptions): Promise<SignerState> {
  if (signer.hasState()) return signer.readState();
  const fresh = signer.readState();
  const jws = await readSnapshot(session, o.topic ?? DEFAULT_FLEET_TOPIC);
  if (!jws) return fresh;
  const kid = safeKid(jws);
  let snap: FleetSnapshot;
  if (kid === signer.kid) {
    snap = (await (await verifierFor(signer.keyFile, signer.publicKey)).verifySnapshot(jws)).message;
    process.stderr.write(`edgegate: no ${signer.stateFile}: continuing from the cloud's snapshot signed by this key (seq ${snap.seq})\n`);
    return { ...fresh, seq: snap.seq, revocations: listOf(snap) };
  }
  if (!o.previousKey) {
    throw new FleetStateError(
      `the cloud holds a snapshot signed by another key (kid ${kid}) and ${signer.stateFile} does not exist: ` +
        'restore the state file, or (rotating keys) pass --previous-key with that key so its list is carried over',
    );
  }
  snap = (await (await verifierFor(o.previousKey)).verifySnapshot(jws)).message;
  process.stderr.write(`edgegate: carrying over ${snap.revocations.length} revocations from the previous key's snapshot (seq ${snap.seq})\n`);
  return { ...fresh, revocations: listOf(snap) };
}

function safeKid(jws: string): string {
  try {
    const kid = decodeProtectedHeader(jws).kid;
    return typeof kid === 'string' ? kid : '(none)';
  } catch {
    return '(unreadable)';
  }
}

async function change(o: FleetRevokeOptions, unrevoke: boolean): Promise<void> {
  const entry = target(o);
  const topic = o.topic ?? DEFAULT_FLEET_TOPIC;
  const signer = await FleetSigner.load(o.key);
  await signer.locked(() =>
    withCloud(o, async (session) => {
      const state = await startingState(signer, session, o);
      const now = new Date();
      const { list, changed } = applyChange(state.revocations, entry, unrevoke, now.toISOString());
      const seq = state.seq + 1;
      const iat = Math.floor(now.getTime() / 1000);
      // Both signed before anything is saved or sent: a list too large is refused here.
      const snapshot = await signer.snapshot(list, seq, iat);
      const event = await signer.event(entry, unrevoke, seq, iat);
      signer.writeState({ version: 1, kid: signer.kid, seq, updatedAt: now.toISOString(), revocations: list });
      await session.publish(topic, event, false);
      await session.publish(topic + SNAPSHOT_SUFFIX, snapshot, true);
      const verb = unrevoke ? (changed ? 'unrevoked' : 'was not revoked (republished)') : changed ? 'revoked' : 'already revoked (republished)';
      process.stdout.write(`${verb}: ${entry.kind} ${entry.value} (seq ${seq}, ${list.length} in the fleet list, key ${signer.kid})\n`);
    }),
  );
}

export async function fleetRevoke(o: FleetRevokeOptions): Promise<void> {
  try {
    await change(o, false);
  } catch (err) {
    failAndExit(err);
  }
}

export async function fleetUnrevoke(o: FleetRevokeOptions): Promise<void> {
  try {
    await change(o, true);
  } catch (err) {
    failAndExit(err);
  }
}

export interface FleetListOptions extends CloudOptions {
  topic?: string;
  key?: string;
  json?: boolean;
}

/** Prints the retained snapshot; with --key (private or public PEM) its signature is checked. Exit 1 when there is none. */
export async function fleetRevocations(o: FleetListOptions): Promise<void> {
  try {
    const topic = o.topic ?? DEFAULT_FLEET_TOPIC;
    const jws = await withCloud(o, (s) => readSnapshot(s, topic));
    if (!jws) throw new FleetStateError(`no retained snapshot on ${topic}${SNAPSHOT_SUFFIX}`);
    let snap: FleetSnapshot;
    let verified = false;
    if (o.key) {
      snap = (await (await verifierFor(o.key)).verifySnapshot(jws)).message;
      verified = true;
    } else {
      snap = parseSnapshot(decodeJwt(jws));
    }
    const kid = safeKid(jws);
    if (o.json) {
      process.stdout.write(
        JSON.stringify(
          { topic: topic + SNAPSHOT_SUFFIX, kid, verified, seq: snap.seq, iat: new Date(snap.iat * 1000).toISOString(), revocations: snap.revocations },
          null,
          2,
        ) + '\n',
      );
      return;
    }
    process.stdout.write(
      `snapshot seq ${snap.seq} of ${new Date(snap.iat * 1000).toISOString()}, key ` +
        `${kid}${verified ? ' (signature verified)' : ' (signature not checked: pass --key)'}\n`,
    );
    if (snap.revocations.length === 0) process.stdout.write('no revocations\n');
    for (const r of snap.revocations) process.stdout.write(`${r.kind}\t${r.value}${r.reason ? `\treason: ${r.reason}` : ''}\n`);
  } catch (err) {
    failAndExit(err);
  }
}

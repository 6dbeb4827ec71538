// The gateway's side of signed fleet revocations, on one real daemon (messages
// handed in as the bridge hands them, signed by the CLI's signer): seq survives a
// restart (no replay after it), a snapshot is diffed against the fleet's entries
// only (a local `token revoke` is never lifted by the fleet), an event cannot be
// passed off as a snapshot, and requireSigned false still verifies what is signed.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { CompactSign } from 'jose';
import { RevocationStore } from '../../src/auth/revocations.js';
import { FleetSigner } from '../../src/cli/fleetSigner.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import { connect, connectOk, end } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { counter, LOCAL_TOPIC, makeFleetKey, SECRET } from './support.js';

describe('fleet: applying signed revocations on a gateway', function () {
  this.timeout(30_000);
  let dir: string;
  let dataDir: string;
  let signer: FleetSigner;
  let pub: string;
  let d: TestDaemon;
  const start = (requireSigned = true) =>
    // No failure rate limit: refused() probes with tokens that are meant to fail.
    startDaemon(
      {
        auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 }, revocation: { topic: LOCAL_TOPIC, keys: [pub], requireSigned, pollIntervalSec: 0.2 } },
      },
      { dataDir },
    );
  const fromBridge = (topic: string, payload: string) => d.daemon.broker!.publishInternal({ topic, payload: Buffer.from(payload), qos: 1 }, 'bridge');
  const refused = async (sub: string) =>
    (await connect(d.port, { clientId: `c-${sub}`, username: 'u', password: await hsToken(SECRET, { sub, exp: nowSec() + 600 }) })).returnCode === 4;
  const applied = (msg: string, seq: number) => waitUntil(() => d.logs.some((l) => l.msg === msg && l.seq === seq), { what: `${msg} seq ${seq}` });
  const entry = (sub: string) => ({ kind: 'sub' as const, value: sub, reason: '' });

  before(async () => {
    dir = tempDir('edgegate-fleet-rx-');
    dataDir = tempDir('edgegate-fleet-rx-data-');
    const key = makeFleetKey(dir, 'fleet', 'ed25519');
    pub = key.publicKey;
    signer = await FleetSigner.load(key.privateKey);
    d = await start();
  });
  after(async () => {
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the last seq per key survives a restart: the same event replayed afterwards is refused', async () => {
    const ev = await signer.event(entry('alpha'), false, 1, nowSec());
    await fromBridge(LOCAL_TOPIC, ev);
    await applied('fleet revocation event applied', 1);
    assert.ok(await refused('alpha'));
    await d.stop();
    d = await start();
    const unrevoke = await signer.event(entry('alpha'), true, 1, nowSec()); // seq 1 again, another payload
    await fromBridge(LOCAL_TOPIC, ev);
    await fromBridge(LOCAL_TOPIC, unrevoke);
    await waitUntil(async () => (await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'replay' })) === 2, { what: 'counted' });
    assert.ok(await refused('alpha'), 'still revoked after the restart');
    assert.equal(
      d.daemon.status.snapshot().auth &&
        (d.daemon.status.snapshot().auth as { revocations: { fleetKeys: Array<{ seq: number }> } }).revocations.fleetKeys[0]!.seq,
      1,
    );
  });

  it('a snapshot lifts fleet entries it no longer holds, never a local revocation, and restores what was lifted locally', async () => {
    new RevocationStore(d.daemon.database!).revoke('sub', 'local-one', 'revoked on this gateway', Date.now());
    await waitUntil(async () => refused('local-one'), { what: 'local revocation picked up' });
    await fromBridge(`${LOCAL_TOPIC}/snapshot`, await signer.snapshot([entry('alpha'), entry('beta'), entry('local-one')], 2, nowSec()));
    await applied('fleet revocation snapshot applied', 2);
    assert.ok(await refused('beta'));
    // Lifted locally, a fleet revocation comes back with the next snapshot.
    new RevocationStore(d.daemon.database!).unrevoke('sub', 'beta');
    await waitUntil(async () => !(await refused('beta')), { what: 'local unrevocation picked up' });
    await fromBridge(`${LOCAL_TOPIC}/snapshot`, await signer.snapshot([entry('beta')], 3, nowSec()));
    await applied('fleet revocation snapshot applied', 3);
    const ok = await connectOk(d.port, { clientId: 'alpha-back', username: 'u', password: await hsToken(SECRET, { sub: 'alpha', exp: nowSec() + 600 }) });
    await end(ok);
    assert.ok(await refused('beta'));
    assert.ok(await refused('local-one'), 'the fleet does not lift what was revoked locally');
    await fromBridge(LOCAL_TOPIC, await signer.event(entry('local-one'), true, 4, nowSec()));
    await applied('fleet revocation event applied', 4);
    assert.ok(await refused('local-one'));
  });

  it('an event on the snapshot topic (or the reverse) is malformed; an older snapshot is a replay', async () => {
    const before = await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'malformed' });
    await fromBridge(`${LOCAL_TOPIC}/snapshot`, await signer.event(entry('gamma'), false, 10, nowSec()));
    await fromBridge(LOCAL_TOPIC, await signer.snapshot([entry('gamma')], 11, nowSec()));
    await waitUntil(async () => (await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'malformed' })) === before + 2, { what: 'malformed counted' });
    const replays = await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'replay' });
    await fromBridge(`${LOCAL_TOPIC}/snapshot`, await signer.snapshot([], 3, nowSec()));
    await waitUntil(async () => (await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'replay' })) === replays + 1, { what: 'replay counted' });
    assert.ok(await refused('beta'), 'the old empty snapshot lifted nothing');
    assert.ok(!(await refused('gamma')));
  });

  it('a message signed with another tool (no typ, a kid of its own, alg "Ed25519") is verified against the configured keys', async () => {
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify({ sub: 'eta', seq: 12, iat: nowSec() })))
      .setProtectedHeader({ alg: 'Ed25519', kid: 'operator-key-1' })
      .sign(signer.privateKey);
    await fromBridge(LOCAL_TOPIC, jws);
    await applied('fleet revocation event applied', 12);
    assert.ok(await refused('eta'));
  });

  it('with requireSigned false unsigned messages apply again, and signed ones are still verified', async () => {
    await d.stop();
    d = await start(false);
    await fromBridge(LOCAL_TOPIC, JSON.stringify({ sub: 'delta' }));
    await waitUntil(async () => refused('delta'), { what: 'unsigned applied' });
    const [h, , sig] = (await signer.event(entry('omega'), false, 20, nowSec())).split('.');
    const otherPayload = (await signer.event(entry('epsilon'), false, 20, nowSec())).split('.')[1];
    await fromBridge(LOCAL_TOPIC, `${h}.${otherPayload}.${sig}`); // epsilon's payload under omega's signature
    await fromBridge(LOCAL_TOPIC, await signer.event(entry('zeta'), false, 21, nowSec()));
    await applied('fleet revocation event applied', 21);
    assert.ok(await refused('zeta'));
    assert.ok(!(await refused('epsilon')), 'a bad signature is refused even with requireSigned false');
    assert.equal(await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'bad_signature' }), 1);
  });

  it("during a key rotation the old key's last snapshot, replayed, cannot undo the new key's changes", async () => {
    await d.stop();
    const next = makeFleetKey(dir, 'fleet-next');
    const nextSigner = await FleetSigner.load(next.privateKey);
    d = await startDaemon(
      {
        auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 }, revocation: { topic: LOCAL_TOPIC, keys: [pub, next.publicKey], pollIntervalSec: 0.2 } },
      },
      { dataDir },
    );
    const oldLast = await signer.snapshot([], 30, nowSec());
    await fromBridge(`${LOCAL_TOPIC}/snapshot`, oldLast);
    await applied('fleet revocation snapshot applied', 30);
    await fromBridge(LOCAL_TOPIC, await nextSigner.event(entry('theta'), false, 1, nowSec()));
    await applied('fleet revocation event applied', 1);
    const replays = await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'replay' });
    await fromBridge(`${LOCAL_TOPIC}/snapshot`, oldLast);
    await waitUntil(async () => (await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'replay' })) === replays + 1, { what: 'replay counted' });
    assert.ok(await refused('theta'));
  });
});

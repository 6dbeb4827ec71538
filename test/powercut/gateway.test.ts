// Power cuts of the whole gateway: `edgegate run` (from source) as a child process with its
// data dir on lazyfs (test/powercut/README.md), the bridge's cloud DOWN (the durable queue
// fills), QoS 1 load from MQTT 3.1.1 and 5 publishers with many messages in flight, and at
// seeded random moments the power goes: kill -9 of the daemon (and of a CLI command in
// progress) and lazyfs's cut() at nearly the same instant (the order and why:
// support/scenario.ts), then remount() and a new boot on what the card kept.
//
// Checked after every boot, through the daemon: the boot is clean (no in-memory fallback,
// /healthz storage persistent and writable, started within a bound); the bridge queue holds
// at least every acknowledged bridged message; per retained topic the last acknowledged
// value or a later one; every acknowledged message for the two offline persistent sessions
// (MQTT 3.1.1 clean session 0, MQTT 5 with a session expiry) delivered when they come back,
// session present = 1; the generated secret unchanged and a token minted before the first
// cut accepted; every revocation acknowledged by `edgegate token revoke` (exit 0) before a
// cut still refusing its token; the time floor never going backwards. Right after each cut,
// the card itself is read (a copy of edgegate.db + WAL from BACKING) to pin a loss to the
// cut that caused it. At the end the cloud (Mosquitto) comes up and every acknowledged
// bridged message must arrive (duplicates counted, allowed; losses not).
//
// EDGEGATE_POWERCUT_SEED and EDGEGATE_POWERCUT_CUTS change the seed and the number of cuts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cloudSubscriber } from '../bridge/support.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { skipUnlessFuse } from '../helpers/powerCut.js';
import { waitUntil } from '../helpers/wait.js';
import { between, CLOUD_FILTER, cleanupAll, cliExit, GatewayProcess, letRun, makeTempDir, removeTempDirs, rng, startGatewayCli } from './support/gateway.js';
import { Rig } from './support/scenario.js';
import { checkRevocations, cloudLosses, connectMqtt, Ledger, Load, readSecret, sensorToken } from './support/workload.js';

const SEED = Number(process.env.EDGEGATE_POWERCUT_SEED ?? 20261204);
const CUTS = Number(process.env.EDGEGATE_POWERCUT_CUTS ?? 10);
const VERSIONS: Array<4 | 5> = [4, 4, 5, 5];

type Kind = 'load' | 'idle' | 'revoke' | 'boot' | 'drain';

/**
 * Where each cut lands. load: under load, at a random moment; idle: just after the last
 * PUBACK of a settled load; revoke: under load while `edgegate token revoke` runs; boot:
 * while the daemon starts (opening, recovering and migrating the database); drain: while
 * the offline sessions, back, receive their queues. The first is under load; the rest
 * are shuffled with the seed.
 */
function schedule(n: number, r: () => number): Kind[] {
  const kinds: Kind[] = ['revoke', 'boot', 'idle', 'drain', 'load'];
  const rest = Array.from({ length: Math.max(0, n - 1) }, (_, i) => kinds[i % kinds.length]!);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  return n > 0 ? ['load', ...rest] : [];
}

function ledgerFigures(l: Ledger): string {
  const retained = [...l.retained.values()].filter((e) => e.maxAcked >= 0).length;
  const refused = [...l.refusedByCode].map(([c, n]) => `0x${c.toString(16)}: ${n}`).join(', ') || 'none';
  return (
    `sent ${l.sent}, acknowledged ${l.acked} (bridged ${l.bridgedAcked.size}, session ${l.sessionAcked.size} ` +
    `x2 sessions, retained topics ${retained}), refused ${refused}, unanswered at cuts ${l.unanswered}`
  );
}

describe('power cuts: edgegate run on lazyfs, kill -9 + cut, boot on what survived', function () {
  this.timeout(200_000);
  const rigs: Rig[] = [];
  let cloud: Mosquitto | undefined;

  before(function () {
    skipUnlessFuse(this);
  });

  afterEach(async () => {
    await cleanupAll(); // daemons and CLI commands (by PID), MQTT clients
    await cloud?.dispose();
    cloud = undefined;
    for (const r of rigs.splice(0)) await r.fs.dispose();
    removeTempDirs();
  });

  it('a power cut seconds after the very first start: the gateway boots, with the same generated secret', async () => {
    const r = rng(SEED ^ 0x5eed);
    const rig = await Rig.create({ seed: SEED });
    rigs.push(rig);
    await rig.firstBoot(); // generates the secret; `edgegate token mint` signs with it
    const secret = rig.secretText;
    await letRun(between(r, 200, 2500));
    await rig.powerCut('cut after the first start', r);
    await rig.boot('boot after the first-start cut');
    await rig.checkAll('checks after the first-start cut', { queueCount: true });
    assert.equal(readSecret(rig.spec.dataDir).text, secret, 'the generated secret survived');
    process.stdout.write(
      `      [powercut first-start] secret kept: ${readSecret(rig.spec.dataDir).text === secret}, ` +
        `boot ${rig.bootMs.join('/')} ms, violations ${rig.violations.length}\n`,
    );
    assert.deepEqual(rig.violations, []);
  });

  it(`${CUTS} power cuts under QoS 1 load (bridge queue, retained, offline sessions, revocations, time floor): nothing acknowledged is lost`, async () => {
    const started = Date.now();
    const rig = await Rig.create({ seed: SEED });
    rigs.push(rig);
    const r0 = rng(SEED);
    await rig.firstBoot();
    const secret = readSecret(rig.spec.dataDir).bytes;
    const kinds = schedule(CUTS, r0);
    const perCut: string[] = [];
    let revokes = 0;
    for (let k = 1; k <= CUTS; k++) {
      const kind = kinds[k - 1]!;
      const r = rng(SEED + k * 1009);
      const tag = `cut ${k}/${CUTS} (${kind})`;
      const acked0 = rig.ledger.acked;
      if (!rig.gw) {
        if (kind === 'boot') {
          rig.gw = GatewayProcess.spawn(rig.spec);
          const at = between(r, 300, 2200);
          await letRun(at);
          await rig.powerCut(tag, r);
          perCut.push(`${k}:boot@${at}ms`);
          continue;
        }
        await rig.boot(`boot before ${tag}`);
        await rig.checkAll(`checks before ${tag}`, { queueCount: true });
      }
      const load = await Load.start({ port: rig.spec.port, token: rig.token, ledger: rig.ledger, cycle: k, seed: SEED + k, versions: VERSIONS });
      if (kind === 'load') {
        await letRun(between(r, 150, 1500));
        await rig.powerCut(tag, r, { load });
      } else if (kind === 'idle') {
        await letRun(between(r, 200, 800));
        const settled = await load.settle(15_000);
        assert.ok(settled, `${tag}: the load did not settle`);
        await letRun(between(r, 0, 40));
        await rig.powerCut(tag, r, { load });
      } else if (kind === 'revoke') {
        const jti = `rev-${k}`;
        const token = await sensorToken(secret, `revoked-${k}`, jti);
        // Alternately: the power goes just after the command said "revoked" (the load paused:
        // under load the command mostly fails with "database is locked", see the last suite),
        // or at a random moment while it runs under load.
        const afterAck = revokes++ % 2 === 0;
        if (afterAck) assert.ok(await load.settle(15_000), `${tag}: the load did not settle`);
        else await letRun(between(r, 100, 500));
        let revoke = rig.startRevoke(jti, token, k);
        if (afterAck) {
          // As an operator would: again after "database is locked" (the same bug, rarer without load).
          for (let attempt = 1; (await cliExit(revoke.cli)).code !== 0; attempt++) {
            assert.ok(attempt < 3 && /database is locked/.test(revoke.cli.out.stderr), `${tag}: token revoke: ${revoke.cli.out.stderr}`);
            revoke.settle();
            revoke = rig.startRevoke(jti, token, k);
          }
          await letRun(between(r, 0, 50));
        } else await letRun(between(r, 500, 2500));
        await rig.powerCut(tag, r, { load, others: [revoke.cli], afterKill: revoke.settle });
      } else if (kind === 'drain') {
        await letRun(between(r, 300, 900));
        assert.ok(await load.settle(15_000), `${tag}: the load did not settle`);
        await load.abandon();
        // The sessions come back; the power goes while their queues stream to them.
        const present = await Promise.all(rig.subs.map((s) => s.connect(rig.spec.port, rig.token)));
        for (const [i, p] of present.entries()) if (!p.sessionPresent) rig.violations.push(`${tag}: ${rig.subs[i]!.clientId}: session present = 0`);
        await letRun(between(r, 0, 120));
        await rig.powerCut(tag, r);
      }
      perCut.push(`${k}:${kind}+${rig.ledger.acked - acked0}`);
    }

    // The final boot, with the cloud up: every acknowledged bridged message must arrive.
    cloud = await Mosquitto.start({ port: rig.spec.cloudPort });
    const sub = await cloudSubscriber(cloud, CLOUD_FILTER, 'cloud-collector');
    await rig.boot('final boot (cloud up)');
    await rig.checkAll('final checks', { queueCount: false });
    await waitUntil(() => cloudLosses(sub.inbox.messages, rig.ledger).lost.length === 0, { timeoutMs: 90_000, what: 'every bridged message' }).catch(
      () => undefined,
    );
    const cloudResult = cloudLosses(sub.inbox.messages, rig.ledger);
    if (cloudResult.lost.length)
      rig.violations.push(`cloud: ${cloudResult.lost.length} acknowledged bridged messages never delivered (${cloudResult.describe})`);
    sub.client.end(true);

    const sessDup = rig.subs.map((s) => `${s.clientId} ${s.duplicates}`).join(', ');
    const revs = rig.ledger.revocations.map((x) => `${x.jti}:${x.acked ? 'acked' : 'not acked'} (${x.exit})`).join(', ');
    process.stdout.write(
      `      [powercut] seed ${SEED}: ${rig.cuts} cuts (kill first ${rig.order.killFirst}, cut first ${rig.order.cutFirst}) [${perCut.join(' ')}], ` +
        `${rig.bootMs.length} boots (max ${Math.max(...rig.bootMs)} ms); ${ledgerFigures(rig.ledger)}; ` +
        `LOST: bridged ${cloudResult.lost.length}, violations ${rig.violations.length}; duplicates: cloud ${cloudResult.duplicates}, sessions ${sessDup}; ` +
        `revocations ${revs || 'none'}; floors ${rig.floors.length} monotonic; daemon error ` +
        `lines ${rig.daemonErrors.length}; ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    const errs = [...new Set(rig.daemonErrors.map((e) => e.slice(0, 160)))];
    if (errs.length) process.stdout.write(`      [powercut] error lines the killed daemons logged (distinct): ${errs.join(' | ')}\n`);
    if (rig.violations.length) process.stdout.write(`      [powercut] violations:\n${rig.violations.map((v) => `        - ${v}`).join('\n')}\n`);
    assert.ok(rig.ledger.bridgedAcked.size > 0 && rig.ledger.sessionAcked.size > 0, 'the load acknowledged something');
    assert.deepEqual(rig.violations, []);
  });

  it('negative control (fsync persists nothing): the same workload and checks find the losses', async () => {
    // A: an orderly baseline (sync) after the first start, then load and a cut: the
    // database's acknowledged rows must be found missing.
    const r = rng(SEED + 77);
    const rig = await Rig.create({ seed: SEED, negativeControl: true });
    rigs.push(rig);
    await rig.firstBoot();
    await rig.fs.sync(); // secret, database, subscriptions on the card (sync is not fsync: it still writes)
    const load = await Load.start({ port: rig.spec.port, token: rig.token, ledger: rig.ledger, cycle: 1, seed: SEED + 1, versions: VERSIONS });
    await waitUntil(() => rig.ledger.acked >= 1500, { timeoutMs: 30_000, what: '1500 messages acknowledged' });
    assert.ok(await load.settle(15_000));
    await rig.powerCut('nc cut', r, { load });
    await rig.boot('nc boot');
    await rig.checkAll('nc checks', { queueCount: true });
    cloud = await Mosquitto.start({ port: rig.spec.cloudPort });
    const sub = await cloudSubscriber(cloud, CLOUD_FILTER, 'cloud-collector-nc');
    // A marker through the bridge after what survived the cut: it sends its queue in order, so once the marker is on the cloud, so is the rest.
    const marker = (await connectMqtt(rig.spec.port, { clientId: 'nc-marker', protocolVersion: 4, username: 'marker', password: rig.token })).client!;
    await new Promise<void>((res, rej) => marker.publish('data/nc-marker', 'nc-marker|', { qos: 1 }, (err) => (err ? rej(err) : res())));
    marker.end(true);
    await waitUntil(() => sub.inbox.messages.some((m) => m.payload === 'nc-marker|'), { timeoutMs: 30_000, what: 'the marker on the cloud' });
    const lostA = cloudLosses(sub.inbox.messages, rig.ledger).lost.length;
    sub.client.end(true);
    const v = rig.violations;

    // B: a cut shortly after the very first start: the generated secret must be found lost.
    const rigB = await Rig.create({ seed: SEED, negativeControl: true });
    rigs.push(rigB);
    await rigB.firstBoot();
    await rigB.powerCut('nc first-start cut', r);
    await rigB.boot('nc boot after the first-start cut');
    rigB.violations.push(...(await checkRevocations(rigB.spec.port, rigB.token, rigB.ledger, 'nc token check')));

    process.stdout.write(
      `      [powercut negative control] A: ${ledgerFigures(rig.ledger)}; LOST bridged ` +
        `${lostA}, violations ${v.length}; B: violations ${rigB.violations.length}\n` +
        [...v, ...rigB.violations].map((x) => `        - ${x.slice(0, 240)}`).join('\n') +
        '\n',
    );
    assert.ok(rig.ledger.bridgedAcked.size > 0, 'the load acknowledged bridged messages');
    assert.ok(lostA > 0, 'acknowledged bridged messages lost (cloud)');
    assert.ok(
      v.some((x) => /bridge queue holds/.test(x)),
      'queue count check fails',
    );
    assert.ok(
      v.some((x) => /not in bridge_outbox/.test(x)),
      'card check finds the lost rows',
    );
    assert.ok(
      v.some((x) => /NOT delivered/.test(x)),
      'session check fails',
    );
    assert.ok(
      v.some((x) => /retained .*(MISSING|OLDER)/.test(x)),
      'retained check fails',
    );
    assert.ok(
      rigB.violations.some((x) => /secret CHANGED|secret is unreadable/.test(x)),
      'secret check fails',
    );
    assert.ok(
      rigB.violations.some((x) => /REFUSED/.test(x)),
      'a token minted before the cut is refused',
    );
  });
});

// Found while writing the cuts above: `edgegate token revoke` reads, then writes, in a
// deferred transaction (src/auth/revocations.ts revoke(): db.transaction(...)()). While the
// daemon commits every few milliseconds its read snapshot is stale by the time it writes,
// and SQLite answers SQLITE_BUSY_SNAPSHOT at once ("database is locked", exit 1): the busy
// timeout does not apply to that. No FUSE needed.
describe('edgegate token revoke while the gateway is under load', function () {
  this.timeout(60_000);
  afterEach(async () => {
    await cleanupAll();
    removeTempDirs();
  });

  it('is acknowledged (exit 0) and applied, not refused with "database is locked"', async () => {
    const spec = {
      dataDir: join(makeTempDir('edgegate-revoke-load-'), 'data'),
      port: await freePort(),
      httpPort: await freePort(),
      cloudPort: await freePort(),
      noConfigDir: join(makeTempDir('edgegate-revoke-conf-'), 'none'),
    };
    const gw = await GatewayProcess.start(spec);
    const secret = readSecret(spec.dataDir).bytes;
    const ledger = new Ledger();
    const load = await Load.start({ port: spec.port, token: await sensorToken(secret, 'loader'), ledger, cycle: 1, seed: SEED, versions: [4, 4, 5, 5] });
    const outcomes: string[] = [];
    const ledgerRev = new Ledger();
    for (let i = 0; i < 4; i++) {
      const jti = `under-load-${i}`;
      const t = Date.now();
      const cli = startGatewayCli(spec, ['token', 'revoke', '--jti', jti]);
      const exit = await cliExit(cli);
      outcomes.push(`exit ${exit.code} after ${Date.now() - t} ms: ${(cli.out.stdout + cli.out.stderr).trim()}`);
      if (exit.code === 0) ledgerRev.revocations.push({ jti, token: await sensorToken(secret, 'revoked', jti), cycle: 1, acked: true });
    }
    await load.settle(10_000);
    await load.abandon();
    // The daemon polls the revocation table (auth.revocation.pollIntervalSec 0.5) and says when it applied what it found.
    const appliedJti = (): number =>
      Math.max(
        0,
        ...gw
          .logLines()
          .filter((l) => l.msg === 'revocations applied')
          .map((l) => Number(l.revokedJti)),
      );
    await waitUntil(() => appliedJti() >= ledgerRev.revocations.length, { what: 'the daemon to apply the revocations' });
    const applied = await checkRevocations(spec.port, await sensorToken(secret, 'control'), ledgerRev, 'under load');
    gw.kill9();
    await gw.exited();
    process.stdout.write(`      [revoke under load] ${ledger.acked} messages acknowledged meanwhile; ${outcomes.join(' | ')}\n`);
    assert.deepEqual(applied, []);
    assert.ok(
      outcomes.every((o) => o.startsWith('exit 0')),
      `token revoke under load: ${outcomes.join(' | ')}`,
    );
  });
});

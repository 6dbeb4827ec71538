// Chaos, without FUSE: `edgegate run` (from source) as a child process, killed with
// kill -9 at seeded random moments under QoS 1 load while the cloud (a Mosquitto with
// persistence) flaps up and down, and restarted each time on the same data dir. A sibling
// of process.test.ts (which covers the bridge backlog across one SIGKILL): here the same
// mixed workload as the power-cut suite (test/powercut/support/workload.ts): bridged
// messages, retained messages on several topics, and messages queued for two offline
// persistent sessions (MQTT 3.1.1 clean session 0, MQTT 5 with a session expiry), across
// repeated kill -9. After every restart: a clean boot, per retained topic the last
// acknowledged value or a later one, every acknowledged session message delivered with
// session present = 1. At the end, with the cloud steady, every acknowledged bridged
// message has reached the cloud subscriber (duplicates counted and allowed).
//
// EDGEGATE_CHAOS_SEED and EDGEGATE_CHAOS_KILLS change the seed and the number of kills.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { waitUntil } from '../helpers/wait.js';
import { between, CLOUD_FILTER, cleanupAll, GatewayProcess, type GatewaySpec, letRun, makeTempDir, removeTempDirs, rng } from '../powercut/support/gateway.js';
import { checkRetained, checkSessions, cloudLosses, Ledger, Load, readSecret, SessionSubscriber, sensorToken } from '../powercut/support/workload.js';
import { cloudSubscriber } from './support.js';

const SEED = Number(process.env.EDGEGATE_CHAOS_SEED ?? 4242);
const KILLS = Number(process.env.EDGEGATE_CHAOS_KILLS ?? 5);

describe('chaos: kill -9 under load while the cloud flaps (child process, no FUSE)', function () {
  this.timeout(150_000);
  let cloud: Mosquitto | undefined;

  afterEach(async () => {
    await cleanupAll();
    await cloud?.dispose();
    cloud = undefined;
    removeTempDirs();
  });

  it(`${KILLS} x kill -9 under load with a flapping cloud: no acknowledged bridged, retained or session message is lost`, async () => {
    const started = Date.now();
    cloud = await Mosquitto.start({ persistence: true });
    const spec: GatewaySpec = {
      dataDir: join(makeTempDir('edgegate-chaos-'), 'data'),
      port: await freePort(),
      httpPort: await freePort(),
      cloudPort: cloud.port,
      noConfigDir: join(makeTempDir('edgegate-chaos-conf-'), 'none'),
      bridgeClientId: 'gw-chaos',
    };
    const sub = await cloudSubscriber(cloud, CLOUD_FILTER, 'cloud-chaos');
    const ledger = new Ledger();
    const subs = [new SessionSubscriber('chaos-v4', 4), new SessionSubscriber('chaos-v5', 5)];
    const violations: string[] = [];
    const bootMs: number[] = [];

    const boot = async (tag: string): Promise<GatewayProcess> => {
      const gw = GatewayProcess.spawn(spec);
      bootMs.push(await gw.ready(25_000));
      violations.push(...gw.bootProblems().map((p) => `${tag}: ${p}`));
      const h = await gw.healthz();
      if (h.body.storage?.persistent !== true) violations.push(`${tag}: storage.persistent = ${h.body.storage?.persistent}`);
      return gw;
    };

    let gw = await boot('first start');
    const secret = readSecret(spec.dataDir).text;
    const token = await sensorToken(readSecret(spec.dataDir).bytes, 'chaos-sensor');
    for (const s of subs) {
      await s.connect(spec.port, token);
      await s.subscribe();
      await s.disconnect();
    }

    // The cloud flaps: down (SIGTERM: Mosquitto saves its sessions) and up again, at seeded intervals.
    let flapping = true;
    let flaps = 0;
    const rf = rng(SEED ^ 0xf1a9);
    const flapper = (async () => {
      while (flapping) {
        await letRun(between(rf, 200, 1200));
        if (!flapping) break;
        await cloud!.stop();
        flaps++;
        await letRun(between(rf, 100, 800));
        await cloud!.restart();
      }
    })();

    const kinds = Array.from({ length: KILLS }, (_, i) => (i === Math.floor(KILLS / 2) ? 'drain' : 'load'));
    try {
      for (let k = 1; k <= KILLS; k++) {
        const r = rng(SEED + k * 31);
        const tag = `kill ${k}/${KILLS} (${kinds[k - 1]})`;
        const load = await Load.start({ port: spec.port, token, ledger, cycle: k, seed: SEED + k, versions: [4, 4, 5, 5] });
        if (kinds[k - 1] === 'drain') {
          await letRun(between(r, 300, 800));
          assert.ok(await load.settle(15_000), `${tag}: load did not settle`);
          await load.abandon();
          for (const s of subs) {
            const { sessionPresent } = await s.connect(spec.port, token);
            if (!sessionPresent) violations.push(`${tag}: ${s.clientId}: session present = 0`);
          }
          await letRun(between(r, 0, 100));
          gw.kill9();
        } else {
          await letRun(between(r, 300, 1500));
          gw.kill9();
          await load.abandon();
        }
        await gw.exited();
        for (const s of subs) if (s.client) await s.disconnect().catch(() => undefined);
        gw = await boot(`restart after ${tag}`);
        if (readSecret(spec.dataDir).text !== secret) violations.push(`${tag}: the generated secret changed`);
        violations.push(...(await checkRetained(spec.port, token, ledger, `after ${tag}`)));
        violations.push(...(await checkSessions(spec.port, token, ledger, subs, `after ${tag}`)));
      }
    } finally {
      flapping = false;
      await flapper;
      if (!cloud.running) await cloud.restart();
    }

    // The cloud steady: every acknowledged bridged message arrives.
    await waitUntil(() => cloudLosses(sub.inbox.messages, ledger).lost.length === 0, { timeoutMs: 60_000, what: 'every bridged message' }).catch(
      () => undefined,
    );
    const result = cloudLosses(sub.inbox.messages, ledger);
    if (result.lost.length) violations.push(`cloud: ${result.lost.length} acknowledged bridged messages never delivered (${result.describe})`);
    sub.client.end(true);
    gw.kill9();
    await gw.exited();

    const retainedTopics = [...ledger.retained.values()].filter((e) => e.maxAcked >= 0).length;
    process.stdout.write(
      `      [chaos] seed ${SEED}: ${KILLS} x kill -9, cloud down ${flaps} times; boots ${bootMs.length} ` +
        `(max ${Math.max(...bootMs)} ms); sent ${ledger.sent}, acknowledged ${ledger.acked} ` +
        `(bridged ${ledger.bridgedAcked.size}, session ${ledger.sessionAcked.size} x2, ` +
        `retained topics ${retainedTopics}), unanswered at kills ${ledger.unanswered}; ` +
        `LOST: bridged ${result.lost.length}, violations ${violations.length}; duplicates: cloud ${result.duplicates}, sessions ` +
        `${subs.map((s) => `${s.clientId} ${s.duplicates}`).join(', ')}; ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    if (violations.length) process.stdout.write(violations.map((v) => `        - ${v}`).join('\n') + '\n');
    assert.ok(ledger.bridgedAcked.size > 0 && ledger.sessionAcked.size > 0 && retainedTopics > 0, 'the load acknowledged something of each kind');
    assert.deepEqual(violations, []);
  });
});

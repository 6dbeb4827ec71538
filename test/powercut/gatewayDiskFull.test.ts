// A full disk under load: `edgegate run` on lazyfs, its capacity set after a first load to just above what is used (the
// writes beyond it fail with ENOSPC, SQLite says SQLITE_FULL).
// While full: nothing new is acknowledged (MQTT 5: PUBACK 0x97 Quota exceeded; MQTT 3.1.1:
// no PUBACK, the connection closes), local routing to live subscribers goes on, /healthz
// is 503 with storage.writable false and the "disk full" reason. Once setCapacity() frees
// space it recovers by itself (new messages acknowledged, /healthz ok), and after a power
// cut nothing acknowledged before, during or after is lost.
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { cloudSubscriber } from '../bridge/support.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { skipUnlessFuse } from '../helpers/powerCut.js';
import { waitUntil } from '../helpers/wait.js';
import { CLOUD_FILTER, cleanupAll, removeTempDirs, rng } from './support/gateway.js';
import { Rig } from './support/scenario.js';
import { cloudLosses, connectMqtt, end, Load } from './support/workload.js';

const SEED = Number(process.env.EDGEGATE_POWERCUT_SEED ?? 20261204);
/**
 * The "disk" gets full only after the first load has settled: capacity = what is used then plus
 * this headroom (a fixed capacity let a fast machine fill it during the first load, whose WAL
 * grows towards ~4 MiB before a checkpoint).
 */
const HEADROOM = 512 * 1024;
const QUOTA_EXCEEDED = 0x97;

interface Outcome {
  acked: boolean;
  /** PUBACK reason code when refused (MQTT 5). */
  code?: number;
  /** No answer within the time (MQTT 3.1.1 refusal: the connection closes). */
  timeout?: boolean;
  error?: string;
}

/** One QoS 1 publish: acknowledged, refused (MQTT 5 reason code), or never answered (timeout, or the connection closed first). */
function publish1(c: MqttClient, topic: string, payload: string, ms = 10_000, retain = false): Promise<Outcome> {
  return new Promise((res) => {
    const closed = (): void => (clearTimeout(t), res({ acked: false, timeout: true }));
    const t = setTimeout(() => (c.off('close', closed), res({ acked: false, timeout: true })), ms);
    c.once('close', closed);
    c.publish(topic, payload, { qos: 1, retain }, (err) => {
      clearTimeout(t);
      c.off('close', closed);
      if (!err) return res({ acked: true });
      const code = (err as Error & { code?: unknown }).code;
      res({ acked: false, code: typeof code === 'number' ? code : undefined, error: err.message });
    });
  });
}

describe('a full disk under load: edgegate run on lazyfs with a capacity', function () {
  this.timeout(240_000);
  let rig: Rig | undefined;
  let cloud: Mosquitto | undefined;

  before(function () {
    skipUnlessFuse(this);
  });

  afterEach(async function () {
    // On a failure: what the daemon logged at warn and above (not the bridge's connection refusals).
    if (this.currentTest?.state === 'failed' && rig?.gw) {
      const lines = rig.gw
        .log()
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l) && !/cannot connect to the cloud/.test(l));
      process.stdout.write(
        `      daemon log (warn+), last 30 of ${lines.length}:\n${lines
          .slice(-30)
          .map((l) => `        ${l.slice(0, 400)}`)
          .join('\n')}\n`,
      );
    }
    await cleanupAll();
    await cloud?.dispose();
    cloud = undefined;
    await rig?.fs.dispose();
    rig = undefined;
    removeTempDirs();
  });

  it('refuses what it cannot store (0x97 / no PUBACK), keeps routing, reports it in /healthz, recovers by itself, loses nothing acknowledged', async () => {
    const started = Date.now();
    rig = await Rig.create({ seed: SEED, capacityBytes: null });
    const { ledger } = rig;
    await rig.firstBoot();
    const { port } = rig.spec;
    const boot = await rig.fs.stats();

    // A live subscriber (clean session, QoS 0: nothing of it is stored).
    const live = await connectMqtt(port, { clientId: 'live-sub', protocolVersion: 4, clean: true, username: 'live', password: rig.token });
    const liveGot: string[] = [];
    live.client!.on('message', (topic, payload) => liveGot.push(`${topic} ${payload.toString().split('|', 1)[0]}`));
    await new Promise<void>((res, rej) => live.client!.subscribe(['live/#', 'data/#'], { qos: 0 }, (err) => (err ? rej(err) : res())));

    // 1. Before: the mixed load, all of it acknowledged.
    const load = await Load.start({ port, token: rig.token, ledger, cycle: 1, seed: SEED, versions: [4, 5] });
    await waitUntil(() => ledger.acked >= 1000, { timeoutMs: 30_000, what: 'a first load of 1000 acknowledged messages' });
    assert.ok(await load.settle(45_000), 'the first load settles (all answered)');
    await load.abandon();
    const ackedBefore = ledger.acked;
    const capacity = (await rig.fs.stats()).used + HEADROOM;
    await rig.fs.setCapacity(capacity);

    // 2. Fill the disk: an MQTT 5 publisher floods bridged 4 KiB messages until one is refused.
    const v5 = (await connectMqtt(port, { clientId: 'fill-v5', protocolVersion: 5, username: 'fill', password: rig.token })).client!;
    v5.setMaxListeners(0); // publish1 listens for 'close' once per publish in flight
    const pad = 'f'.repeat(4096);
    let n = 0;
    let firstRefusal: Outcome | undefined;
    const fillDeadline = Date.now() + 40_000;
    while (!firstRefusal && Date.now() < fillDeadline) {
      const batch = await Promise.all(
        Array.from({ length: 32 }, () => {
          const id = `f.${++n}`;
          return publish1(v5, 'data/fill', `${id}|${pad}`).then((o) => {
            if (o.acked) ledger.bridgedAcked.set(id, 2);
            return o;
          });
        }),
      );
      firstRefusal = batch.find((o) => !o.acked);
    }
    const filled = await rig.fs.stats();
    assert.ok(firstRefusal, `the disk never filled (${n} messages, used ${filled.used} of ${filled.capacity})`);

    // From the first refusal until space is freed, /healthz every 20 ms (and what the test did).
    const t0 = Date.now();
    const events: string[] = [];
    const mark = (what: string): void => void events.push(`${Date.now() - t0} ms ${what}`);
    const polls = { ok: 0, unhealthy: 0, withReason: 0 };
    let polling = true;
    let lastState = '';
    const poller = (async () => {
      while (polling) {
        const h = await rig!.gw!.healthz().catch(() => undefined);
        const st = h?.body.storage ?? {};
        const state = h ? `${h.httpStatus} writable=${st.writable}${st.error ? ` "${st.error}"` : ''}` : 'no answer';
        if (h?.httpStatus === 200) polls.ok++;
        else if (h) polls.unhealthy++;
        if (st.writable === false && /disk full/.test(String(st.error))) polls.withReason++;
        if (state !== lastState) mark(`/healthz ${(lastState = state)}`);
        await new Promise((r) => setTimeout(r, 20)); // the sampling interval of this observer
      }
    })();

    // 3. While full, nothing new is acknowledged. The messages are larger (256 KiB) than any
    // room a failed commit leaves at the end of the WAL: a message that fits there is stored
    // and rightly acknowledged (as on a real card), so a small one proves nothing either way.
    const big = 'B'.repeat(256 * 1024);
    const during: Outcome[] = [];
    for (let i = 0; i < 5; i++) {
      const o = await publish1(v5, 'data/full', `full5.${i}|${big}`, 10_000);
      if (o.acked) ledger.bridgedAcked.set(`full5.${i}`, 3);
      during.push(o);
    }
    const during5 = {
      acked: during.filter((o) => o.acked).length,
      quota: during.filter((o) => o.code === QUOTA_EXCEEDED).length,
      codes: during.map((o) => (o.acked ? 'acked' : (o.code ?? o.error))),
    };
    mark(`MQTT 5 answers ${JSON.stringify(during5.codes)}`);
    const v4 = (await connectMqtt(port, { clientId: 'full-v4', protocolVersion: 4, username: 'full', password: rig.token })).client!;
    const v4closed = new Promise<boolean>((res) => {
      const t = setTimeout(() => res(false), 10_000);
      v4.once('close', () => (clearTimeout(t), res(true)));
    });
    const v4out = await publish1(v4, 'data/full', `full4.0|${big}`, 10_000);
    if (v4out.acked) ledger.bridgedAcked.set('full4.0', 3);
    const v4wasClosed = await v4closed;
    mark(`MQTT 3.1.1: ${v4out.acked ? 'ACKED' : v4out.timeout ? 'no PUBACK' : v4out.error}, connection ${v4wasClosed ? 'closed' : 'kept'}`);
    // Local routing to a live subscriber goes on (QoS 0 to a clean session: nothing stored).
    const pub0 = (await connectMqtt(port, { clientId: 'live-pub', protocolVersion: 4, username: 'live', password: rig.token })).client!;
    for (let i = 0; i < 20; i++) pub0.publish('live/x', `live.${i}|`, { qos: 0 });
    const liveCount = (): number => liveGot.filter((x) => x.startsWith('live/x')).length;
    await waitUntil(() => liveCount() >= 20, { what: 'the live messages' }).catch(() => undefined);
    const liveDuringFull = liveCount();
    const refusedRoutedLocally = liveGot.filter((x) => / full[45]\./.test(x)).length;
    mark(`live routing ${liveDuringFull}/20`);
    // One more /healthz sample, taken after all of the above.
    const samples = polls.ok + polls.unhealthy;
    await waitUntil(() => polls.ok + polls.unhealthy > samples, { what: 'a /healthz sample' }).catch(() => undefined);
    polling = false;
    await poller;

    // 4. Space freed: it recovers by itself, without a restart.
    await rig.fs.setCapacity(null);
    const hIdle = await rig.gw!.healthz(); // before any new message (for the report)
    let recovered: Outcome | undefined;
    let tries = 0;
    const recover = async (): Promise<boolean> => {
      const id = `rec.${++tries}`;
      recovered = await publish1(v5, 'data/recover', `${id}|${big}`, 5000);
      if (recovered.acked) ledger.bridgedAcked.set(id, 4);
      return recovered.acked;
    };
    await waitUntil(recover, { timeoutMs: 15_000, what: 'a message acknowledged again', everyMs: 200 }).catch(() => undefined);
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => publish1(v5, 'data/after', `after5.${i}|${pad}`, 10_000)));
    for (const [i, o] of after.entries()) if (o.acked) ledger.bridgedAcked.set(`after5.${i}`, 4);
    const v4b = (await connectMqtt(port, { clientId: 'full-v4', protocolVersion: 4, username: 'full', password: rig.token })).client!;
    const v4after = await publish1(v4b, 'data/after', `after4.0|${big}`, 10_000);
    if (v4after.acked) ledger.bridgedAcked.set('after4.0', 4);
    const load2 = await Load.start({ port, token: rig.token, ledger, cycle: 5, seed: SEED + 5, versions: [4, 5] });
    const ackedAt = ledger.acked;
    await waitUntil(() => ledger.acked >= ackedAt + 500, { timeoutMs: 30_000, what: '500 more acknowledged' });
    assert.ok(await load2.settle(45_000), 'the load after recovery settles');
    await load2.abandon();
    // Storage counts as failing until 10 s pass without a failed commit (no flapping on a full card): then healthy again.
    let hAfter = await rig.gw!.healthz();
    await waitUntil(async () => (hAfter = await rig!.gw!.healthz()).httpStatus === 200, { timeoutMs: 15_000, what: '/healthz ok', everyMs: 250 }).catch(
      () => undefined,
    );
    await Promise.all([end(v5, true), end(v4b, true), end(pub0, true), end(live.client, true)]);
    const daemonErrors = [...new Set(rig.gw!.errors().map((e) => e.slice(0, 200)))];

    // 5. A power cut, and the final boot with the cloud up: nothing acknowledged is lost.
    await rig.powerCut('cut after the full disk', rng(SEED + 9));
    cloud = await Mosquitto.start({ port: rig.spec.cloudPort });
    const sub = await cloudSubscriber(cloud, CLOUD_FILTER, 'cloud-collector-full');
    await rig.boot('boot after the full disk');
    await rig.checkAll('checks after the full disk', { queueCount: false });
    await waitUntil(() => cloudLosses(sub.inbox.messages, ledger).lost.length === 0, { timeoutMs: 60_000, what: 'every bridged message' }).catch(
      () => undefined,
    );
    const cloudResult = cloudLosses(sub.inbox.messages, ledger);
    if (cloudResult.lost.length)
      rig.violations.push(`cloud: ${cloudResult.lost.length} acknowledged bridged messages never delivered (${cloudResult.describe})`);
    sub.client.end(true);

    process.stdout.write(
      `      [powercut disk-full] capacity ${capacity} B (used at boot ${boot.used} B; full at ` +
        `${filled.used} B after ${n} fill messages of 4 KiB; first refusal ${JSON.stringify(firstRefusal)}); ` +
        `acknowledged: ${ackedBefore} before the fill, ${ledger.bridgedAcked.size} ` +
        `bridged in all; while full: MQTT 5 (256 KiB) ${JSON.stringify(during5.codes)}, ` +
        `MQTT 3.1.1 ${v4out.acked ? 'ACKED' : v4out.timeout ? 'no PUBACK' : v4out.error} + connection ${v4wasClosed ? 'closed' : 'kept'}; ` +
        `live QoS 0 routed ${liveDuringFull}/20 (refused messages routed locally: ${refusedRoutedLocally}); ` +
        `/healthz polled while full: ${polls.unhealthy} unhealthy (${polls.withReason} with "disk full"), ${polls.ok} OK; after ` +
        `freeing, idle: ${hIdle.httpStatus}; after new messages: ${hAfter.httpStatus} (acknowledged again at try ${tries}); ` +
        `LOST bridged ${cloudResult.lost.length}, duplicates ${cloudResult.duplicates}, ` +
        `violations ${rig.violations.length}; ${Math.round((Date.now() - started) / 1000)} s\n` +
        `      [powercut disk-full] /healthz transitions while full: ${events.join('; ')}\n` +
        `      [powercut disk-full] distinct error lines of the daemon: ${daemonErrors.join(' | ')}\n`,
    );
    if (rig.violations.length) process.stdout.write(rig.violations.map((v) => `        - ${v}`).join('\n') + '\n');

    assert.equal(during5.acked, 0, 'MQTT 5: nothing new acknowledged while the disk is full');
    assert.ok(!v4out.acked && v4out.timeout, `MQTT 3.1.1: no PUBACK (${JSON.stringify(v4out)})`);
    assert.ok(v4wasClosed, 'MQTT 3.1.1: its connection is closed');
    assert.equal(liveDuringFull, 20, 'local routing to a live subscriber goes on');
    assert.ok(polls.withReason > 0, '/healthz reports the storage reason ("disk full") while full');
    assert.ok(recovered?.acked, 'acknowledged again once space is freed');
    assert.equal(after.filter((o) => o.acked).length, 20, 'MQTT 5: new messages acknowledged after recovery');
    assert.ok(v4after.acked, 'MQTT 3.1.1: acknowledged after recovery');
    assert.equal(hAfter.httpStatus, 200, `/healthz ok after recovery: ${JSON.stringify(hAfter.body.storage)}`);
    assert.equal(hAfter.body.storage?.writable, true);
    assert.deepEqual(rig.violations, [], 'nothing acknowledged lost');
    // Last, so that everything above is judged first: how the refusal is reported.
    const contract: string[] = [];
    if (polls.ok > 0) contract.push(`/healthz answered 200 (storage writable) ${polls.ok} times while the disk was full and messages were refused`);
    const codes = [firstRefusal, ...during].filter((o) => !o.acked).map((o) => o.code);
    if (codes.some((c) => c !== QUOTA_EXCEEDED))
      contract.push(`MQTT 5 refusals on a full disk were ${JSON.stringify(codes)}, not all 0x97 (151) Quota exceeded`);
    assert.deepEqual(contract, [], 'a full disk is reported as such');
  });
});

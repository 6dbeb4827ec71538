// A small fleet end to end: five gateways (real daemons, real sockets, real SQLite
// files) bridged to two Mosquittos bridged to each other. A signed fleet revocation
// made with the real CLI disconnects the subject everywhere and refuses it on
// reconnect, reaches a gateway that was offline during it and one installed after
// it (from the retained snapshot); unsigned, replayed and foreign-signed messages
// are refused and counted; `fleet status` shows the fleet; after an outage of both
// cloud nodes every acknowledged sensor message arrives.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { CompactSign } from 'jose';
import type { MqttClient } from 'mqtt';
import { fleetKeyId } from '../../src/auth/fleetProtocol.js';
import { bridgeStatus, cloudSubscriber, distinct } from '../bridge/support.js';
import { runCli } from '../cli/support.js';
import { startDaemon, type TestDaemon, tempDir } from '../helpers/daemon.js';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { closed, type collector, connect, connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { CLOUD_TOPIC, counter, type FleetKeyFiles, gatewayConfig, makeFleetKey, SECRET, twoNodeCloud } from './support.js';

describe('fleet: signed revocations and fleet status across a two-node cloud', function () {
  this.timeout(120_000);
  let dir: string;
  let key: FleetKeyFiles;
  let cloud: { a: Mosquitto; b: Mosquitto };
  const gateways = new Map<string, TestDaemon>();
  const dataDirs = new Map<string, string>();
  let watcher: { client: MqttClient; inbox: ReturnType<typeof collector> };
  const mint = (sub: string, jti = `${sub}-${Math.random()}`) => hsToken(SECRET, { sub, jti, exp: nowSec() + 3600 });
  const cloudOf = (name: string): Mosquitto => (['gw-1', 'gw-2', 'gw-5'].includes(name) ? cloud.a : cloud.b);
  const fleet = (...args: string[]) => runCli(['fleet', ...args]);
  const revokeArgs = (verb: string, ...what: string[]) => [verb, '--cloud', `mqtt://127.0.0.1:${cloud.a.port}`, '--key', key.privateKey, ...what];

  async function startGateway(name: string): Promise<TestDaemon> {
    const dataDir = dataDirs.get(name) ?? tempDir(`edgegate-${name}-`);
    dataDirs.set(name, dataDir);
    const d = await startDaemon(gatewayConfig(name, cloudOf(name).port, [key.publicKey]), { dataDir });
    gateways.set(name, d);
    await waitUntil(() => bridgeStatus(d.daemon).state === 'connected', { timeoutMs: 10_000, what: `${name} connected` });
    return d;
  }
  async function stopGateway(name: string): Promise<void> {
    await gateways.get(name)?.stop();
    gateways.delete(name);
  }
  const live = (): TestDaemon[] => [...gateways.values()];

  before(async () => {
    dir = tempDir('edgegate-fleet-');
    key = makeFleetKey(dir, 'fleet');
    cloud = await twoNodeCloud();
    // The operator's view of the cloud: the events and every sensor message (persistent session).
    watcher = await cloudSubscriber(cloud.a, 'sensors/#', 'fleet-test-watcher');
    await subscribe(watcher.client, CLOUD_TOPIC, 1);
    for (const name of ['gw-1', 'gw-2', 'gw-3', 'gw-4']) await startGateway(name);
  });

  after(async () => {
    await end(watcher?.client);
    for (const d of gateways.values()) await d.stop();
    for (const d of dataDirs.values()) rmSync(d, { recursive: true, force: true });
    await cloud?.a.dispose();
    await cloud?.b.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fleet status lists every gateway online with its health summary (exit 0)', async () => {
    await waitUntil(
      async () => {
        const r = await fleet('status', '--cloud', `mqtt://127.0.0.1:${cloud.a.port}`, '--json', '--wait', '0.3');
        return r.code === 0 && (JSON.parse(r.stdout) as { gateways: unknown[] }).gateways.length === 4;
      },
      { timeoutMs: 30_000, what: 'health summaries retained', everyMs: 500 },
    );
    const r = await fleet('status', '--cloud', `mqtt://127.0.0.1:${cloud.b.port}`, '--wait', '0.3');
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['gw-1', 'gw-2', 'gw-3', 'gw-4']) assert.match(r.stdout, new RegExp(`^${name}\\s+online\\s+yes\\s`, 'm'));
    assert.match(r.stdout, /4 of 4 gateways online and fresh/);
  });

  it('fleet revoke --sub disconnects the subject on every live gateway and refuses it on reconnect; others stay', async () => {
    await stopGateway('gw-4'); // offline during the revocation
    const victims = new Map<string, MqttClient>();
    const others = new Map<string, MqttClient>();
    for (const [name, d] of gateways) {
      victims.set(name, await connectOk(d.port, { clientId: `bystander-${name}`, username: 'u', password: await mint('bystander') }));
      others.set(name, await connectOk(d.port, { clientId: `other-${name}`, username: 'u', password: await mint('other') }));
    }
    const r = await fleet(...revokeArgs('revoke', '--sub', 'bystander', '--reason', 'device stolen'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /revoked: sub bystander \(seq 1/);
    // Within the 5 s (a functional deadline; the bench measures the real figure).
    await Promise.all([...victims.values()].map((c) => closed(c, 5000)));
    for (const [name, d] of gateways) {
      assert.equal((await connect(d.port, { clientId: `bystander-${name}-2`, username: 'u', password: await mint('bystander') })).returnCode, 4, name);
      assert.ok(others.get(name)!.connected, `${name}: other subjects stay connected`);
    }
    await end(...others.values());
    const status = await fleet('status', '--cloud', `mqtt://127.0.0.1:${cloud.a.port}`, '--json', '--wait', '0.3');
    assert.equal(status.code, 1, 'one gateway is offline');
    const rows = (JSON.parse(status.stdout) as { gateways: Array<{ clientId: string; online: boolean }> }).gateways;
    assert.deepEqual(
      rows.filter((g) => !g.online).map((g) => g.clientId),
      ['gw-4'],
    );
  });

  it('a gateway offline during the revocation and one installed after it both refuse the subject', async () => {
    const g4 = await startGateway('gw-4');
    const g5 = await startGateway('gw-5'); // new: empty database, learns it from the retained snapshot
    for (const d of [g4, g5]) {
      await waitUntil(() => d.logs.some((l) => l.msg === 'fleet revocation snapshot applied' || l.msg === 'fleet revocation event applied'), {
        timeoutMs: 10_000,
        what: 'the fleet revocation arrived',
      });
      assert.equal((await connect(d.port, { clientId: 'bystander-late', username: 'u', password: await mint('bystander') })).returnCode, 4);
    }
    assert.ok(g5.logs.some((l) => l.msg === 'fleet revocation snapshot applied' && l.seq === 1 && l.revoked === 1));
    // Restarted with its database, gw-4 also keeps the revocation from disk.
    await stopGateway('gw-4');
    const again = await startGateway('gw-4');
    assert.equal((await connect(again.port, { clientId: 'bystander-late', username: 'u', password: await mint('bystander') })).returnCode, 4);
  });

  it('unsigned, replayed, foreign-signed and tampered messages are refused and counted', async () => {
    const events = () => distinct(watcher.inbox.messages.filter((m) => m.topic === CLOUD_TOPIC));
    await waitUntil(() => events().length >= 1, { what: 'the operator saw event 1' });
    const seq1 = events()[0]!.payload;
    // An old unrevoke must not be replayable: revoke, unrevoke (captured), revoke again.
    for (const verb of ['revoke', 'unrevoke', 'revoke']) assert.equal((await fleet(...revokeArgs(verb, '--jti', 'leaked-1'))).code, 0);
    await waitUntil(() => events().length >= 4, { what: 'events 2-4 seen' });
    const oldUnrevoke = events()[2]!.payload;
    const applied = ['fleet revocation event applied', 'fleet revocation snapshot applied'];
    const seq4 = (l: Record<string, unknown>): boolean => applied.includes(String(l.msg)) && l.seq === 4;
    for (const d of live()) await waitUntil(() => d.logs.some(seq4), { timeoutMs: 10_000, what: 'seq 4 applied' });

    const other = await connectOk(gateways.get('gw-1')!.port, { clientId: 'other-stays', username: 'u', password: await mint('other') });
    const attacker = await connectOk(cloud.a.port, { clientId: 'cloud-attacker' });
    const foreign = createPrivateKey(readFileSync(makeFleetKey(dir, 'foreign').privateKey));
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify({ sub: 'other', seq: 99, iat: nowSec() })))
      .setProtectedHeader({ alg: 'ES256', typ: 'edgegate-revocation', kid: await fleetKeyId(foreign) })
      .sign(foreign);
    const ownKid = await fleetKeyId(createPrivateKey(readFileSync(key.privateKey)));
    const [h, , s] = seq1.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: 'other', seq: 100, iat: nowSec() })).toString('base64url')}.${s}`;
    assert.match(Buffer.from(h!, 'base64url').toString(), new RegExp(ownKid));
    await publish(attacker, CLOUD_TOPIC, JSON.stringify({ sub: 'other' }), { qos: 1 });
    await publish(attacker, CLOUD_TOPIC, JSON.stringify({ jti: 'leaked-1', unrevoke: true }), { qos: 1 });
    await publish(attacker, CLOUD_TOPIC, seq1, { qos: 1 });
    await publish(attacker, CLOUD_TOPIC, oldUnrevoke, { qos: 1 });
    await publish(attacker, CLOUD_TOPIC, forged, { qos: 1 });
    await publish(attacker, CLOUD_TOPIC, tampered, { qos: 1 });
    await publish(attacker, `${CLOUD_TOPIC}/snapshot`, JSON.stringify({ seq: 1000, iat: nowSec(), revocations: [] }), { qos: 1 });
    await end(attacker);

    for (const d of live()) {
      await waitUntil(async () => (await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'bad_signature' })) >= 1, {
        timeoutMs: 10_000,
        what: 'every refusal counted',
      });
      assert.equal(await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'unsigned' }), 3);
      assert.ok((await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'replay' })) >= 2);
      assert.equal(await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'unknown_key' }), 1);
      assert.equal(await counter(d.daemon, 'fleetRevocationsRefused', { reason: 'bad_signature' }), 1);
      assert.equal(
        (await connect(d.port, { clientId: 'leaked', username: 'u', password: await mint('someone', 'leaked-1') })).returnCode,
        4,
        'the replayed unrevoke lifted nothing',
      );
    }
    assert.ok(other.connected, 'neither the unsigned nor the forged revocation of "other" was applied');
    const scrape = await gateways.get('gw-1')!.daemon.metrics.registry.metrics();
    assert.match(scrape, /edgegate_fleet_revocations_refused_total\{reason="unsigned"\} 3/);
    await end(other);
    // The attacker's messages were not retained: the cloud still holds the operator's snapshot (seq 4).
    const list = await fleet('revocations', '--cloud', `mqtt://127.0.0.1:${cloud.b.port}`, '--key', key.publicKey, '--json');
    assert.equal(list.code, 0, list.stderr);
    const snap = JSON.parse(list.stdout) as { seq: number; verified: boolean; revocations: Array<{ kind: string; value: string }> };
    assert.equal(snap.seq, 4);
    assert.equal(snap.verified, true);
    assert.deepEqual(snap.revocations.map((e) => `${e.kind}:${e.value}`).sort(), ['jti:leaked-1', 'sub:bystander']);
  });

  it('after an outage of both cloud nodes every acknowledged message is delivered', async () => {
    const sensors = new Map<string, MqttClient>();
    for (const [name, d] of gateways) sensors.set(name, await connectOk(d.port, { clientId: `temp-${name}`, username: 'u', password: await mint('temp') }));
    const acked: string[] = [];
    const send = async (round: string) => {
      for (const [name, c] of sensors) {
        for (let i = 0; i < 5; i++) {
          const payload = `${name}-${round}-${i}`;
          await publish(c, `sensors/${name}/t`, payload, { qos: 1 });
          acked.push(payload);
        }
      }
    };
    await send('before');
    await Promise.all([cloud.a.stop(), cloud.b.stop()]);
    for (const d of live()) await waitUntil(() => bridgeStatus(d.daemon).state !== 'connected', { timeoutMs: 10_000, what: 'bridge down' });
    await send('during'); // acknowledged by the gateways: queued in their SQLite outboxes
    assert.ok(
      live().every((d) => bridgeStatus(d.daemon).queue.messages > 0),
      'backlog queued while the cloud is down',
    );
    await cloud.a.restart();
    await cloud.b.restart();
    await send('after');
    const arrived = () => new Set(watcher.inbox.messages.filter((m) => m.topic.startsWith('sensors/')).map((m) => m.payload));
    await waitUntil(() => acked.every((p) => arrived().has(p)), { timeoutMs: 60_000, what: 'every acknowledged message delivered', everyMs: 100 });
    for (const d of live()) await waitUntil(() => bridgeStatus(d.daemon).queue.messages === 0, { timeoutMs: 20_000, what: 'backlog drained' });
    assert.equal(acked.filter((p) => !arrived().has(p)).length, 0);
    await end(...sensors.values());
    const r = await fleet('revocations', '--cloud', `mqtt://127.0.0.1:${cloud.b.port}`, '--key', key.publicKey);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signature verified/);
    assert.match(r.stdout, /^sub\tbystander/m);
  });
});

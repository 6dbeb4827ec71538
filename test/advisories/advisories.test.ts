// The aedes 2.0.0-beta.1 patch (patches/aedes+2.0.0-beta.1.patch, applied by
// patch-package at every install): each published advisory's attack, run against
// a bare aedes in a process of its own, once with the installed (patched) aedes and
// once with an unpatched copy made here by reversing the patch. The attack must
// work on the unpatched copy (the test reproduces it) and fail on the patched one.
// Then the same attacks against the real daemon, which must keep serving.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect5Ok, connectPacket5, RawV5 } from '../broker/support/mqtt5.js';
import { REPO_ROOT } from '../cli/support.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { subscribe } from '../helpers/mqtt.js';
import { hsToken, nowSec } from '../helpers/tokens.js';

const PATCHED = join(REPO_ROOT, 'node_modules', 'aedes');
// Inside node_modules, so that the copy's own imports (aedes-packet, mqemitter, ...) resolve as the installed one's do.
const UNPATCHED = join(REPO_ROOT, 'node_modules', '.cache', 'edgegate-aedes-unpatched');
const PATCH = join(REPO_ROOT, 'patches', 'aedes+2.0.0-beta.1.patch');

interface Seen {
  seen: Array<{ cmd: string; qos?: number; reasonCode?: number; granted?: number[]; payload?: string }>;
  closedByBroker: boolean;
}
interface Outcome {
  crashed: boolean;
  error?: string;
  attacker?: Seen;
  subscriber?: Seen;
  probe?: Seen;
}

function attack(aedesDir: string, name: string): Outcome {
  const out = execFileSync(process.execPath, [join(REPO_ROOT, 'test', 'advisories', 'attack.mjs'), aedesDir, name], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Outcome;
}

const served = (o: Outcome): boolean => !o.crashed && (o.probe?.seen.some((p) => p.cmd === 'pingresp') ?? false);

describe('aedes patch: each advisory attack works on the unpatched beta and fails on the patched one', function () {
  this.timeout(60_000);
  before(() => {
    rmSync(UNPATCHED, { recursive: true, force: true });
    cpSync(PATCHED, UNPATCHED, { recursive: true });
    // -p3 strips a/node_modules/aedes/; git apply needs no repository for this.
    execFileSync('git', ['apply', '-R', '-p3', '--unsafe-paths', `--directory=${UNPATCHED}`, PATCH], { cwd: REPO_ROOT, stdio: 'pipe' });
    assert.ok(existsSync(join(UNPATCHED, 'aedes.js')));
  });
  after(() => rmSync(UNPATCHED, { recursive: true, force: true }));

  for (const name of ['prototype-subscribe', 'prototype-unsubscribe', 'prototype-client-id']) {
    it(`GHSA-52qw-whmv-87c5 (${name}): crashes the unpatched broker; the patched one answers and keeps serving`, () => {
      const before = attack(UNPATCHED, name);
      assert.equal(before.crashed, true, `the attack reproduces: ${JSON.stringify(before)}`);
      const after = attack(PATCHED, name);
      assert.ok(served(after), JSON.stringify(after));
      assert.ok(after.attacker!.seen.some((p) => p.cmd === 'connack'));
    });
  }

  it(
    'GHSA-xxqp-5qx8-gj5q (topics deeper than 100 levels in a will, SUBSCRIBE, UNSUBSCRIBE, ' +
      'PUBLISH): refused without a crash by both (the beta already carries this fix)',
    () => {
      for (const dir of [UNPATCHED, PATCHED]) {
        const o = attack(dir, 'deep-topic');
        assert.ok(served(o), JSON.stringify(o));
        assert.ok(!o.attacker!.seen.some((p) => p.cmd === 'puback'), 'never acknowledged');
      }
    },
  );

  it(
    'GHSA-5jvp-3p2v-5qgf (QoS 2 flood without PUBREL): the unpatched broker stores all ' +
      '300; the patched one holds at most maxInflightInbound (100) and drops the connection',
    () => {
      const pubrecs = (o: Outcome): number => o.attacker!.seen.filter((p) => p.cmd === 'pubrec').length;
      const before = attack(UNPATCHED, 'qos2-flood');
      assert.equal(pubrecs(before), 300, 'the attack reproduces: every message held awaiting PUBREL');
      const after = attack(PATCHED, 'qos2-flood');
      // The 101st unreleased message closes the connection; PUBRECs of the first 100 still being stored may not go out.
      assert.ok(pubrecs(after) <= 100, `${pubrecs(after)} held`);
      assert.equal(after.attacker!.closedByBroker, true);
      assert.ok(served(after));
    },
  );

  it(
    'GHSA-p8r9-qf8w-p73r (QoS 2 dedup residue across clean sessions): unpatched, ' +
      'the new message is acknowledged but never delivered; patched, it is delivered',
    () => {
      const delivered = (o: Outcome): string[] => o.subscriber!.seen.filter((p) => p.cmd === 'publish').map((p) => p.payload!);
      const before = attack(UNPATCHED, 'clean-session-qos2-residue');
      assert.ok(
        before.attacker!.seen.some((p) => p.cmd === 'pubcomp'),
        'acknowledged',
      );
      assert.deepEqual(delivered(before), [], 'the attack reproduces: lost');
      const after = attack(PATCHED, 'clean-session-qos2-residue');
      assert.deepEqual(delivered(after), ['new']);
    },
  );

  it(
    'message loss (aedes 2): retained, plain and QoS 1 messages interleaved all reach ' +
      'a subscriber; unpatched, those overtaken in delivery were dropped as "duplicates"',
    () => {
      const delivered = (o: Outcome): number => o.subscriber!.seen.filter((p) => p.cmd === 'publish').length;
      assert.ok(delivered(attack(UNPATCHED, 'dedupe-reorder')) < 300, 'the loss reproduces');
      assert.equal(delivered(attack(PATCHED, 'dedupe-reorder')), 300);
    },
  );

  it('MQTT-3.8.4-6 (aedes 1.2 and 2): a QoS 2 message reaches a wildcard subscription granted QoS 1 at QoS 1, not 2', () => {
    const qos = (o: Outcome): number | undefined => o.subscriber!.seen.find((p) => p.cmd === 'publish')?.qos;
    assert.equal(qos(attack(UNPATCHED, 'qos-downgrade')), 2, 'the bug reproduces');
    assert.equal(qos(attack(PATCHED, 'qos-downgrade')), 1);
  });
});

describe('aedes patch: the same attacks against the running gateway', function () {
  this.timeout(20_000);
  const SECRET = 'advisory-secret-0123456789abcdef';
  let d: TestDaemon;
  const token = (): Promise<string> => hsToken(SECRET, { sub: 'attacker', exp: nowSec() + 600 });
  before(async () => (d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } }, broker: { maxInflightInbound: 50 } })));
  after(() => d.stop());

  it('prototype-named client ids and topic filters are ordinary names: subscribe, receive, take over', async () => {
    for (const clientId of ['constructor', '__proto__', 'toString']) {
      const a = await connect5Ok(d.port, { username: 'u', password: await token(), clientId });
      assert.deepEqual(await subscribe(a, ['constructor', 'hasOwnProperty', '__proto__'], 1), [1, 1, 1]);
      const got = new Promise<string>((resolve) => a.once('message', (topic) => resolve(topic)));
      const b = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: `${clientId}-pub` });
      b.publish('constructor', 'x', { qos: 1 });
      assert.equal(await got, 'constructor');
      // The same id again: the first is taken over (DISCONNECT 0x8E), not crashed into.
      const again = await connect5Ok(d.port, { username: 'u', password: await token(), clientId });
      again.end(true);
      b.end(true);
    }
  });

  it('a QoS 2 flood without PUBREL from an MQTT 5 client: DISCONNECT 0x93 (Receive Maximum exceeded) after broker.maxInflightInbound', async () => {
    const raw = await RawV5.open(d.port);
    raw.send(connectPacket5('flood5', { username: 'u', password: Buffer.from(await token()) }));
    assert.equal((await raw.next('connack')).properties?.receiveMaximum, 50);
    for (let i = 1; i <= 80; i++) raw.send({ cmd: 'publish', topic: 'flood', payload: 'x', qos: 2, messageId: i });
    assert.equal((await raw.next('disconnect')).reasonCode, 0x93);
    await raw.whenClosed();
    // The first 50 were taken; their PUBRECs follow their commit, so the DISCONNECT may come before some of them.
    assert.ok(raw.packets.filter((p) => p.cmd === 'pubrec').length <= 50);
    const probe = await connect5Ok(d.port, { username: 'u', password: await token(), clientId: 'after-flood' });
    probe.end(true);
  });
});

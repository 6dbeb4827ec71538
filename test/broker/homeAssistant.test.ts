// Home Assistant's MQTT integration against the real daemon, played by the library
// Home Assistant uses: Debian's python3-paho-mqtt 1.6.1 speaking MQTT 5 (HA 2027.1
// drops 3.1.1). A small Python driver (below) prints each paho callback as a JSON
// line and takes commands on stdin, so the test reads what paho itself saw. The
// scenario: protocol 5, clean start, a token as password, a retained will
// `homeassistant/status` = `offline`, a retained birth `online`, retained discovery
// configs, a device's state; later subscribers (mqtt.js v5, mosquitto_sub -V
// mqttv5) see the retained messages; SIGKILL fires the will. Then enhanced
// authentication (MQTT 5.0 section 4.12) and renewal by reconnecting, since paho
// 1.6 cannot send AUTH (section 3.15).
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { maximumPacketSize } from '../../src/broker/packetGuard.js';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { collector, subscribe } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { waitUntil } from '../helpers/wait.js';
import { run } from './support/mosquitto.js';
import { connect5Ok, connectPacket5, publish5, RawV5 } from './support/mqtt5.js';
import { P, prop, props, publishV5 } from './support/v5wire.js';

const PYTHON = '/usr/bin/python3';
const SECRET = 'home-assistant-secret-0123456789abcdef';

// The driver: paho callbacks out as JSON lines; publish/subscribe/disconnect/renew/exit in.
// One thread drives paho (loop() here), a second only reads stdin.
const DRIVER = `
import json, queue, sys, threading, time
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
cfg = json.loads(sys.argv[1])
def emit(ev, **kw):
    kw['ev'] = ev
    sys.stdout.write(json.dumps(kw) + '\\n'); sys.stdout.flush()
def pj(p):
    return {k: (v.hex() if isinstance(v, (bytes, bytearray)) else v) for k, v in (p.json().items() if p else [])}
c = mqtt.Client(client_id=cfg['clientId'], protocol=mqtt.MQTTv5)
if 'password' in cfg: c.username_pw_set(cfg['username'], cfg['password'])
w = cfg.get('will')
if w: c.will_set(w['topic'], w['payload'], qos=w['qos'], retain=w['retain'])
cp = Properties(PacketTypes.CONNECT)
for k, v in cfg.get('connectProperties', {}).items(): setattr(cp, k, v.encode() if k == 'AuthenticationData' else v)
c.on_connect = lambda cl, u, flags, rc, p=None: emit('connack', rc=rc.value, sessionPresent=bool(flags.get('session present')), props=pj(p))
c.on_disconnect = lambda cl, u, rc, p=None: emit('disconnect', rc=getattr(rc, 'value', rc))
c.on_message = lambda cl, u, m: emit('message', topic=m.topic, payload=m.payload.decode('utf-8', 'replace'),
                                    qos=m.qos, retain=bool(m.retain), props=pj(m.properties))
c.on_subscribe = lambda cl, u, mid, rcs, p=None: emit('suback', mid=mid, codes=[r.value for r in rcs])
c.on_publish = lambda cl, u, mid: emit('puback', mid=mid)
cmds = queue.Queue()
def reader():
    for line in sys.stdin:
        if line.strip(): cmds.put(json.loads(line))
    cmds.put({'op': 'exit'})
threading.Thread(target=reader, daemon=True).start()
c.connect('127.0.0.1', cfg['port'], keepalive=60, clean_start=cfg.get('cleanStart', True), properties=None if cp.isEmpty() else cp)
while True:
    if c.loop(timeout=0.02) != 0: time.sleep(0.02)  # not connected: loop() returns at once
    while not cmds.empty():
        cmd = cmds.get(); op = cmd['op']
        if op == 'publish': emit('sent', mid=c.publish(cmd['topic'], cmd['payload'], qos=cmd['qos'], retain=cmd['retain']).mid)
        elif op == 'subscribe': emit('sent', mid=c.subscribe(cmd['topic'], qos=cmd['qos'])[1])
        elif op == 'disconnect': c.disconnect()
        elif op == 'renew':
            c.username_pw_set(cfg['username'], cmd['password'])
            c.reconnect()
        elif op == 'exit':
            c.disconnect(); c.loop(timeout=0.1); sys.exit(0)
`;

type PahoEvent = { ev: string } & Record<string, any>;

/** One paho-mqtt process and the events it printed. */
class Paho {
  readonly events: PahoEvent[] = [];
  stderr = '';
  readonly exited: Promise<NodeJS.Signals | number | null>;
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly taken = new Set<PahoEvent>();
  constructor(cfg: Record<string, unknown>) {
    this.proc = spawn(PYTHON, ['-c', DRIVER, JSON.stringify(cfg)]);
    let buf = '';
    this.proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        this.events.push(JSON.parse(buf.slice(0, i)) as PahoEvent);
        buf = buf.slice(i + 1);
      }
    });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((r) => this.proc.on('exit', (code, signal) => r(signal ?? code)));
  }
  /** The first event of this kind matching `pred` not taken yet (each is taken once; kinds may interleave in any order). */
  async next(ev: string, pred: (e: PahoEvent) => boolean = () => true, ms = 5000): Promise<PahoEvent> {
    let hit: PahoEvent | undefined;
    await waitUntil(() => (hit = this.events.find((e) => e.ev === ev && !this.taken.has(e) && pred(e))) !== undefined, {
      timeoutMs: ms,
      what: `paho "${ev}" event`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; paho's stderr: ${this.stderr.slice(-1500) || '(empty)'}`);
    });
    this.taken.add(hit!);
    return hit!;
  }
  send(cmd: Record<string, unknown>): void {
    this.proc.stdin.write(JSON.stringify(cmd) + '\n');
  }
  /** publish/subscribe and the matching acknowledgement (paho's on_publish / on_subscribe). */
  async publish(topic: string, payload: string, qos = 1, retain = false): Promise<void> {
    this.send({ op: 'publish', topic, payload, qos, retain });
    const { mid } = await this.next('sent');
    await this.next('puback', (e) => e.mid === mid);
  }
  async subscribe(topic: string, qos = 1): Promise<number[]> {
    this.send({ op: 'subscribe', topic, qos });
    const { mid } = await this.next('sent');
    return (await this.next('suback', (e) => e.mid === mid)).codes as number[];
  }
  kill(): Promise<NodeJS.Signals | number | null> {
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}

describe('Home Assistant: paho-mqtt 1.6.1 over MQTT 5 against edgegate', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  const NOW = Math.floor(Date.now() / 1000) + 3600;
  const time = new FakeTimeSource(NOW * 1000);
  const now = (): number => Math.floor(time.systemNow() / 1000);
  const token = (sub: string, acl: Record<string, string[]>, exp = now() + 3600): Promise<string> => hsToken(SECRET, { sub, exp, acl });
  const HA_ACL = { all: ['homeassistant/#', 'edgegate/#'] };
  /** mosquitto_sub over MQTT 5: `count` messages of `topic` printed with `format`, or exit after 5 s. */
  const mosquittoSubV5 = (password: string, topic: string, format: string, count: number) =>
    run(
      'mosquitto_sub',
      ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(d.port), '-u', 'u', '-P', password, '-t', topic, '-F', format, '-C', String(count), '-W', '5'],
      10_000,
    );
  const running: Paho[] = [];
  const paho = (cfg: Record<string, unknown>): Paho => {
    const p = new Paho({ port: d.port, username: 'homeassistant', ...cfg });
    running.push(p);
    return p;
  };

  before(async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import paho.mqtt.client'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.warn(`    skipped: ${PYTHON} cannot import paho.mqtt.client (apt-get install python3-paho-mqtt): ${probe.error?.message ?? probe.stderr.trim()}`);
      this.skip();
    }
    d = await startDaemon({ auth: { jwt: { secret: SECRET }, rateLimit: { maxFailures: 0 } } }, { timeSource: time });
  });
  after(async () => {
    await Promise.all(running.map((p) => p.kill()));
    await d?.stop();
  });

  describe('the integration: birth, discovery, state, will', () => {
    let ha: Paho;
    const CONFIGS = {
      'homeassistant/sensor/edgegate_node1/temperature/config': {
        name: 'Temperature',
        state_topic: 'edgegate/node1/temperature/state',
        unit_of_measurement: '°C',
        device_class: 'temperature',
        unique_id: 'node1_t',
        device: { identifiers: ['edgegate_node1'], name: 'Node 1' },
      },
      'homeassistant/sensor/edgegate_node1/humidity/config': {
        name: 'Humidity',
        state_topic: 'edgegate/node1/humidity/state',
        unit_of_measurement: '%',
        device_class: 'humidity',
        unique_id: 'node1_h',
        device: { identifiers: ['edgegate_node1'], name: 'Node 1' },
      },
    };
    const RETAINED = new Map<string, string>([
      ['homeassistant/status', 'online'],
      ...Object.entries(CONFIGS).map(([t, c]) => [t, JSON.stringify(c)] as [string, string]),
    ]);

    it(
      'connects with protocol 5 and clean start (CONNACK 0x00 with what the ' + 'gateway enforces), publishes birth and discovery retained, subscribes',
      async () => {
        ha = paho({
          clientId: 'home-assistant-1',
          password: await token('homeassistant', HA_ACL),
          will: { topic: 'homeassistant/status', payload: 'offline', qos: 1, retain: true },
        });
        const connack = await ha.next('connack');
        assert.equal(connack.rc, 0);
        assert.equal(connack.sessionPresent, false);
        // MQTT 5.0 section 3.2.2.3, as paho decoded them: the broker.* limits the gateway enforces.
        const b = d.config.broker;
        assert.deepEqual(connack.props, {
          ReceiveMaximum: b.maxInflightInbound,
          TopicAliasMaximum: b.topicAliasMaximum,
          MaximumPacketSize: maximumPacketSize(b.maxPacketBytes),
          RetainAvailable: 1,
          WildcardSubscriptionAvailable: 1,
          SubscriptionIdentifierAvailable: 1,
          SharedSubscriptionAvailable: 0,
        });
        assert.deepEqual(await ha.subscribe('homeassistant/status'), [1]);
        assert.deepEqual(await ha.subscribe('edgegate/node1/+/state'), [1]);
        await ha.publish('homeassistant/status', 'online', 1, true);
        await ha.next('message', (e) => e.topic === 'homeassistant/status' && e.payload === 'online'); // its own birth, live
        for (const [topic, config] of Object.entries(CONFIGS)) await ha.publish(topic, JSON.stringify(config), 1, true);
      },
    );

    it('a client connecting later sees the retained discovery configs and birth: mqtt.js v5 and mosquitto_sub -V mqttv5', async () => {
      const later = await connect5Ok(d.port, { username: 'u', password: await token('dashboard', { sub: ['homeassistant/#'] }), clientId: 'dashboard' });
      const got = collector(later);
      assert.deepEqual(await subscribe(later, 'homeassistant/#', 1), [1]);
      await got.waitFor(RETAINED.size);
      assert.deepEqual(new Map(got.messages.map((m) => [m.topic, m.payload])), RETAINED);
      assert.ok(
        got.messages.every((m) => m.retain),
        'all with the retain flag (MQTT 5.0 section 3.3.1.3)',
      );
      later.end(true);

      const sub = await mosquittoSubV5(await token('cli', { sub: ['homeassistant/#'] }), 'homeassistant/#', '%r\t%t\t%p', RETAINED.size);
      assert.equal(sub.code, 0, sub.stderr);
      const lines = sub.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t'));
      assert.deepEqual(new Map(lines.map(([retain, t, p]) => (assert.equal(retain, '1'), [t!, p!]))), RETAINED);
    });

    it("a device's state reaches Home Assistant, with its MQTT 5 properties", async () => {
      const device = await connect5Ok(d.port, { username: 'u', password: await token('node1', { pub: ['edgegate/node1/#'] }), clientId: 'node1' });
      const properties = { contentType: 'text/plain', userProperties: { unit: '°C' }, messageExpiryInterval: 300 };
      assert.equal((await publish5(device, 'edgegate/node1/temperature/state', '21.5', { qos: 1, properties })).reasonCode, 0);
      const m = await ha.next('message', (e) => e.topic === 'edgegate/node1/temperature/state');
      assert.equal(m.payload, '21.5');
      assert.equal(m.qos, 1);
      assert.equal(m.props.ContentType, 'text/plain');
      assert.deepEqual(m.props.UserProperty, [['unit', '°C']]);
      assert.ok(m.props.MessageExpiryInterval <= 300 && m.props.MessageExpiryInterval >= 298);
      device.end(true);
    });

    it('SIGKILL (no DISCONNECT): the will "offline" reaches a watcher and replaces the retained birth', async () => {
      const watcher = await connect5Ok(d.port, { username: 'u', password: await token('watcher', { sub: ['homeassistant/#'] }), clientId: 'watcher' });
      const seen = collector(watcher);
      await subscribe(watcher, 'homeassistant/status', 1);
      await seen.waitFor(1); // the retained birth
      assert.deepEqual(seen.messages[0], { topic: 'homeassistant/status', payload: 'online', retain: true });
      assert.equal(await ha.kill(), 'SIGKILL');
      await seen.waitFor(2);
      assert.equal(seen.messages[1]!.payload, 'offline');
      watcher.end(true);
      const after = await mosquittoSubV5(await token('cli2', { sub: ['homeassistant/#'] }), 'homeassistant/status', '%r %p', 1);
      assert.equal(after.stdout.trim(), '1 offline', after.stderr);
    });
  });

  it('enhanced authentication: Authentication Method JWT and the token as Authentication Data, no password; a bad token gets 0x86', async () => {
    const ok = paho({ clientId: 'ha-enhanced', connectProperties: { AuthenticationMethod: 'JWT', AuthenticationData: await token('homeassistant', HA_ACL) } });
    const connack = await ok.next('connack');
    assert.equal(connack.rc, 0);
    assert.equal(connack.props.AuthenticationMethod, 'JWT', 'the CONNACK echoes the method');
    assert.deepEqual(await ok.subscribe('homeassistant/#'), [1]);
    ok.send({ op: 'exit' });
    assert.equal(await ok.exited, 0);
    const bad = paho({
      clientId: 'ha-enhanced-bad',
      connectProperties: { AuthenticationMethod: 'JWT', AuthenticationData: await hsToken('not-the-secret-0123456789', { sub: 'x' }) },
    });
    assert.equal((await bad.next('connack')).rc, 0x86);
  });

  it(
    'renews its token by reconnecting with clean_start=False and a Session Expiry Interval: ' +
      'session present, subscription and queued QoS 1 message kept, the old exp no longer applies',
    async () => {
      const first = await token('homeassistant', HA_ACL, now() + 60);
      const ha = paho({ clientId: 'ha-renewing', password: first, cleanStart: false, connectProperties: { SessionExpiryInterval: 3600 } });
      assert.equal((await ha.next('connack')).rc, 0);
      assert.deepEqual(await ha.subscribe('edgegate/+/renew'), [1]);
      // A client that does not renew, to show the deadline the renewed one escapes (DISCONNECT 0xA0).
      const stale = paho({ clientId: 'ha-stale', password: first });
      assert.equal((await stale.next('connack')).rc, 0);

      // The snippet of docs/mqtt5.md: username_pw_set(new token), reconnect(). Here after a
      // clean DISCONNECT, so that a message published meanwhile must wait in the session.
      ha.send({ op: 'disconnect' });
      await ha.next('disconnect');
      const device = await connect5Ok(d.port, { username: 'u', password: await token('node2', { pub: ['edgegate/#'] }), clientId: 'node2' });
      await publish5(device, 'edgegate/node2/renew', 'while away', { qos: 1 });
      ha.send({ op: 'renew', password: await token('homeassistant', HA_ACL, now() + 7200) });
      const back = await ha.next('connack');
      assert.equal(back.rc, 0);
      assert.equal(back.sessionPresent, true, 'MQTT 5.0 section 3.2.2.1.1: the session was resumed');
      assert.equal((await ha.next('message', (e) => e.topic === 'edgegate/node2/renew')).payload, 'while away');

      time.advance(200_000); // past the first exp + 30 s tolerance
      // The stale client is closed with DISCONNECT 0xA0 (Maximum connect time). paho 1.6.1 reads a
      // DISCONNECT's reason code only when its remaining length is > 2 (client.py _handle_disconnect):
      // the gateway's Reason String (the refusal reason) makes it so, and paho reports 0xA0.
      assert.equal((await stale.next('disconnect')).rc, 0xa0);
      assert.ok(d.logs.some((l) => l.msg === 'disconnecting client' && l.clientId === 'ha-stale' && l.reason === 'JWT_EXPIRED'));
      await publish5(device, 'edgegate/node2/renew', 'still here', { qos: 1 });
      assert.equal((await ha.next('message', (e) => e.payload === 'still here')).topic, 'edgegate/node2/renew');
      assert.ok(!ha.events.some((e) => e.ev === 'disconnect' && e.rc !== 0), 'the renewed connection was never closed by the gateway');
      device.end(true);
    },
  );

  // A device may PUBLISH a property twice (a Protocol Error, MQTT 5.0 section 3.3.2.3.9 for
  // Content Type). paho 1.6.1 raises MQTTException("Property '<class 'property'>' must not
  // exist more than once") out of loop() (properties.py line 435) on such a message, which
  // stops Home Assistant's MQTT client; aedes used to acknowledge and forward it as is. The
  // packet guard now refuses it before the parser (src/broker/mqtt5Rules.ts): DISCONNECT
  // 0x82 to the device, and nothing reaches paho. The PUBLISH:
  // 32 1e 00 10 "edgegate/node1/x" 00 01 08 03 00 01 61 03 00 01 62 78.
  it('a device publishing a property twice cannot stop paho: refused with DISCONNECT 0x82, never delivered', async () => {
    const ha = paho({ clientId: 'ha-dup', password: await token('homeassistant', HA_ACL) });
    assert.deepEqual(await ha.subscribe('edgegate/#'), [1]);
    const raw = await RawV5.open(d.port);
    raw.send(connectPacket5('dup-device', { username: 'u', password: Buffer.from(await token('node1', { pub: ['edgegate/#'] })) }));
    await raw.next('connack');
    const dup = publishV5('edgegate/node1/x', 'x', { qos: 1, id: 1, properties: props(prop.str(P.contentType, 'a'), prop.str(P.contentType, 'b')) });
    assert.equal(dup.toString('hex'), '321e0010' + Buffer.from('edgegate/node1/x').toString('hex') + '0001080300016103000162' + '78');
    raw.sendBytes(dup);
    assert.equal((await raw.next('disconnect')).reasonCode, 0x82, 'DISCONNECT 0x82 Protocol Error');
    await raw.whenClosed();
    assert.ok(!raw.packets.some((p) => p.cmd === 'puback'), 'no PUBACK');
    const device = await connect5Ok(d.port, { username: 'u', password: await token('node1', { pub: ['edgegate/#'] }), clientId: 'after-dup' });
    await publish5(device, 'edgegate/node1/x', 'after', { qos: 1 });
    await ha.next('message', (e) => e.payload === 'after');
    assert.ok(!ha.events.some((e) => e.ev === 'message' && e.payload === 'x'), 'the duplicated publish never reached paho');
    assert.ok(!ha.events.some((e) => e.ev === 'disconnect'), 'paho kept its connection');
    assert.equal(ha.stderr, '');
    device.end(true);
  });
});

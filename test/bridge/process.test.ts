// The real daemon as a child process (`node --import tsx src/cli/main.ts run`):
// a backlog survives SIGKILL and SIGTERM and is delivered after the restart.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { tempDir } from '../helpers/daemon.js';
import { freePort, Mosquitto, waitForPort } from '../helpers/mosquitto.js';
import { connectOk, end, publish, subscribe } from '../helpers/mqtt.js';
import { waitUntil } from '../helpers/wait.js';
import { cloudSubscriber, distinct, rule, SECRET, sensor } from './support.js';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

interface Child {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: string | null }>;
  output(): string;
}

async function runDaemon(dataDir: string, port: number, cloudPort: number): Promise<Child> {
  const config = {
    dataDir,
    log: { level: 'info' },
    listeners: { tcp: { enabled: true, host: '127.0.0.1', port }, tls: { enabled: false } },
    http: { enabled: false },
    auth: { jwt: { secret: SECRET } },
    bridge: {
      enabled: true,
      url: `mqtt://127.0.0.1:${cloudPort}`,
      clientId: 'gw-proc',
      reconnect: { minSec: 0.05, maxSec: 0.3 },
      topics: [rule('data/#', 'out', 1, '', 'up/')],
    },
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), 'run'], {
    cwd: REPO,
    env: { ...process.env, NODE_CONFIG: JSON.stringify(config), NODE_CONFIG_DIR: join(dataDir, 'no-config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-32_768)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-32_768)));
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  await Promise.race([waitForPort(port, 20_000), exited.then(() => Promise.reject(new Error(`daemon exited at start:\n${out}`)))]);
  return { child, exited, output: () => out };
}

describe('bridge backlog across daemon restarts (child process)', function () {
  this.timeout(60_000);
  let cloud: Mosquitto;
  let dataDir: string;

  beforeEach(async () => {
    cloud = await Mosquitto.start({ persistence: true });
    dataDir = tempDir('edgegate-bridge-proc-');
  });
  afterEach(async () => {
    await cloud.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGKILL → the cloud publishes the retained last will offline; a restart publishes online again', async () => {
    const watch = await connectOk(cloud.port, { clientId: 'will-watch' });
    const states: string[] = [];
    watch.on('message', (topic, payload) => topic === 'up/edgegate/gw-proc/state' && states.push(payload.toString()));
    await subscribe(watch, 'up/edgegate/gw-proc/state', 1);
    const port = await freePort();
    let daemon = await runDaemon(dataDir, port, cloud.port);
    try {
      await waitUntil(() => states.at(-1) === 'online', { timeoutMs: 10_000, what: 'online' });
      daemon.child.kill('SIGKILL');
      await daemon.exited;
      await waitUntil(() => states.at(-1) === 'offline', { timeoutMs: 10_000, what: 'last will offline' });
      daemon = await runDaemon(dataDir, port, cloud.port);
      await waitUntil(() => states.at(-1) === 'online', { timeoutMs: 10_000, what: 'online again' });
    } finally {
      await end(watch);
      daemon.child.kill('SIGKILL');
      await daemon.exited;
    }
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${signal} while holding a backlog → everything PUBACKed is delivered after restart, in order`, async () => {
      // The cloud subscriber's session is kept by the cloud while it is down.
      const sub = await cloudSubscriber(cloud, 'up/data/#', `cloud-sub-${signal}`);
      await cloud.stop();
      const port = await freePort();
      let daemon = await runDaemon(dataDir, port, cloud.port);
      let s: MqttClient | undefined;
      const acked: string[] = [];
      try {
        s = await sensor(port);
        // Pipelined QoS 1 publishes; one that resolved got its PUBACK, so its row was committed.
        const pending: Array<Promise<void>> = [];
        for (let i = 0; i < 400; i++) {
          const payload = `k-${i}`;
          pending.push(
            publish(s, 'data/x', payload, { qos: 1 }).then(
              () => void acked.push(payload),
              () => undefined,
            ),
          );
          if (pending.length >= 50) await Promise.all(pending.splice(0));
        }
        // Stop it with the last window still in flight.
        for (let i = 400; i < 450; i++) {
          const payload = `k-${i}`;
          void publish(s, 'data/x', payload, { qos: 1 }).then(
            () => void acked.push(payload),
            () => undefined,
          );
        }
        await new Promise((r) => setImmediate(r));
        daemon.child.kill(signal);
        const exit = await daemon.exited;
        if (signal === 'SIGTERM') assert.equal(exit.code, 0, daemon.output());
        s.end(true);
        assert.ok(acked.length >= 400, `acked ${acked.length}`);
        daemon = await runDaemon(dataDir, port, cloud.port);
        await cloud.restart();
        await waitUntil(() => distinct(sub.inbox.messages).length >= acked.length, {
          timeoutMs: 20_000,
          what: `delivery of ${acked.length} (have ${distinct(sub.inbox.messages).length})`,
        });
        const got = distinct(sub.inbox.messages).map((m) => m.payload);
        const ackedSet = new Set(acked);
        assert.deepEqual(
          got.filter((p) => ackedSet.has(p)),
          acked.slice().sort((a, b) => Number(a.slice(2)) - Number(b.slice(2))),
          'every acked message, in order',
        );
        const numbers = got.map((p) => Number(p.slice(2)));
        assert.deepEqual(
          numbers,
          numbers.slice().sort((a, b) => a - b),
          'order kept',
        );
      } finally {
        await end(s, sub.client);
        daemon.child.kill('SIGKILL');
        await daemon.exited;
      }
    });
  }
});

// Assertions shared by the broker suites: a token is accepted / refused through
// a real mqtt.js connection, and the refusal is logged with its reason code, the
// client id and the address, never with the token.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { TestDaemon } from '../../helpers/daemon.js';
import { connect, end } from '../../helpers/mqtt.js';
import { waitUntil } from '../../helpers/wait.js';

export function uniqueId(prefix = 'c'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Connects with the token as the password; asserts CONNACK 0 and closes. */
export async function expectAccepted(d: TestDaemon, token: string, opts: IClientOptions = {}): Promise<void> {
  const out = await connect(d.port, { username: 'sensor', password: token, clientId: uniqueId('ok'), ...opts });
  assert.equal(out.returnCode, 0, `expected CONNACK 0, got ${out.returnCode}; last log: ${JSON.stringify(d.logs.at(-1))}`);
  await end(out.client);
}

/** Connects and keeps the accepted client open. */
export async function acceptedClient(d: TestDaemon, token: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const out = await connect(d.port, { username: 'sensor', password: token, clientId: uniqueId('ok'), ...opts });
  assert.equal(out.returnCode, 0, `expected CONNACK 0, got ${out.returnCode}; last log: ${JSON.stringify(d.logs.at(-1))}`);
  return out.client!;
}

/** Asserts CONNACK 4 and a log line with the reason code, client id and address (and no token). */
export async function expectRefused(d: TestDaemon, token: string | undefined, reason: string, opts: IClientOptions = {}): Promise<void> {
  const clientId = opts.clientId ?? uniqueId('refused');
  const out = await connect(d.port, { username: 'sensor', ...(token !== undefined ? { password: token } : {}), ...opts, clientId });
  assert.equal(out.returnCode, 4, `expected CONNACK 4 (${reason}), got ${out.returnCode}`);
  await waitForLog(d, (l) => l.clientId === clientId && l.msg === 'authentication refused');
  const line = d.logs.find((l) => l.clientId === clientId && l.msg === 'authentication refused')!;
  assert.equal(line.reason, reason, `reason in ${JSON.stringify(line)}`);
  assert.equal(line.address, '127.0.0.1');
  for (const secret of [token, opts.username]) {
    if (secret && secret.length > 20)
      assert.ok(
        !d.logText().includes(secret),
        `the token must never be logged: ${d
          .logText()
          .split('\n')
          .find((l) => l.includes(secret))}`,
      );
  }
}

export async function waitForLog(d: TestDaemon, pred: (l: Record<string, unknown>) => boolean, ms = 2000): Promise<Record<string, unknown>> {
  await waitUntil(() => d.logs.some(pred), { timeoutMs: ms, what: 'the expected log line' });
  return d.logs.find(pred)!;
}

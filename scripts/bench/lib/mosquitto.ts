// A plain Mosquitto for benchmarks: its own temp config directory, 127.0.0.1 on
// a free (or given) port, anonymous. The "cloud" flavour queues without bound so
// a slow subscriber loses nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.js';
import { type ServerProcess, spawnServer } from './spawnServer.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** The cloud's mosquitto.conf lines beyond the listener. */
export const CLOUD_LINES = ['persistence false', 'max_queued_messages 10000000', 'max_inflight_messages 1000'];

export interface MosquittoProcess extends ServerProcess {
  /** Holds m.conf; removed by cleanup(). */
  dir: string;
  cleanup(): void;
}

export async function startMosquitto(name: string, lines: string[], port?: number): Promise<MosquittoProcess> {
  const listenPort = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const conf = join(dir, 'm.conf');
  writeFileSync(conf, ['user root', 'log_dest none', `listener ${listenPort} 127.0.0.1`, 'allow_anonymous true', ...lines].join('\n') + '\n');
  const server = await spawnServer({ name, command: MOSQUITTO, args: ['-c', conf], port: listenPort });
  return Object.assign(server, { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) });
}

export function startCloudMosquitto(port?: number): Promise<MosquittoProcess> {
  return startMosquitto('cloud', CLOUD_LINES, port);
}

// A plain Mosquitto as the benchmarks' cloud broker: its own config in `dir`, a
// free 127.0.0.1 port, anonymous, unbounded queues (a slow subscriber loses nothing).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './freePort.js';
import { spawnServer, type ServerProcess } from './spawnServer.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export async function startCloudMosquitto(dir: string, extra: string[] = []): Promise<ServerProcess> {
  const port = await freePort();
  const conf = join(dir, `cloud-${port}.conf`);
  const lines = ['user root', 'log_dest none', `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 10000000', 'max_inflight_messages 1000', ...extra];
  writeFileSync(conf, lines.join('\n') + '\n');
  return spawnServer({ name: 'cloud', command: MOSQUITTO, args: ['-c', conf], port });
}

// The Mosquitto command-line clients as independent MQTT implementations.
// MQTT 3.1.1 forbids a password without a username (3.1.2.9), so -P always goes with -u.
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], timeoutMs = 10_000, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

export function mosquittoPub(
  port: number,
  opts: { username?: string; password?: string; clientId?: string; topic: string; message: string; qos?: 0 | 1; extra?: string[] },
): Promise<RunResult> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', opts.topic, '-m', opts.message, '-q', String(opts.qos ?? 0), '-V', 'mqttv311'];
  if (opts.clientId) args.push('-i', opts.clientId);
  if (opts.username !== undefined) args.push('-u', opts.username);
  if (opts.password !== undefined) args.push('-P', opts.password);
  return run('mosquitto_pub', [...args, ...(opts.extra ?? [])]);
}

/** mosquitto_sub waiting for `count` messages (-C) or `waitSec` (-W); -v prints "topic payload". */
export function mosquittoSub(
  port: number,
  opts: { username?: string; password?: string; clientId?: string; topic: string; count?: number; waitSec?: number; extra?: string[] },
): Promise<RunResult> {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    opts.topic,
    '-v',
    '-V',
    'mqttv311',
    '-C',
    String(opts.count ?? 1),
    '-W',
    String(opts.waitSec ?? 5),
  ];
  if (opts.clientId) args.push('-i', opts.clientId);
  if (opts.username !== undefined) args.push('-u', opts.username);
  if (opts.password !== undefined) args.push('-P', opts.password);
  return run('mosquitto_sub', [...args, ...(opts.extra ?? [])], ((opts.waitSec ?? 5) + 5) * 1000);
}

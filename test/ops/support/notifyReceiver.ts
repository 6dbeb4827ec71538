// A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET.
// Node.js cannot bind one, so a tiny Perl program does (perl-base is Essential
// on Debian, always installed): it prints each datagram on one line with
// newlines escaped. It reads without an ancillary buffer, so file descriptors
// passed along (systemd-notify's BARRIER=1 pipe) are closed at once, just as
// systemd closes them once the message is processed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const RECEIVER = String.raw`
use strict; use warnings; use Socket;
my $path = shift;
my $addr = $path =~ /^@/ ? "\0" . substr($path, 1) : $path;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($addr)) or die "bind: $!";
$| = 1; print "BOUND\n";
while (1) {
  my $buf = '';
  defined(recv($s, $buf, 65536, 0)) or die "recv: $!";
  $buf =~ s/\\/\\\\/g; $buf =~ s/\n/\\n/g;
  print "$buf\n";
}
`;

export interface NotifyReceiver {
  /** NOTIFY_SOCKET value: a path, or '@name' for an abstract socket. */
  readonly address: string;
  /** Every datagram received, in order (BARRIER=1 round trips included). */
  readonly messages: string[];
  /** Datagrams as assignment lists, without the BARRIER=1 round trips. */
  notifications(): string[][];
  /** Resolves once `ready(notifications)` holds. */
  waitFor(ready: (notifications: string[][]) => boolean, what: string, ms?: number): Promise<void>;
  close(): void;
}

export function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const child: ChildProcess = spawn('perl', ['-e', RECEIVER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: string[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`notify receiver did not bind ${address}: ${stderr}`)), 5000);
    child.once('exit', (code) => reject(new Error(`notify receiver exited ${code}: ${stderr}`)));
    lines.once('line', (line) => {
      clearTimeout(t);
      if (line === 'BOUND') resolve();
      else reject(new Error(`unexpected receiver output: ${line}`));
    });
  });
  lines.on('line', (line) => {
    messages.push(line.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\')));
    for (const l of [...listeners]) l();
  });
  const notifications = (): string[][] => messages.filter((m) => m !== 'BARRIER=1').map((m) => m.split('\n').filter(Boolean));
  return {
    address,
    messages,
    notifications,
    waitFor(ready, what, ms = 15_000) {
      if (ready(notifications())) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!ready(notifications())) return;
          clearTimeout(t);
          listeners.delete(check);
          resolve();
        };
        const t = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${what}: not received within ${ms} ms; got ${JSON.stringify(messages)}`));
        }, ms);
        listeners.add(check);
      });
    },
    close() {
      child.kill('SIGTERM');
    },
  };
}

/** How many notifications carry `assignment` (e.g. "WATCHDOG=1"). */
export function count(notifications: string[][], assignment: string): number {
  return notifications.filter((n) => n.includes(assignment)).length;
}

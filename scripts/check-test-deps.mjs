// Runs before `npm test`: the tests start real Mosquitto brokers and socat
// pseudo-terminals, so say exactly what to install instead of failing obscurely.
import { execFileSync } from 'node:child_process';

const needed = [
  { cmd: 'mosquitto', pkg: 'mosquitto' },
  { cmd: 'mosquitto_pub', pkg: 'mosquitto-clients' },
  { cmd: 'mosquitto_sub', pkg: 'mosquitto-clients' },
  { cmd: 'socat', pkg: 'socat' },
  { cmd: 'openssl', pkg: 'openssl' },
];

const missing = needed.filter(({ cmd }) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});

if (missing.length > 0) {
  const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
  process.stderr.write(
    `The tests need ${missing.map((m) => m.cmd).join(', ')} (not found on PATH).\n` +
      `Install them with:\n\n  sudo apt-get update && sudo apt-get install -y ${pkgs}\n\n`,
  );
  process.exit(1);
}

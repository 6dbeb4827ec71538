// Runs before `npm test`: the tests start real Mosquitto brokers, socat
// pseudo-terminals and (for the status page) Chromium, so say exactly what to
// install instead of failing obscurely.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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

// Optional: without Chromium the status page's browser tests (test/browser/) are
// skipped, each run saying so; .ci/run installs it, so CI always runs them.
const chromium = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
if (!chromium) {
  process.stderr.write(
    'Chromium not found: the browser tests of the status page will be SKIPPED.\n' +
      'Install it with:  sudo apt-get install -y --no-install-recommends chromium  (or set CHROMIUM_BIN)\n\n',
  );
}

if (missing.length > 0) {
  const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
  process.stderr.write(
    `The tests need ${missing.map((m) => m.cmd).join(', ')} (not found on PATH).\n` +
      `Install them with:\n\n  sudo apt-get update && sudo apt-get install -y ${pkgs}\n\n`,
  );
  process.exit(1);
}

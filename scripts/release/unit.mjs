// The .deb's systemd unit, made from systemd/edgegate.service (the one scripts/install.sh
// installs): the application lives in /usr/lib/edgegate instead of /opt/edgegate, the
// documentation in /usr/share/doc/edgegate. Every other directive, the hardening included, is
// kept as it is; this script fails if anything else would change.
//   node scripts/release/unit.mjs systemd/edgegate.service > edgegate.service
import { readFileSync } from 'node:fs';

const APP_FROM = '/opt/edgegate/';
const APP_TO = '/usr/lib/edgegate/';

export function debUnit(source) {
  const lines = source.split('\n');
  const first = lines.findIndex((l) => /^\[Unit\]/.test(l));
  if (first < 0) throw new Error('no [Unit] section');
  const header = [
    '# edgegate: MQTT edge gateway. Installed by the edgegate package as',
    '# /lib/systemd/system/edgegate.service (made from systemd/edgegate.service by',
    '# scripts/release/unit.mjs); an upgrade replaces it. Local changes belong in a',
    '# drop-in (`sudo systemctl edit edgegate`), which an upgrade never overwrites.',
  ];
  const body = lines.slice(first).map((line) => {
    if (line.startsWith('Documentation=')) return line.replace('file:/opt/edgegate/docs/', 'file:/usr/share/doc/edgegate/');
    if (line.startsWith('ExecStart=')) return line.split(APP_FROM).join(APP_TO);
    return line;
  });
  const out = [...header, ...body].join('\n');
  check(source, out);
  return out;
}

/** Directive lines (no comments, no blank lines): every one kept but ExecStart= and Documentation=. */
function directives(text) {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';'));
}

function check(source, out) {
  const a = directives(source);
  const b = directives(out);
  if (a.length !== b.length) throw new Error(`directive count changed: ${a.length} -> ${b.length}`);
  a.forEach((line, i) => {
    const changeable = /^(ExecStart|Documentation)=/.test(line);
    if (!changeable && line !== b[i]) throw new Error(`directive changed: ${line} -> ${b[i]}`);
    if (changeable && b[i].includes('/opt/edgegate')) throw new Error(`still points at /opt/edgegate: ${b[i]}`);
  });
  if (!b.some((l) => l.startsWith(`ExecStart=/usr/bin/node `) && l.includes(`${APP_TO}dist/cli/main.js run`))) {
    throw new Error('ExecStart= does not run /usr/lib/edgegate/dist/cli/main.js with /usr/bin/node');
  }
}

if (process.argv[2]) process.stdout.write(debUnit(readFileSync(process.argv[2], 'utf8')));

// THIRD_PARTY_NOTICES.md for the release artifacts: the bundle (dist/cli/main.js) and the
// shipped native addons contain code of the production dependencies, whose licenses ask for
// their notices to travel with it. Lists every non-dev package of package-lock.json (a superset
// of what the bundle holds) with its license text as installed in node_modules; identical texts
// are printed once.
//   node scripts/release/notices.mjs [repo] > THIRD_PARTY_NOTICES.md
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const LICENSE_FILE = /^(licen[cs]e|copying|notice)(\.|-|$)/i;

const packages = [];
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  if (path === '' || entry.dev || entry.devOptional || entry.link) continue;
  const dir = join(root, path);
  if (!existsSync(join(dir, 'package.json'))) continue; // an optional dependency for another platform
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const files = readdirSync(dir)
    .filter((f) => LICENSE_FILE.test(f))
    .sort();
  const texts = files.map((f) => readFileSync(join(dir, f), 'utf8').trim());
  const license = typeof pkg.license === 'string' ? pkg.license : (pkg.license?.type ?? entry.license ?? 'UNKNOWN');
  packages.push({ name: pkg.name ?? path.replace(/^.*node_modules\//, ''), version: pkg.version, license, texts });
}
packages.sort((a, b) => a.name.localeCompare(b.name) || String(a.version).localeCompare(String(b.version)));

const byText = new Map();
for (const p of packages) {
  const key = p.texts.length ? p.texts.join('\n\n') : `(no license file in the package; package.json says: ${p.license})`;
  if (!byText.has(key)) byText.set(key, []);
  byText.get(key).push(p);
}

const out = [
  '# Third-party notices',
  '',
  'edgegate is licensed under the Apache License 2.0 (LICENSE). Its release artifacts also',
  'contain the following production dependencies, bundled into dist/cli/main.js or shipped in',
  'node_modules/ (native addons: better-sqlite3, which embeds SQLite (public domain), and',
  '@serialport/bindings-cpp). Each is listed with its license as published in its package.',
  '',
  '## Packages',
  '',
  ...packages.map((p) => `- ${p.name} ${p.version} (${p.license})`),
  '',
  '## License texts',
];
for (const [text, list] of byText) {
  out.push('', `### ${list.map((p) => `${p.name} ${p.version}`).join(', ')}`, '', '```', text, '```');
}
process.stdout.write(out.join('\n') + '\n');

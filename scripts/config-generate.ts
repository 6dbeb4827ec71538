// Writes what is generated from the configuration schema (src/config/schema.ts):
// config/default.json and the key table of docs/configuration.md. Run it after
// changing the schema (`npm run config:generate`) and commit the result;
// test/docs/configurationTable.test.ts and test/config/defaultJson.test.ts fail
// while either is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultJsonText } from '../src/config/defaults.js';
import { withKeyTable } from '../src/config/docTable.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const write = (file: string, text: string): void => {
  const path = join(root, file);
  const changed = readFileSync(path, 'utf8') !== text;
  if (changed) writeFileSync(path, text);
  process.stdout.write(`${file}: ${changed ? 'updated' : 'up to date'}\n`);
};

write('config/default.json', defaultJsonText());
write('docs/configuration.md', withKeyTable(readFileSync(join(root, 'docs/configuration.md'), 'utf8')));

// Checks that node-config itself does not make: an environment variable mapped
// with `__format: number|boolean` whose text is not a number/boolean (node-config
// would turn it into NaN and the key would look missing), and a NODE_CONFIG that
// is not JSON (node-config only warns and ignores it). Both must fail start-up
// with exit code 2 and the key path, like any other configuration error.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { jsonObject } from '../json.js';

type Mapping = string | { __name?: string; __format?: string } | { [key: string]: Mapping };

function walk(mapping: Mapping, path: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): void {
  if (typeof mapping === 'string' || mapping === null || typeof mapping !== 'object') return;
  if (typeof mapping.__name === 'string') {
    const raw = env[mapping.__name];
    if (raw === undefined || raw === '') return;
    const format = mapping.__format;
    if (format === 'number' && (raw.trim() === '' || !Number.isFinite(Number(raw)))) {
      problems.push({ path, message: `must be a number, got ${JSON.stringify(raw)} from ${mapping.__name}` });
    } else if (format === 'boolean' && !/^(true|false)$/i.test(raw.trim())) {
      problems.push({ path, message: `must be true or false, got ${JSON.stringify(raw)} from ${mapping.__name}` });
    } else if (format === 'json') {
      try {
        JSON.parse(raw);
      } catch {
        problems.push({ path, message: `${mapping.__name} is not valid JSON` });
      }
    }
    return;
  }
  for (const [key, child] of Object.entries(mapping as Record<string, Mapping>)) {
    walk(child, path ? `${path}.${key}` : key, env, problems);
  }
}

/** Problems with the environment's contribution to the configuration, before node-config reads it. */
export function environmentProblems(configDirs: string[], env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (env.NODE_CONFIG !== undefined && env.NODE_CONFIG.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(env.NODE_CONFIG);
      if (!jsonObject(parsed)) problems.push({ path: 'NODE_CONFIG', message: 'must be a JSON object' });
    } catch (err) {
      problems.push({ path: 'NODE_CONFIG', message: `is not valid JSON (${(err as Error).message})` });
    }
  }
  for (const dir of configDirs) {
    const file = join(dir, 'custom-environment-variables.json');
    if (!existsSync(file)) continue;
    try {
      walk(JSON.parse(readFileSync(file, 'utf8')) as Mapping, '', env, problems);
    } catch (err) {
      problems.push({ path: file, message: `cannot be read: ${(err as Error).message}` });
    }
  }
  return problems;
}

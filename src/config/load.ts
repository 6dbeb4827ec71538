// Loading: node-config documents (embedded defaults first, then NODE_CONFIG_DIR,
// NODE_ENV, local.json, environment variables, NODE_CONFIG), then validation.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, errorMessage } from '../errors.js';
import { jsonObject } from '../json.js';
import { environmentProblems } from './envCheck.js';
import type { ConfigOverrides, GatewayConfig } from './types.js';
import { validateConfig } from './validate.js';

/** The package's own config directory (the embedded defaults). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EMBEDDED_CONFIG_DIR = join(PACKAGE_ROOT, 'config');

/**
 * The directories node-config reads, in order. The embedded defaults always come
 * first so that a NODE_CONFIG_DIR holding only local.json still yields a full config.
 */
export function configDirs(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const user = env.NODE_CONFIG_DIR
    ? env.NODE_CONFIG_DIR.split(delimiter)
        .filter(Boolean)
        .map((d) => resolve(cwd, d))
    : [join(cwd, 'config')].filter((d) => existsSync(d));
  const seen = new Set<string>();
  const dirs: string[] = [];
  for (const dir of [EMBEDDED_CONFIG_DIR, ...user]) {
    const key = existsSync(dir) ? realpathSync(dir) : dir;
    if (!seen.has(key)) {
      seen.add(key);
      dirs.push(dir);
    }
  }
  return dirs;
}

/** Reads the configuration through node-config and validates it (throws ConfigError). */
export async function loadConfig(): Promise<GatewayConfig> {
  const dirs = configDirs();
  const envProblems = environmentProblems(dirs);
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  process.env.NODE_CONFIG_DIR = dirs.join(delimiter);
  process.env.SUPPRESS_NO_CONFIG_WARNING = 'y';
  let raw: unknown;
  let sources: ConfigSource[] = [];
  try {
    await preferPlainJson();
    const { default: config } = await import('config');
    raw = config.util.toObject();
    sources = config.util.getConfigSources() as ConfigSource[];
  } catch (err) {
    // A config file node-config cannot parse is a configuration error too (exit 2).
    throw ConfigError.at('NODE_CONFIG_DIR', `a configuration file cannot be read: ${errorMessage(err)}`);
  }
  const config = validateConfig(raw);
  config.dataDir = resolveDataDir(config.dataDir, sources);
  return config;
}

interface ConfigSource {
  name: string;
  parsed?: Record<string, unknown>;
}

/**
 * A relative dataDir is relative to the configuration file that set it (the
 * embedded default "./data" is the package's own data/), never to the directory
 * the command was started in: the daemon and every CLI command, from wherever they
 * run, find the same database and secret. Set by an environment variable or
 * NODE_CONFIG (no file), it is relative to the package too.
 */
export function resolveDataDir(dataDir: string, sources: ConfigSource[]): string {
  if (isAbsolute(dataDir)) return dataDir;
  const from = [...sources].reverse().find((s) => s.parsed && typeof s.parsed.dataDir === 'string');
  const base = from && isAbsolute(from.name) && existsSync(from.name) ? dirname(from.name) : EMBEDDED_CONFIG_DIR;
  // The embedded default's "./data" means <package>/data, as `npm start` has always used it.
  return resolve(base === EMBEDDED_CONFIG_DIR ? PACKAGE_ROOT : base, dataDir);
}

export function embeddedDefaults(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EMBEDDED_CONFIG_DIR, 'default.json'), 'utf8')) as Record<string, unknown>;
}

/** Defaults merged with overrides, validated: how tests and embedders build a config. */
export function buildConfig(overrides: ConfigOverrides = {}): GatewayConfig {
  return validateConfig(deepMerge(embeddedDefaults(), overrides as Record<string, unknown>));
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const [overObject, baseObject] = [jsonObject(v), jsonObject(b)];
    out[k] = overObject && baseObject ? deepMerge(baseObject, overObject) : v;
  }
  return out;
}

/**
 * node-config parses every .json file with JSON5, a character-by-character
 * parser in JavaScript: at start-up it runs hot enough for V8 to page in its
 * optimizing compiler (~3.5 MiB of RSS on an otherwise idle gateway). Plain
 * JSON.parse first; JSON5 (comments, trailing commas) only if that fails, so
 * every file node-config accepts is still accepted.
 */
async function preferPlainJson(): Promise<void> {
  // @ts-expect-error node-config's parser module ships without type declarations
  const { default: parser } = (await import('config/parser.js')) as { default: ConfigParser };
  const json5 = parser.jsonParser;
  parser.setParser('json', (file, content) => {
    try {
      return JSON.parse(content) as unknown;
    } catch {
      return json5(file, content);
    }
  });
}

interface ConfigParser {
  jsonParser(file: string, content: string): unknown;
  setParser(ext: string, parse: (file: string, content: string) => unknown): void;
}

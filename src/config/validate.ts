// Validation of the whole configuration: the schema first, then the rules that
// span keys (files readable, ranges ordered, names unique).
import { accessSync, constants, statSync } from 'node:fs';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { applyDeprecatedAliases } from './deprecations.js';
import { configSpec } from './schema.js';
import { serialPortProblems } from './serialPorts.js';
import { check, walkFlagged } from './spec.js';
import type { GatewayConfig } from './types.js';

export function validateConfig(raw: unknown): GatewayConfig {
  const problems: ConfigProblem[] = [];
  const config = check(configSpec, raw, '', problems) as GatewayConfig;
  if (problems.length === 0) crossChecks(config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  applyDeprecatedAliases(config);
  return config;
}

function crossChecks(c: GatewayConfig, problems: ConfigProblem[]): void {
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };

  walkFlagged(configSpec, c, 'file', (path, value) => {
    if (value === '') return;
    try {
      accessSync(value, constants.R_OK);
      if (!statSync(value).isFile()) add(path, `${value} is not a regular file`);
    } catch (err) {
      add(path, `cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  });

  if (c.listeners.tls.enabled) {
    if (!c.listeners.tls.certFile) add('listeners.tls.certFile', 'is required when listeners.tls.enabled is true');
    if (!c.listeners.tls.keyFile) add('listeners.tls.keyFile', 'is required when listeners.tls.enabled is true');
  }
  if (c.listeners.wss.enabled) {
    if (!c.listeners.wss.certFile) add('listeners.wss.certFile', 'is required when listeners.wss.enabled is true');
    if (!c.listeners.wss.keyFile) add('listeners.wss.keyFile', 'is required when listeners.wss.enabled is true');
  }
  for (const name of ['ws', 'wss'] as const) {
    if (!c.listeners[name].path.startsWith('/')) add(`listeners.${name}.path`, `must start with "/", got ${JSON.stringify(c.listeners[name].path)}`);
  }
  if (c.listeners.tls.requestClientCert && !c.listeners.tls.caFile) {
    add('listeners.tls.caFile', 'is required when listeners.tls.requestClientCert is true');
  }
  if (c.auth.jwt.jwks.url && !/^https?:\/\//.test(c.auth.jwt.jwks.url)) {
    add('auth.jwt.jwks.url', `must be an http:// or https:// URL, got ${JSON.stringify(c.auth.jwt.jwks.url)}`);
  }
  if (c.bridge.enabled) {
    if (!c.bridge.url) add('bridge.url', 'is required when bridge.enabled is true');
    else if (!/^(mqtts?|wss?):\/\/[^/]/.test(c.bridge.url)) {
      add('bridge.url', `must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${JSON.stringify(c.bridge.url)}`);
    }
  }
  if (c.bridge.reconnect.minSec > c.bridge.reconnect.maxSec) {
    add('bridge.reconnect.minSec', 'must not be greater than bridge.reconnect.maxSec');
  }
  if (c.auth.revocation.topic && /[+#]/.test(c.auth.revocation.topic)) {
    add('auth.revocation.topic', 'must be a topic name without wildcards');
  }
  if (c.auth.revocation.topic && c.auth.revocation.requireSigned && c.auth.revocation.keys.length === 0) {
    add(
      'auth.revocation.keys',
      'is empty while auth.revocation.topic is set and auth.revocation.requireSigned is true: list the PEM public key(s) that sign fleet revocations ' +
        '(docs/fleet.md), or set auth.revocation.requireSigned to false to accept unsigned messages',
    );
  }
  problems.push(...serialPortProblems(c.serial.ports));
}

/** A copy of the config with every secret replaced, for printing and logging. */
export function redactConfig(c: GatewayConfig): GatewayConfig {
  const copy = structuredClone(c);
  walkFlagged(configSpec, copy, 'secret', (_path, value, set) => {
    if (value !== '') set('[redacted]');
  });
  return copy;
}

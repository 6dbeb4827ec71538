// The schema language: a number with a fixed set of values keeps the messages of
// its range, and the types derived from the schema are those of the values.
import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config/load.js';
import type { BridgeTopicRule, GatewayConfig, SerialPortConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const problems = (port: Record<string, unknown>): string[] => {
  try {
    buildConfig({ serial: { ports: [{ name: 'a', path: '/dev/x', ...port }] } } as never);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

// Compile-time checks (tsc -p tsconfig.test.json): the derived types are as narrow as the schema.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const derived: [
  Equal<SerialPortConfig['stopBits'], 1 | 1.5 | 2>,
  Equal<SerialPortConfig['dataBits'], 5 | 6 | 7 | 8>,
  Equal<BridgeTopicRule['qos'], 0 | 1>,
  Equal<GatewayConfig['bridge']['protocolVersion'], 4 | 5>,
  Equal<GatewayConfig['bridge']['queue']['sync'], '' | 'normal' | 'full'>,
  Equal<GatewayConfig['auth']['jwt']['verifyClaims'], Record<string, string>>,
] = [true, true, true, true, true, true];

describe('configuration schema language', () => {
  it('derives literal types from the schema', () => {
    assert.ok(derived.every(Boolean));
  });

  it('refuses a number outside a fixed set of values with the messages of its range', () => {
    assert.deepEqual(problems({ qos: 2 }), ['serial.ports[0].qos: must be <= 1, got 2']);
    assert.deepEqual(problems({ dataBits: 4 }), ['serial.ports[0].dataBits: must be >= 5, got 4']);
    assert.deepEqual(problems({ dataBits: 7.5 }), ['serial.ports[0].dataBits: must be an integer, got 7.5']);
    assert.deepEqual(problems({ stopBits: 3 }), ['serial.ports[0].stopBits: must be <= 2, got 3']);
    assert.deepEqual(problems({ stopBits: 1.25 }), ['serial.ports[0].stopBits: must be one of 1, 1.5, 2, got 1.25']);
    assert.deepEqual(problems({ stopBits: 1.5 }), []);
  });
});

import assert from 'node:assert/strict';
import { buildConfig } from '../../src/config/load.js';
import { expandTopic } from '../../src/config/serialPorts.js';
import { ConfigError } from '../../src/errors.js';

const problems = (ports: unknown[]): Array<{ path: string; message: string }> => {
  try {
    buildConfig({ serial: { ports } } as never);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
};

describe('serial port configuration', () => {
  it('fills every default of the contract', () => {
    const [p] = buildConfig({ serial: { ports: [{ name: 'rs485', path: '/dev/ttyUSB0' }] } } as never).serial.ports;
    assert.deepEqual(p, {
      name: 'rs485',
      path: '/dev/ttyUSB0',
      baudRate: 9600,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      delimiter: '\n',
      format: 'json',
      topic: 'sensors/%n/data',
      qos: 0,
      retain: false,
      commandTopic: '',
      maxLineBytes: 1024,
      reopen: { minSec: 1, maxSec: 30 },
    });
  });

  it('expands %n to the port name', () => {
    assert.equal(expandTopic('a/%n/b/%n', 'x'), 'a/x/b/x');
  });

  it('refuses a publish topic with wildcards (also through the name)', () => {
    assert.deepEqual(
      problems([{ name: 'a', path: '/dev/x', topic: 'sensors/+/data' }]).map((p) => p.path),
      ['serial.ports[0].topic'],
    );
    assert.deepEqual(
      problems([{ name: 'a#', path: '/dev/x' }]).map((p) => p.path),
      ['serial.ports[0].topic'],
    );
  });

  it('refuses an invalid command filter and one that matches the port own topic (a loop)', () => {
    assert.deepEqual(
      problems([{ name: 'a', path: '/dev/x', commandTopic: 'cmd/#/x' }]).map((p) => p.path),
      ['serial.ports[0].commandTopic'],
    );
    const loop = problems([{ name: 'a', path: '/dev/x', commandTopic: 'sensors/%n/#' }]);
    assert.equal(loop[0]?.path, 'serial.ports[0].commandTopic');
    assert.match(loop[0]!.message, /loop/);
    assert.deepEqual(problems([{ name: 'a', path: '/dev/x', commandTopic: 'cmd/%n/+' }]), []);
  });

  it('refuses duplicate names and reopen.minSec above maxSec', () => {
    const p = problems([
      { name: 'a', path: '/dev/x' },
      { name: 'a', path: '/dev/y', reopen: { minSec: 10, maxSec: 5 } },
    ]);
    assert.deepEqual(p.map((x) => x.path).sort(), ['serial.ports[1].name', 'serial.ports[1].reopen.minSec']);
  });
});

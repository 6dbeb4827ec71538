// Serial sensors: each port's line settings, how its lines become MQTT messages,
// and its reopen backoff. Cross-key checks of the ports: ../serialPorts.ts.
import { bool, int, list, num, numOf, obj, oneOf, str } from '../spec.js';

const portSpec = obj({
  name: str({ required: true, nonEmpty: true, description: 'used as `%n` in topics and in logs and metrics' }),
  path: str({ required: true, nonEmpty: true, description: 'e.g. `/dev/ttyUSB0`, `/dev/serial/by-id/...`' }),
  baudRate: int(50, 4_000_000, 9600, 'line speed in bits per second'),
  dataBits: numOf([5, 6, 7, 8], 8, 'data bits per character'),
  parity: oneOf(['none', 'even', 'odd', 'mark', 'space'], 'none', 'parity bit'),
  stopBits: numOf([1, 1.5, 2], 1, 'stop bits'),
  delimiter: str({ default: '\n', nonEmpty: true, description: 'line delimiter (`\\r\\n` handled)' }),
  format: oneOf(
    ['json', 'kv', 'text'],
    'json',
    '`json` (line must be JSON; published compact), `kv` (`t=21.5 h=40 name="living room"` → `{"t":21.5,"h":40,"name":"living room"}`), `text`',
  ),
  topic: str({ default: 'sensors/%n/data', nonEmpty: true, description: 'publish topic template' }),
  qos: numOf([0, 1], 0, 'QoS of the published lines'),
  retain: bool(false, 'publish retained'),
  commandTopic: str({ default: '', description: 'if set (template, `%n`), messages published there are written to the port followed by the delimiter' }),
  maxLineBytes: int(16, 1_048_576, 1024, 'longer input is discarded up to the next delimiter and counted'),
  reopen: obj({
    minSec: num({ min: 0.05, max: 3600, default: 1, description: 'reopen backoff, lower bound' }),
    maxSec: num({ min: 0.05, max: 86_400, default: 30, description: 'reopen backoff, upper bound' }),
  }),
});

export const serialSpec = obj({
  ports: list(portSpec, { description: 'serial devices, each with the keys below' }),
});

// The checks that span a serial port's keys, and the `%n` topic templates they
// expand. They belong to validation (so `edgegate config check` reports them with
// key paths); the serial capability imports expandTopic from here, never the
// other way round.
import type { ConfigProblem } from '../errors.js';
import { isValidFilter, topicMatches } from '../mqtt/topics.js';
import type { SerialPortConfig } from './types.js';

/** `%n` is the port name. */
export function expandTopic(template: string, name: string): string {
  return template.replaceAll('%n', name);
}

export function serialPortProblems(ports: readonly SerialPortConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  // Names and backoff first, then topics: the order `config check` has always printed them in.
  const names = new Set<string>();
  ports.forEach((p, i) => {
    if (names.has(p.name)) add(`serial.ports[${i}].name`, `duplicates the name ${JSON.stringify(p.name)}`);
    names.add(p.name);
    if (p.reopen.minSec > p.reopen.maxSec) add(`serial.ports[${i}].reopen.minSec`, 'must not be greater than reopen.maxSec');
  });
  ports.forEach((p, i) => {
    const at = `serial.ports[${i}]`;
    const topic = expandTopic(p.topic, p.name);
    // MQTT 3.1.1 section 3.3.2.1: a PUBLISH topic name must not contain wildcards.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is not allowed in a topic (MQTT-4.7.3-2)
    if (/[+#\u0000]/.test(topic)) add(`${at}.topic`, `expands to ${JSON.stringify(topic)}, which is not a valid topic name (no + or #)`);
    if (Buffer.byteLength(topic) > 65_535) add(`${at}.topic`, 'expands to more than 65535 bytes');
    if (p.commandTopic !== '') {
      const filter = expandTopic(p.commandTopic, p.name);
      if (!isValidFilter(filter)) {
        add(`${at}.commandTopic`, `expands to ${JSON.stringify(filter)}, which is not a valid topic filter`);
      } else if (topicMatches(filter, topic)) {
        // A port's own readings would be written back to its device, forever.
        add(`${at}.commandTopic`, `matches the port's own publish topic ${JSON.stringify(topic)} (a loop)`);
      }
    }
  });
  return problems;
}

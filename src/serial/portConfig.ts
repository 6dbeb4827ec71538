// Topic templates of a serial port and the checks that span its keys. Called from
// config validation, so `edgegate config check` reports them with key paths.
import { isValidFilter, topicMatches } from '../mqtt/topics.js';
import type { ConfigProblem } from '../errors.js';
import type { SerialPortConfig } from '../config/types.js';

/** `%n` is the port name. */
export function expandTopic(template: string, name: string): string {
  return template.replaceAll('%n', name);
}

export function serialConfigProblems(ports: readonly SerialPortConfig[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  ports.forEach((p, i) => {
    const at = `serial.ports[${i}]`;
    const topic = expandTopic(p.topic, p.name);
    // MQTT 3.1.1 section 3.3.2.1: a PUBLISH topic name must not contain wildcards.
    if (/[+#\u0000]/.test(topic)) problems.push({ path: `${at}.topic`, message: `expands to ${JSON.stringify(topic)}, which is not a valid topic name (no + or #)` });
    if (Buffer.byteLength(topic) > 65_535) problems.push({ path: `${at}.topic`, message: 'expands to more than 65535 bytes' });
    if (p.commandTopic !== '') {
      const filter = expandTopic(p.commandTopic, p.name);
      if (!isValidFilter(filter)) {
        problems.push({ path: `${at}.commandTopic`, message: `expands to ${JSON.stringify(filter)}, which is not a valid topic filter` });
      } else {
        // A port's own readings would be written back to its device, forever.
        if (topicMatches(filter, topic)) problems.push({ path: `${at}.commandTopic`, message: `matches the port's own publish topic ${JSON.stringify(topic)} (a loop)` });
      }
    }
  });
  return problems;
}

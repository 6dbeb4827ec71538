// Cloud → local: a cloud message on an `in`/`both` rule is republished on the
// local broker with origin 'bridge' (which intake.ts never sends back up), with
// its MQTT 5 properties (aedes strips them for 3.1.1 subscribers) except the
// uplink connection's own Topic Alias and Subscription Identifier (MQTT 5.0
// sections 3.3.2.3.4, 3.3.2.3.8). The cloud's PUBACK waits for the local publish.
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { LocalBroker } from '../broker/broker.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { BRIDGE_SOURCE } from './intake.js';
import { forwardable } from './messageProperties.js';
import type { TopicRules } from './rules.js';

export interface DownlinkDeps {
  rules: TopicRules;
  broker: Pick<LocalBroker, 'publishInternal'>;
  log: Logger;
  /** Counts a message brought in. */
  forwarded: () => void;
}

export class Downlink {
  constructor(private readonly deps: DownlinkDeps) {}

  /** mqtt.js's handleMessage for the uplink client: `done` sends the cloud's PUBACK. */
  readonly handleMessage: MqttClient['handleMessage'] = (packet, done) => {
    this.deliver(packet).then(
      () => done(),
      (err) => {
        this.deps.log.warn({ err: errorMessage(err), topic: packet.topic }, 'could not republish a cloud message locally');
        done();
      },
    );
  };

  private async deliver(packet: IPublishPacket): Promise<void> {
    const mapped = this.deps.rules.mapIn(packet.topic);
    if (!mapped) {
      this.deps.log.debug({ topic: packet.topic }, 'cloud message matches no in rule: ignored');
      return;
    }
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload ?? '');
    const qos: 0 | 1 = Math.min(packet.qos, mapped.qos) >= 1 ? 1 : 0;
    const properties = forwardable(packet.properties);
    await this.deps.broker.publishInternal(
      { topic: mapped.topic, payload, qos, retain: packet.retain === true, ...(properties && { properties }) },
      BRIDGE_SOURCE,
    );
    this.deps.forwarded();
  }
}

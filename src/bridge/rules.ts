// Mosquitto-style bridge topic rules: `topic <pattern> <in|out|both> <qos> <local-prefix> <remote-prefix>`.
// The local topic is localPrefix + pattern, the remote topic remotePrefix + pattern;
// a message keeps the part of its topic after the prefix when it crosses over.
import type { BridgeTopicRule } from '../config/types.js';
import { topicMatches } from '../mqtt/topics.js';

export interface Mapped {
  topic: string;
  /** The rule's QoS: the highest QoS a message is carried with (Mosquitto semantics). */
  qos: 0 | 1;
  rule: BridgeTopicRule;
}

export class TopicRules {
  readonly out: BridgeTopicRule[];
  readonly in: BridgeTopicRule[];

  constructor(readonly rules: BridgeTopicRule[]) {
    this.out = rules.filter((r) => r.direction === 'out' || r.direction === 'both');
    this.in = rules.filter((r) => r.direction === 'in' || r.direction === 'both');
  }

  /** The first `out`/`both` rule matching a local topic, and the remote topic to use. */
  mapOut(localTopic: string): Mapped | undefined {
    for (const rule of this.out) {
      const m = mapAcross(localTopic, rule.localPrefix, rule.remotePrefix, rule.pattern);
      if (m !== undefined) return { topic: m, qos: rule.qos, rule };
    }
    return undefined;
  }

  /** The first `in`/`both` rule matching a remote topic, and the local topic to use. */
  mapIn(remoteTopic: string): Mapped | undefined {
    for (const rule of this.in) {
      const m = mapAcross(remoteTopic, rule.remotePrefix, rule.localPrefix, rule.pattern);
      if (m !== undefined) return { topic: m, qos: rule.qos, rule };
    }
    return undefined;
  }

  /** The subscriptions to make on the cloud for `in`/`both` rules (highest QoS per filter). */
  remoteSubscriptions(): Map<string, 0 | 1> {
    const subs = new Map<string, 0 | 1>();
    for (const rule of this.in) {
      const filter = rule.remotePrefix + rule.pattern;
      subs.set(filter, Math.max(subs.get(filter) ?? 0, rule.qos) as 0 | 1);
    }
    return subs;
  }

  /**
   * mqtt.js's SUBSCRIBE map for the cloud, undefined when there is nothing to
   * subscribe. MQTT 5: `both` filters with No Local, so our own uplink publishes
   * are not echoed back, and Retain As Published (MQTT 5.0 section 3.8.3.1).
   */
  subscribeMap(v5: boolean): Record<string, { qos: 0 | 1; nl?: boolean; rap?: boolean }> | undefined {
    const subs = this.remoteSubscriptions();
    if (subs.size === 0) return undefined;
    const both = new Set(this.rules.filter((r) => r.direction === 'both').map((r) => r.remotePrefix + r.pattern));
    return Object.fromEntries([...subs].map(([filter, qos]) => [filter, v5 ? { qos, nl: both.has(filter), rap: true } : { qos }]));
  }
}

function mapAcross(topic: string, fromPrefix: string, toPrefix: string, pattern: string): string | undefined {
  if (!topic.startsWith(fromPrefix)) return undefined;
  const rest = topic.slice(fromPrefix.length);
  if (rest.length === 0 || !topicMatches(pattern, rest)) return undefined;
  return toPrefix + rest;
}

// What carries messages between the local broker and the uplink, built at each
// start of the bridge: up, the local intake feeding the durable outbox and the
// sender draining it (oldest first); down, the downlink. bridge.ts owns only the
// connection these run over.
import type { MqttClient } from 'mqtt';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { LogLimiter } from '../logLimiter.js';
import type { BridgeDeps } from './deps.js';
import { Downlink } from './downlink.js';
import { DrainLimiter } from './drainLimiter.js';
import { DropLog } from './dropLog.js';
import { LocalIntake } from './intake.js';
import { Outbox } from './outbox.js';
import type { TopicRules } from './rules.js';
import { OutboxSender } from './sender.js';

export interface BridgePipeline {
  outbox: Outbox;
  sender: OutboxSender;
  drops: DropLog;
  downlink: Downlink;
}

export interface PipelineHooks {
  /** The uplink while connected (QoS 0 goes straight to it, never queued), else undefined. */
  uplink: () => MqttClient | undefined;
  /** Rows were committed or dropped: the queue's totals changed. */
  queueChanged: () => void;
}

export function buildPipeline(ctx: BridgeDeps, rules: TopicRules, log: Logger, hooks: PipelineHooks): BridgePipeline {
  const config = ctx.config.bridge;
  const drops = new DropLog(log, ctx.metrics, ctx.clock);
  let sender: OutboxSender | undefined;
  const outbox = new Outbox(ctx.database, {
    ...config.queue,
    nowMs: () => ctx.clock.now(),
    // With synchronous=FULL each commit is an fsync: gather a little longer.
    commitDelayMs: ctx.config.storage.sync === 'full' ? 2 : 0,
    onDrop: (reason, n, bytes) => drops.record(reason, n, bytes),
    onCommitted: (rows, droppedThrough) => {
      hooks.queueChanged();
      sender?.committed(rows, droppedThrough);
    },
    onError: (err) => log.error({ err: errorMessage(err) }, 'bridge queue write failed'),
    group: ctx.groupCommit,
  });
  // The labelled child once, not a label lookup per message.
  const forwardedOut = ctx.metrics.bridgeForwarded.labels('out');
  const refusals = new LogLimiter(log, () => ctx.clock.monotonic());
  sender = new OutboxSender({
    outbox,
    maxInflight: config.maxInflight,
    onDelivered: () => forwardedOut.inc(),
    nowMs: () => ctx.clock.now(),
    limiter: new DrainLimiter(config.drainRatePerSec, ctx.clock),
    onRefused: (row, refusal) =>
      refusals.log(
        'warn',
        'refused',
        { topic: row.topic, reasonCode: refusal.reasonCode },
        'cloud refused a message (dropped, counted as reason "refused"): check the cloud ACL for this topic',
      ),
  });
  const intake = new LocalIntake({ config, rules, outbox, drops, uplink: hooks.uplink, forwarded: () => forwardedOut.inc() });
  ctx.broker.addPublishInterceptor(intake.intercept);
  const downlink = new Downlink({ rules, broker: ctx.broker, log, forwarded: () => ctx.metrics.bridgeForwarded.inc({ direction: 'in' }) });
  return { outbox, sender, drops, downlink };
}

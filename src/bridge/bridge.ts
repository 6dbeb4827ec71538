// The cloud bridge: one uplink connection with an explicit state machine
//   stopped → connecting → connected → waiting (backoff) → connecting → … → stopping → stopped
// Local publishes go up through intake.ts (durable outbox, or straight to the cloud),
// cloud messages come down through downlink.ts; this file owns the connection.
import type { MqttClient } from 'mqtt';
import type { TimerHandle } from '../clock/timeSource.js';
import type { Component } from '../component.js';
import type { BridgeConfig } from '../config/types.js';
import { ConfigError, errorMessage } from '../errors.js';
import { componentLogger, type Logger, logFailure } from '../log.js';
import { DecorrelatedJitterBackoff } from './backoff.js';
import { type BridgeState, type BridgeStatus, oldestAgeSec } from './bridgeStatus.js';
import type { BridgeDeps } from './deps.js';
import type { Downlink } from './downlink.js';
import type { DropLog } from './dropLog.js';
import { BRIDGE_SOURCE } from './intake.js';
import type { Outbox } from './outbox.js';
import { buildPipeline } from './pipeline.js';
import { RowPublisher } from './rowPublisher.js';
import { TopicRules } from './rules.js';
import type { OutboxSender } from './sender.js';
import { createUplinkClient, endUplinkClient } from './uplinkClient.js';
import { UplinkCredentialSource, type UplinkCredentials } from './uplinkCredentials.js';
import { attemptOptions, bridgeModeOnConnect, loadUplinkTls, type UplinkTls } from './uplinkOptions.js';

/** Renew the self-signed JWT this long before it expires (reconnect with a fresh one). */
const RENEW_MARGIN_SEC = 60;

export class Bridge implements Component {
  readonly name = 'bridge';
  private state: BridgeState = 'stopped';
  private readonly log: Logger;
  private readonly config: BridgeConfig;
  private rules!: TopicRules;
  private outbox!: Outbox;
  private sender!: OutboxSender;
  private credentials!: UplinkCredentialSource;
  private backoff!: DecorrelatedJitterBackoff;
  private drops!: DropLog;
  private downlink!: Downlink;
  private tls!: UplinkTls;
  private client?: MqttClient;
  private rowPublisher?: RowPublisher;
  private generation = 0;
  private bridgeMode = true;
  private renewing = false;
  private reconnectTimer?: TimerHandle;
  private renewTimer?: TimerHandle;
  private ttlTimer?: TimerHandle;
  private connectedSince?: number;
  private lastError?: string;
  private readonly remoteStateTopic: string;
  private readonly stateListeners: Array<(state: BridgeState) => void> = [];

  constructor(
    private readonly ctx: BridgeDeps,
    readonly clientId: string,
  ) {
    this.config = ctx.config.bridge;
    this.log = componentLogger(ctx.logger, 'bridge');
    // With several rules, the first rule's remotePrefix places the state topic.
    this.remoteStateTopic = `${this.config.topics[0]?.remotePrefix ?? ''}edgegate/${clientId}/state`;
  }

  async start(): Promise<void> {
    const { config, ctx } = this;
    if (!/^(mqtts?|wss?):\/\//.test(config.url))
      throw ConfigError.at('bridge.url', 'an mqtt://, mqtts://, ws:// or wss:// URL is required when bridge.enabled is true');
    this.rules = new TopicRules(config.topics);
    this.tls = loadUplinkTls(config.tls);
    this.credentials = new UplinkCredentialSource(config, this.clientId, () => ctx.clock.now());
    this.credentials.load();
    this.backoff = new DecorrelatedJitterBackoff(config.reconnect.minSec * 1000, Math.max(config.reconnect.minSec, config.reconnect.maxSec) * 1000);
    const uplink = (): MqttClient | undefined => (this.state === 'connected' ? this.client : undefined);
    ({
      outbox: this.outbox,
      sender: this.sender,
      drops: this.drops,
      downlink: this.downlink,
    } = buildPipeline(ctx, this.rules, this.log, {
      uplink,
      queueChanged: () => this.updateQueueMetrics(),
    }));
    if (!ctx.persistent) this.log.error('database is in memory: the bridge queue will not survive a restart');
    if (this.outbox.messages > 0)
      this.log.info({ messages: this.outbox.messages, bytes: this.outbox.bytes }, 'bridge backlog from a previous run will be sent first');
    ctx.status.register('bridge', () => this.status());
    // Also read at each scrape: a commit of deletions alone (acknowledged messages) has no event here.
    ctx.metrics.registry.addCollector(() => this.updateQueueMetrics());
    this.updateQueueMetrics();
    ctx.metrics.bridgeConnected.set(0);
    if (config.queue.ttlSec > 0) {
      this.ttlTimer = ctx.clock.setInterval(Math.min(60, Math.max(1, config.queue.ttlSec / 4)) * 1000, () => this.outbox.expireOld());
    }
    await this.publishLocalState('offline');
    this.state = 'waiting';
    this.connect().catch(logFailure(this.log, 'connecting to the cloud'));
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    this.reconnectTimer?.cancel();
    this.renewTimer?.cancel();
    this.ttlTimer?.cancel();
    // From here every queued message commits at once: nothing waits in memory.
    this.outbox.close();
    const client = this.client;
    if (client?.connected) {
      await this.settle(1000);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        client.publish(this.remoteStateTopic, 'offline', { qos: 1, retain: true }, () => (clearTimeout(t), resolve()));
      });
    }
    this.generation++;
    this.sender.detach();
    this.rowPublisher?.close();
    this.rowPublisher = undefined;
    if (client) await endUplinkClient(client, 1000);
    this.client = undefined;
    this.ctx.metrics.bridgeConnected.set(0);
    await this.publishLocalState('offline');
    this.drops.emit();
    this.updateQueueMetrics();
    this.state = 'stopped';
    this.log.info({ queued: this.outbox.messages }, 'bridge stopped');
  }

  private async connect(): Promise<void> {
    if (this.state !== 'waiting') return;
    this.setState('connecting');
    let credentials: UplinkCredentials;
    try {
      credentials = await this.credentials.next();
    } catch (err) {
      this.lastError = errorMessage(err);
      this.log.error({ err: this.lastError }, 'cannot build uplink credentials');
      return this.scheduleReconnect();
    }
    if ((this.state as BridgeState) !== 'connecting') return; // stopped meanwhile
    const generation = ++this.generation;
    const options = attemptOptions({
      config: this.config,
      clientId: this.clientId,
      tls: this.tls,
      credentials,
      remoteStateTopic: this.remoteStateTopic,
      bridgeMode: this.bridgeMode,
    });
    const client = createUplinkClient(this.config.url, options);
    if (this.bridgeMode && this.config.protocolVersion === 4) bridgeModeOnConnect(client);
    this.client = client;
    client.handleMessage = this.downlink.handleMessage;
    client.on('connect', (connack) => {
      if (generation === this.generation) this.onConnected(client, connack.sessionPresent === true);
    });
    client.on('error', (err: Error & { code?: unknown }) => {
      if (generation !== this.generation) return;
      this.lastError = errorMessage(err);
      // CONNACK 1 "unacceptable protocol version": the cloud does not know bridge mode; retry without it.
      if (err.code === 1 && this.bridgeMode && this.config.protocolVersion === 4) {
        this.bridgeMode = false;
        this.log.warn('cloud refused the bridge protocol flag; using plain MQTT 3.1.1 (both-direction echoes are then possible)');
      }
      this.log.debug({ err: this.lastError, code: err.code }, 'uplink error');
    });
    let closed = false;
    client.on('close', () => {
      if (closed || generation !== this.generation) return;
      closed = true;
      this.onClosed(client);
    });
    client.connect();
  }

  private onConnected(client: MqttClient, sessionPresent: boolean): void {
    if (this.state !== 'connecting') return;
    this.setState('connected');
    this.connectedSince = this.ctx.clock.now();
    this.lastError = undefined;
    this.backoff.reset();
    this.ctx.metrics.bridgeConnected.set(1);
    this.log.info({ url: this.config.url, clientId: this.clientId, sessionPresent, backlog: this.outbox.messages }, 'connected to the cloud');
    const map = this.rules.subscribeMap(this.config.protocolVersion === 5);
    if (map) {
      client.subscribe(map, (err, granted) => {
        if (err) this.log.warn({ err: errorMessage(err) }, 'cloud subscription failed');
        const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
        if (refused.length > 0) this.log.warn({ refused }, 'cloud refused subscriptions');
      });
    }
    client.publish(this.remoteStateTopic, 'online', { qos: 1, retain: true });
    this.publishLocalState('online').catch(logFailure(this.log, 'publishing the local bridge state'));
    this.outbox.expireOld();
    this.rowPublisher = new RowPublisher(client, this.config.protocolVersion === 5 ? 5 : 4).start();
    this.sender.attach(this.rowPublisher.publish);
    this.scheduleRenewal();
  }

  private onClosed(client: MqttClient): void {
    const wasConnected = this.state === 'connected';
    this.renewTimer?.cancel();
    this.sender.detach();
    this.rowPublisher?.close();
    this.rowPublisher = undefined;
    client.removeAllListeners('connect');
    client.end(true);
    if (this.client === client) this.client = undefined;
    if (wasConnected) {
      this.connectedSince = undefined;
      this.ctx.metrics.bridgeConnected.set(0);
      this.publishLocalState('offline').catch(logFailure(this.log, 'publishing the local bridge state'));
      if (!this.renewing) this.log.warn({ err: this.lastError, queued: this.outbox.messages }, 'cloud connection lost');
    } else {
      this.log.warn({ err: this.lastError, url: this.config.url }, 'cannot connect to the cloud');
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const delayMs = this.renewing ? 0 : this.backoff.next();
    this.renewing = false;
    this.setState('waiting');
    this.reconnectTimer = this.ctx.clock.setTimer(delayMs, () => {
      this.connect().catch(logFailure(this.log, 'connecting to the cloud'));
    });
  }

  /** A self-signed JWT must be replaced before it expires: reconnect with a fresh one. */
  private scheduleRenewal(): void {
    if (!this.credentials.usesJwt) return;
    const ttl = this.config.jwt.ttlSec;
    const renewInSec = Math.max(ttl / 2, ttl - RENEW_MARGIN_SEC);
    this.renewTimer = this.ctx.clock.setTimer(renewInSec * 1000, () => {
      const client = this.client;
      if (this.state !== 'connected' || !client) return;
      this.log.info('renewing the uplink JWT: reconnecting');
      this.renewing = true;
      client.end(false);
    });
  }

  /** Waits (bounded) until nothing is in flight, to leave fewer duplicates behind. */
  private async settle(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.sender.idle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  private async publishLocalState(state: 'online' | 'offline'): Promise<void> {
    if (!this.config.stateTopic) return;
    try {
      await this.ctx.broker.publishInternal({ topic: this.config.stateTopic, payload: Buffer.from(state), qos: 1, retain: true }, BRIDGE_SOURCE);
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'could not publish the local bridge state');
    }
  }

  private setState(next: BridgeState): void {
    const changed = next !== this.state;
    if (changed) this.log.debug({ from: this.state, to: next }, 'bridge state');
    this.state = next;
    if (changed) for (const fn of this.stateListeners) fn(next);
  }

  // --- Hooks for companions on the uplink (healthPublisher.ts) ---

  /** Called after each change of the connection state (connecting, connected, waiting). */
  onStateChange(fn: (state: BridgeState) => void): void {
    this.stateListeners.push(fn);
  }

  get connectionState(): BridgeState {
    return this.state;
  }

  /** `<remotePrefix>edgegate/<clientId>/<leaf>`: beside the retained state topic on the cloud. */
  remoteTopic(leaf: string): string {
    return this.remoteStateTopic.replace(/state$/, leaf);
  }

  /** Publishes straight to the cloud while connected (not through the queue); false when not connected or it failed. */
  publishRemote(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain: boolean }): Promise<boolean> {
    const client = this.client;
    if (this.state !== 'connected' || !client) return Promise.resolve(false);
    return new Promise((resolve) => client.publish(topic, payload, opts, (err) => resolve(!err)));
  }

  private updateQueueMetrics(): void {
    this.ctx.metrics.bridgeQueueMessages.set(this.outbox.messages);
    this.ctx.metrics.bridgeQueueBytes.set(this.outbox.bytes);
  }

  private status(): BridgeStatus {
    return {
      state: this.state,
      url: this.config.url.replace(/\/\/[^@/]*@/, '//'),
      clientId: this.clientId,
      connectedSince: this.connectedSince ? new Date(this.connectedSince).toISOString() : null,
      lastError: this.lastError ?? null,
      queue: { messages: this.outbox.messages, bytes: this.outbox.bytes, durable: this.ctx.persistent, inflight: this.sender.inFlight },
      remoteStateTopic: this.remoteStateTopic,
      rules: this.config.topics.map((r) => ({
        pattern: r.pattern,
        direction: r.direction,
        qos: r.qos,
        localPrefix: r.localPrefix,
        remotePrefix: r.remotePrefix,
      })),
      oldestQueuedAgeSec: oldestAgeSec(this.outbox.oldestEnqueuedAt(), this.ctx.clock.now()),
      dropped: this.drops.byReason(),
    };
  }
}

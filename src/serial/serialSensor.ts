// One serial.ports[] entry as a daemon component: device bytes → lines → payloads
// → local publishes under the source `serial:<name>` (interceptors, so the bridge,
// retained messages and subscribers all apply), and commandTopic → device.

import type { DeliveredMessage, InternalPacket } from '../broker/broker.js';
import type { GatewayClock } from '../clock/gatewayClock.js';
import type { Component } from '../component.js';
import { expandTopic } from '../config/serialPorts.js';
import type { SerialPortConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { type Logger, logFailure } from '../log.js';
import type { Metrics } from '../metrics.js';
import { CommandWriter } from './commands.js';
import { formatLine } from './formats.js';
import { LineFramer } from './lineFramer.js';
import { ParseFailureLog } from './parseFailureLog.js';
import { PublishQueue } from './publishQueue.js';
import { type LastError, type PortState, ReopeningSerialPort, type SerialStreamFactory } from './serialPort.js';

const STOP_DRAIN_MS = 2000;
const LAST_LINE_BYTES = 256;

/** What a serial sensor needs of the broker. */
export interface SerialBroker {
  publishInternal(message: InternalPacket, source: string): Promise<void>;
  subscribeInternal(filter: string, handler: (packet: DeliveredMessage) => void): () => void;
}

export interface SerialSensorDeps {
  broker: SerialBroker;
  clock: GatewayClock;
  logger: Logger;
  metrics: Metrics;
  factory: SerialStreamFactory;
}

/** One port on the status board (`serial.ports[]`). */
export interface SerialPortStatus {
  name: string;
  path: string;
  state: PortState;
  format: SerialPortConfig['format'];
  topic: string;
  commandTopic: string | null;
  lines: { published: number; invalid: number; oversized: number };
  commands: { written: number; dropped: number };
  /** Failures to open or read the device since start. */
  errors: number;
  lastError: LastError | null;
  lastLineAt: string | null;
  /** The last line read (its first LAST_LINE_BYTES): only with `detail`, for the status page. */
  lastLine?: string | null;
}

export class SerialSensor implements Component {
  readonly name: string;
  readonly topic: string;
  readonly commandTopic: string;
  private readonly port: ReopeningSerialPort;
  private readonly framer: LineFramer;
  private readonly queue: PublishQueue;
  private readonly failures: ParseFailureLog;
  private readonly commands?: CommandWriter;
  private readonly source: string;
  private readonly openGauge: { set(value: number): void };
  /** Every series of this port, so it shows (as 0) from the start rather than after its first event. */
  private readonly series: Array<{ inc(value?: number): void }> = [];
  readonly counts = { published: 0, invalid: 0, oversized: 0, publishFailed: 0, commandsWritten: 0, commandsDropped: 0 };
  /** The last complete line read and when (its content only for the status page; decoded only when asked, cut to LAST_LINE_BYTES). */
  private lastLine?: Buffer;
  private lastLineAtMs = 0;

  constructor(
    private readonly config: SerialPortConfig,
    private readonly deps: SerialSensorDeps,
  ) {
    this.name = `serial:${config.name}`;
    this.source = `serial:${config.name}`;
    this.topic = expandTopic(config.topic, config.name);
    this.commandTopic = config.commandTopic ? expandTopic(config.commandTopic, config.name) : '';
    const m = deps.metrics;
    const label = config.name;
    const linesPublished = m.serialLines.labels(label, 'published');
    const linesInvalid = m.serialLines.labels(label, 'invalid');
    const linesOversized = m.serialLines.labels(label, 'oversized');
    const open = m.serialPortOpen.labels(label);
    this.openGauge = open;
    this.series.push(linesPublished, linesInvalid, linesOversized);
    this.failures = new ParseFailureLog(deps.clock, deps.logger);
    this.framer = new LineFramer(config.delimiter, config.maxLineBytes);
    const sink = {
      line: (line: Buffer): void => {
        this.lastLine = line;
        this.lastLineAtMs = deps.clock.now();
        const result = formatLine(config.format, line);
        if (result.ok) {
          this.queue.enqueue(result.payload);
          return;
        }
        this.counts.invalid++;
        linesInvalid.inc();
        this.failures.failed(result.reason, line);
      },
      oversized: (): void => {
        this.counts.oversized++;
        linesOversized.inc();
        this.failures.failed('SERIAL_LINE_TOO_LONG');
      },
    };
    this.port = new ReopeningSerialPort(config, {
      clock: deps.clock,
      logger: deps.logger,
      factory: deps.factory,
      handlers: {
        data: (chunk) => this.framer.push(chunk, sink),
        lost: () => this.framer.reset(),
        stateChanged: (state) => open.set(state === 'open' ? 1 : 0),
      },
    });
    this.queue = new PublishQueue({
      publish: (payload) => deps.broker.publishInternal({ topic: this.topic, payload, qos: config.qos, retain: config.retain }, this.source),
      published: () => {
        this.counts.published++;
        linesPublished.inc();
      },
      failed: (err) => {
        this.counts.publishFailed++;
        deps.logger.debug({ err: errorMessage(err) }, 'serial line could not be published');
      },
      pause: () => this.port.pause(),
      resume: () => this.port.resume(),
    });
    if (this.commandTopic) {
      const written = m.serialCommands.labels(label, 'written');
      const dropped = m.serialCommands.labels(label, 'dropped');
      this.series.push(written, dropped);
      this.commands = new CommandWriter(this.commandTopic, config.delimiter, {
        broker: deps.broker,
        target: this.port,
        logger: deps.logger,
        counters: {
          written: () => (this.counts.commandsWritten++, written.inc()),
          dropped: () => (this.counts.commandsDropped++, dropped.inc()),
        },
      });
    }
  }

  async start(): Promise<void> {
    this.openGauge.set(0);
    for (const counter of this.series) counter.inc(0);
    this.commands?.start();
    // Not awaited: a missing device is normal and must not hold up the daemon.
    this.port.start();
  }

  async stop(): Promise<void> {
    this.commands?.stop();
    await this.port.stop();
    this.framer.reset();
    // Lines already read go out while the broker is still up (it stops after us),
    // but a stuck publish must not hold up the daemon's shutdown.
    await new Promise<void>((resolve) => {
      const timer = this.deps.clock.setTimer(STOP_DRAIN_MS, () => {
        this.deps.logger.warn({ waiting: this.queue.length }, 'serial lines still unpublished at shutdown: dropped');
        resolve();
      });
      this.queue
        .drain()
        .catch(logFailure(this.deps.logger, 'publishing the last serial lines'))
        .finally(() => {
          timer.cancel();
          resolve();
        });
    });
  }

  /** `detail`: also the last line's content (for the status page only). */
  status(detail = false): SerialPortStatus {
    const c = this.counts;
    return {
      name: this.config.name,
      path: this.config.path,
      state: this.port.getState(),
      format: this.config.format,
      topic: this.topic,
      commandTopic: this.commandTopic || null,
      lines: { published: c.published, invalid: c.invalid, oversized: c.oversized },
      commands: { written: c.commandsWritten, dropped: c.commandsDropped },
      errors: this.port.errors,
      lastError: this.port.lastError ?? null,
      lastLineAt: this.lastLine ? new Date(this.lastLineAtMs).toISOString() : null,
      // A sensor's data: never in /healthz, $SYS or `edgegate status`, only on the status page (behind its login).
      ...(detail ? { lastLine: this.lastLine?.subarray(0, LAST_LINE_BYTES).toString('utf8') ?? null } : {}),
    };
  }
}

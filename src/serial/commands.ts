// Commands: messages published on a port's commandTopic are written to the device
// followed by the delimiter. The broker hands us only publishes the publisher's
// token ACL allowed (denied ones are rerouted before routing), so the ACL applies
// as for any topic. A command for a port that is not open is dropped and counted:
// queueing it would deliver stale commands to a device plugged in hours later.
import type { DeliveredMessage } from '../broker/broker.js';
import type { Logger } from '../log.js';

export interface CommandTarget {
  /** False when the port is closed or its output is backed up. */
  write(data: Buffer): boolean;
}

export interface CommandBroker {
  subscribeInternal(filter: string, handler: (packet: DeliveredMessage) => void): () => void;
}

export interface CommandCounters {
  written(): void;
  dropped(): void;
}

export class CommandWriter {
  private unsubscribe?: () => void;
  private readonly delimiter: Buffer;

  constructor(
    private readonly filter: string,
    delimiter: string,
    private readonly deps: { broker: CommandBroker; target: CommandTarget; counters: CommandCounters; logger: Logger },
  ) {
    this.delimiter = Buffer.from(delimiter, 'utf8');
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.deps.broker.subscribeInternal(this.filter, (packet) => this.handle(packet));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private handle(packet: DeliveredMessage): void {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : Buffer.from(packet.payload);
    if (this.deps.target.write(Buffer.concat([payload, this.delimiter]))) {
      this.deps.counters.written();
    } else {
      this.deps.counters.dropped();
      this.deps.logger.debug({ topic: packet.topic, bytes: payload.length }, 'command dropped: serial port not open');
    }
  }
}

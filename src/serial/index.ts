// Builds one component per serial.ports[] entry and one `serial` status entry
// listing every port's state. A serial port never affects the daemon's health:
// a missing sensor must not take the gateway out of service.
import type { Component } from '../component.js';
import { componentLogger } from '../log.js';
import type { SerialDeps } from './deps.js';
import { type SerialStreamFactory, systemStreamFactory } from './serialPort.js';
import { type SerialPortStatus, SerialSensor } from './serialSensor.js';

export interface SerialStatus {
  ports: SerialPortStatus[];
}

declare module '../status.js' {
  interface StatusMap {
    serial: SerialStatus;
  }
}

export interface SerialOptions {
  /** How streams are made; tests inject one over @serialport/binding-mock. */
  factory?: SerialStreamFactory;
}

export function serialComponents(ctx: SerialDeps, options: SerialOptions = {}): Component[] {
  const log = componentLogger(ctx.logger, 'serial');
  const sensors = ctx.config.serial.ports.map(
    (port) =>
      new SerialSensor(port, {
        broker: ctx.broker,
        clock: ctx.clock,
        logger: log.child({ port: port.name }),
        metrics: ctx.metrics,
        factory: options.factory ?? systemStreamFactory,
      }),
  );
  ctx.status.register('serial', ({ detail }) => ({ ports: sensors.map((s) => s.status(detail)) }));
  return sensors;
}

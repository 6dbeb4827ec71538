// @serialport/binding-mock behind our stream factory, plus the ability to make a
// path "absent" (open fails with ENOENT, as bindings-cpp does) and to "unplug" an
// open port (its stream closes with a DisconnectedError, as after a USB unplug).
import { SerialPortStream } from '@serialport/stream';
import { SerialPortMock } from 'serialport';
import type { SerialStreamFactory } from '../../../src/serial/serialPort.js';

// @serialport/binding-mock 10.2.2 (the one serialport itself uses for SerialPortMock);
// its types do not resolve under "exports", so they are taken from SerialPortMock.
export const MockBinding = SerialPortMock.binding;
type MockBindingInterface = typeof MockBinding;
type OpenOptions = Parameters<MockBindingInterface['open']>[0];
export type MockPortBinding = Awaited<ReturnType<MockBindingInterface['open']>>;

export class MockPorts {
  private readonly absent = new Set<string>();
  /** Opening these paths fails with exactly this message (as bindings-cpp words it, no code). */
  private readonly failures = new Map<string, string>();
  readonly streams: SerialPortStream[] = [];
  opens = 0;

  constructor() {
    MockBinding.reset();
  }

  /** A device present at `path`. */
  create(path: string): void {
    this.absent.delete(path);
    MockBinding.createPort(path, { record: true });
  }

  /** Opening these paths never completes (a wedged driver). */
  readonly hanging = new Set<string>();

  failWith(path: string, message: string | undefined): void {
    if (message === undefined) this.failures.delete(path);
    else this.failures.set(path, message);
  }

  /** Opening `path` fails as if the device were not plugged in. */
  remove(path: string): void {
    this.absent.add(path);
  }

  readonly factory: SerialStreamFactory = (o) => {
    const absent = this.absent;
    const failures = this.failures;
    const hanging = this.hanging;
    const binding: MockBindingInterface = {
      ...MockBinding,
      open: async (options: OpenOptions) => {
        if (hanging.has(options.path)) return new Promise<never>(() => undefined);
        const failure = failures.get(options.path);
        if (failure) throw new Error(failure);
        if (absent.has(options.path)) throw Object.assign(new Error(`Error: No such file or directory, cannot open ${options.path}`), { code: 'ENOENT' });
        return MockBinding.open(options);
      },
    };
    const stream = new SerialPortStream({ binding, ...o, autoOpen: false });
    this.opens++;
    this.streams.push(stream);
    return stream;
  };

  /** The open binding of the latest stream for `path`. */
  binding(path: string): MockPortBinding {
    const stream = [...this.streams].reverse().find((s) => s.path === path && s.isOpen);
    if (!stream?.port) throw new Error(`${path} is not open`);
    return stream.port as unknown as MockPortBinding;
  }

  isOpen(path: string): boolean {
    return this.streams.some((s) => s.path === path && s.isOpen);
  }

  /** The device is pulled out: the next opens fail and the open stream sees a disconnect. */
  unplug(path: string): void {
    this.absent.add(path);
    const stream = [...this.streams].reverse().find((s) => s.path === path && s.isOpen);
    stream?._disconnected(new Error('device unplugged'));
  }

  plug(path: string): void {
    this.create(path);
  }
}

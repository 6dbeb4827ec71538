// Every long-lived part of the daemon: constructors only assign; start() does the
// work and may fail; stop() releases everything and never throws.
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

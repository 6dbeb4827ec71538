// A promise with its resolve and reject: what a group commit or an fsync hands to
// everyone waiting for it, settled once for all of them.

export interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // Settled for waiters that may not exist: never an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

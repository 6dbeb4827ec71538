// Errors that leave a component carry a stable `code` (as fastify's do), so the
// CLI, logs and tests can tell them apart without parsing messages.

export class EdgegateError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgegateError';
    this.code = code;
  }
}

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Invalid configuration: the CLI prints every problem and exits with code 2. */
export class ConfigError extends EdgegateError {
  static readonly EXIT_CODE = 2;
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super('EDGEGATE_CONFIG_INVALID', 'invalid configuration:\n' + problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
  static at(path: string, message: string): ConfigError {
    return new ConfigError([{ path, message }]);
  }
}

/** The storage layer failed (corrupt or unreadable database, full disk). */
export class StorageError extends EdgegateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EDGEGATE_STORAGE', message, options);
    this.name = 'StorageError';
  }
}

/**
 * A listener could not bind its address. Not a configuration error (exit 1, so
 * systemd retries: the port may be freed), but it names the key that moves it.
 */
export class ListenError extends EdgegateError {
  constructor(key: string, host: string, port: number, cause: NodeJS.ErrnoException, envVar?: string) {
    const why =
      cause.code === 'EADDRINUSE' ? 'is already in use by another process (EADDRINUSE)'
      : cause.code === 'EACCES' ? 'may not be bound by this user (EACCES: a port below 1024 needs CAP_NET_BIND_SERVICE)'
      : `cannot be bound (${cause.code ?? cause.message})`;
    super(
      cause.code === 'EADDRINUSE' ? 'EDGEGATE_ADDRESS_IN_USE' : 'EDGEGATE_LISTEN_FAILED',
      `${host}:${port} ${why}: set ${key}${envVar ? ` (or ${envVar})` : ''} to another port, or stop what holds it`,
      { cause },
    );
    this.name = 'ListenError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

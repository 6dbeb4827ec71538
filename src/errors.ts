// The one catalogue of error codes (as fastify's lib/errors.js). Every error a user
// can meet carries one of these stable codes, so the CLI, logs and tests tell them
// apart without parsing messages, and a code is never reused for another meaning.
// docs/errors.md says for each what to do and where it shows up;
// test/docs/errors.test.ts keeps the two in step and finds codes used outside it.

/** Each stable code and its one-line meaning. Never rename a code: scripts and alerts match on it. */
export const ERROR_CODES = {
  EDGEGATE_CONFIG_INVALID: 'the configuration is invalid: every problem is named with its key (exit code 2)',
  EDGEGATE_STORAGE: 'the database or a file in the data directory could not be opened, read or written',
  EDGEGATE_ADDRESS_IN_USE: 'the port of a listener is already in use by another process',
  EDGEGATE_LISTEN_FAILED: 'a listener could not bind its address for another reason than EADDRINUSE (e.g. EACCES)',
  EDGEGATE_REVOCATIONS_FULL: 'a new revocation was refused: the list holds auth.revocation.maxEntries already',
  EDGEGATE_AUTH_REFUSED: 'a token was refused (CONNECT, re-authentication, admin login, token verify); its reason says why',
  EDGEGATE_JWKS_FETCH_FAILED: 'fetching auth.jwt.jwks.url failed (network, TLS, HTTP status, redirect, size or time limit)',
  EDGEGATE_FLEET_REFUSED: 'a message on auth.revocation.topic or its /snapshot was not applied; its reason says why',
  EDGEGATE_FLEET_SNAPSHOT_TOO_LARGE: 'edgegate fleet refused a change whose signed revocation snapshot would exceed the limit',
  EDGEGATE_CLOUD_UNREACHABLE: 'edgegate fleet could not connect to the cloud broker',
  EDGEGATE_CLOUD_REFUSED: 'the cloud broker refused a bridged message for good (PUBACK reason code 0x80 or above)',
  EDGEGATE_BRIDGE_CREDENTIALS: 'the bridge could not build its uplink credentials (bridge.jwt.privateKeyFile unreadable, signing failed)',
  EDGEGATE_USAGE: 'a command-line option or argument is missing, malformed, or contradicts another one (exit code 1)',
  EDGEGATE_FILE_UNREADABLE: 'a file named on the command line (key, certificate) could not be read or parsed',
  EDGEGATE_NO_SIGNING_KEY: 'edgegate token mint has no key to sign with: no auth.jwt.secret, no generated secret, no --key',
  EDGEGATE_FLEET_STATE: "edgegate fleet's state file (or the cloud's snapshot) does not fit this key, is damaged, or is in use",
  EDGEGATE_CLOUD_NO_ACK: 'the cloud broker did not acknowledge (or refused) a publish or subscription of edgegate fleet',
  EDGEGATE_PUBLISH_REFUSED: 'a local publish was not taken by the bridge queue (full, or it could not store the message)',
} as const satisfies Record<`EDGEGATE_${string}`, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class EdgegateError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
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

/** A command-line option or argument the command cannot use: the message names it. */
export class UsageError extends EdgegateError {
  constructor(message: string) {
    super('EDGEGATE_USAGE', message);
    this.name = 'UsageError';
  }
}

/** A file named on the command line could not be read (or is not what the option needs). */
export class UnreadableFileError extends EdgegateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EDGEGATE_FILE_UNREADABLE', message, options);
    this.name = 'UnreadableFileError';
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
      cause.code === 'EADDRINUSE'
        ? 'is already in use by another process (EADDRINUSE)'
        : cause.code === 'EACCES'
          ? 'may not be bound by this user (EACCES: a port below 1024 needs CAP_NET_BIND_SERVICE)'
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

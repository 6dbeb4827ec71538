// One status object for the whole daemon: every component registers a provider
// of its state; /healthz, /metrics, $SYS/edgegate/... and `edgegate status` read it.
//
// Typed without this file knowing any component: StatusMap starts empty and each
// component adds its entry beside its status type,
//   declare module '../status.js' { interface StatusMap { bridge: BridgeStatus } }
// so a provider must return its owner's type and readers get the fields, checked
// by the compiler once instead of by every reader at run time.

/** Component name → the type of its status; each component adds its own entry. */
// biome-ignore lint/suspicious/noEmptyInterface: filled by each owner's `declare module` (interfaces merge; a type alias would not)
export interface StatusMap {}

export interface StatusOptions {
  /**
   * The caller is the status page (behind its login), which may show what
   * /healthz, $SYS and `edgegate status` must not, such as a serial line's content.
   */
  detail: boolean;
}

export type StatusProvider<T> = (options: StatusOptions) => T;

/**
 * A name StatusMap does not list (a test's probe) may register any object: it is
 * shown under its name and read by no one.
 */
type StatusOf<N extends string> = N extends keyof StatusMap ? StatusMap[N] : object;

/** A component in a snapshot: its status, or only `error` when its provider threw. */
export type Reported<T> = Partial<T> & { error?: string };

/** Every registered component by name (each as far as its provider answered), and whether all health checks pass. */
export type BoardSnapshot = { healthy: boolean } & { [K in keyof StatusMap]?: Reported<StatusMap[K]> };

const NO_DETAIL: StatusOptions = { detail: false };

export class StatusBoard {
  private readonly providers = new Map<string, StatusProvider<object>>();
  private readonly checks = new Map<string, () => boolean>();

  register<N extends string>(name: N, provider: StatusProvider<StatusOf<N>>, healthy?: () => boolean): void {
    this.providers.set(name, provider);
    if (healthy) this.checks.set(name, healthy);
  }

  unregister(name: string): void {
    this.providers.delete(name);
    this.checks.delete(name);
  }

  /** Healthy when every component that declared a health check passes it. */
  healthy(): boolean {
    for (const check of this.checks.values()) if (!check()) return false;
    return true;
  }

  /** One component's status (undefined when it did not register or its provider failed). */
  read<K extends keyof StatusMap>(name: K): StatusMap[K] | undefined {
    try {
      // register() took this name's provider only with this name's type.
      return this.providers.get(name)?.(NO_DETAIL) as StatusMap[K] | undefined;
    } catch {
      return undefined;
    }
  }

  snapshot(options: StatusOptions = NO_DETAIL): BoardSnapshot {
    const out: Record<string, unknown> = { healthy: this.healthy() };
    for (const [name, provider] of this.providers) {
      try {
        out[name] = provider(options);
      } catch (err) {
        out[name] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    // Built by name from providers register() typed by name.
    return out as BoardSnapshot;
  }
}

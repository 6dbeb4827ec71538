// One status object for the whole daemon: every component registers a provider
// of its state; /healthz, /metrics, $SYS/edgegate/... and `edgegate status` read it.

/**
 * `detail`: the caller is the status page (behind its login), which may show what
 * /healthz, $SYS and `edgegate status` must not, such as a serial line's content.
 */
export type StatusProvider = (options: { detail: boolean }) => Record<string, unknown>;

const NO_DETAIL = { detail: false } as const;

export class StatusBoard {
  private readonly providers = new Map<string, StatusProvider>();
  private readonly checks = new Map<string, () => boolean>();

  register(name: string, provider: StatusProvider, healthy?: () => boolean): void {
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
  read(name: string): Record<string, unknown> | undefined {
    try {
      return this.providers.get(name)?.(NO_DETAIL);
    } catch {
      return undefined;
    }
  }

  snapshot(options: { detail: boolean } = NO_DETAIL): Record<string, unknown> {
    const out: Record<string, unknown> = { healthy: this.healthy() };
    for (const [name, provider] of this.providers) {
      try {
        out[name] = provider(options);
      } catch (err) {
        out[name] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return out;
  }
}

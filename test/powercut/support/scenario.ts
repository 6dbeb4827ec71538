// The power-cut rig: a lazyfs mount, the daemon as a child process on it (data dir
// MNT/data), the workload's ledger, two offline persistent sessions, and the cut
// itself: kill -9 of every gateway process and lazyfs's cut() at (nearly) the same
// instant, then remount() and a new boot on what survived. Every check returns
// violations; the suites assert on them (the negative control asserts they appear).
//
// The order of kill and cut. A power cut stops the CPU and the card together: no
// instruction runs after it, and no byte that was not fsynced is kept. Neither order
// can make something durable that was not fsynced (lazyfs only persists on fsync), so
// both are faithful as far as the card goes; they differ in what the process can do
// in between:
//   - kill first, then cut (the default, ~2/3 of the cuts): the process stops first,
//     like the CPU; PUBACKs it wrote to its sockets before dying still reach the
//     clients (loopback), which is harsher than a real cut (those bytes would die in
//     the Pi's NIC), so every one of them must be backed by an fsync;
//   - cut first, then kill 0–15 ms later (~1/3): the disk dies a moment before the
//     CPU, so the daemon runs on a dead disk (ENOTCONN on every write and fsync): it
//     must not acknowledge anything whose commit failed.

import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../helpers/mosquitto.js';
import { type LazyFs, mountTempLazyFs } from '../../helpers/powerCut.js';
import { waitUntil } from '../../helpers/wait.js';
import { between, type CliChild, cliExit, GatewayProcess, type GatewaySpec, letRun, makeTempDir, startGatewayCli } from './gateway.js';
import {
  checkRetained,
  checkRevocations,
  checkSessions,
  durableLosses,
  Ledger,
  type Load,
  readDurableState,
  readSecret,
  SessionSubscriber,
} from './workload.js';

export const BOOT_BOUND_MS = 25_000;

export interface RigOptions {
  negativeControl?: boolean;
  capacityBytes?: number | null;
  seed: number;
}

export class Rig {
  readonly ledger = new Ledger();
  readonly subs = [new SessionSubscriber('sess-v4', 4), new SessionSubscriber('sess-v5', 5)];
  readonly violations: string[] = [];
  gw?: GatewayProcess;
  token = '';
  secretText = '';
  cuts = 0;
  readonly order = { killFirst: 0, cutFirst: 0 };
  readonly bootMs: number[] = [];
  /**
   * The persisted time floor on the card after each cut (clock_time_floor, ms). Read there,
   * not through /healthz: with the system clock right, the daemon keeps the persisted floor
   * only as a lower bound it does not need (GatewayClock.raiseFloor raises only above "now"),
   * so its effect shows only on a gateway whose clock is behind, which a test cannot make
   * of a child process here without libfaketime.
   */
  readonly floors: number[] = [];
  /** The spawn time of the latest boot that lived long enough to have persisted its floor. */
  private floorLowerBound = 0;
  /** Errors the daemons logged, for the report. */
  readonly daemonErrors: string[] = [];

  private constructor(
    readonly fs: LazyFs,
    readonly spec: GatewaySpec,
  ) {}

  static async create(opts: RigOptions): Promise<Rig> {
    const fs = await mountTempLazyFs({ negativeControl: opts.negativeControl ?? false, capacityBytes: opts.capacityBytes ?? null });
    const spec: GatewaySpec = {
      dataDir: join(fs.mnt, 'data'),
      port: await freePort(),
      httpPort: await freePort(),
      cloudPort: await freePort(), // nothing listens there until the final check: the queue fills
      noConfigDir: join(makeTempDir('edgegate-pc-conf-'), 'none'),
    };
    return new Rig(fs, spec);
  }

  get backingDataDir(): string {
    return join(this.fs.backing, 'data');
  }

  /**
   * The very first start: the daemon generates its secret; a token is minted with the
   * real CLI (`edgegate token mint`) before any cut; both sessions subscribe and leave.
   */
  async firstBoot(): Promise<void> {
    const v = await this.boot('first start');
    if (v.length) throw new Error(`first start failed: ${v.join('; ')}`);
    this.secretText = readSecret(this.spec.dataDir).text;
    const mint = startGatewayCli(this.spec, ['token', 'mint', '--sub', 'pc-sensor', '--ttl', '1d']);
    const r = await cliExit(mint);
    if (r.code !== 0) throw new Error(`token mint: exit ${r.code}: ${mint.out.stderr}`);
    this.token = mint.out.stdout.trim();
    for (const s of this.subs) {
      const { sessionPresent } = await s.connect(this.spec.port, this.token);
      if (sessionPresent) throw new Error(`${s.clientId}: a session present on a fresh data dir`);
      await s.subscribe();
      await s.disconnect();
    }
  }

  /** Spawns the daemon and waits for it; returns what made the boot unclean (none: clean). */
  async boot(tag: string): Promise<string[]> {
    const v: string[] = [];
    const gw = GatewayProcess.spawn(this.spec);
    this.gw = gw;
    let ms: number;
    try {
      ms = await gw.ready(BOOT_BOUND_MS);
    } catch (err) {
      v.push(`${tag}: the daemon did not start within ${BOOT_BOUND_MS} ms: ${(err as Error).message.slice(0, 3000)}`);
      this.violations.push(...v);
      return v;
    }
    this.bootMs.push(ms);
    v.push(...gw.bootProblems().map((p) => `${tag}: ${p}`));
    const h = await gw.healthz();
    const storage = h.body.storage ?? {};
    if (storage.persistent !== true) v.push(`${tag}: /healthz storage.persistent = ${storage.persistent} (in-memory fallback)`);
    if (storage.writable !== true) v.push(`${tag}: /healthz storage.writable = ${storage.writable} (${storage.error})`);
    if (h.body.auth?.persistent !== true) v.push(`${tag}: /healthz auth.persistent = ${h.body.auth?.persistent}`);
    if (this.secretText) {
      try {
        const now = readSecret(this.spec.dataDir).text;
        if (now !== this.secretText) v.push(`${tag}: the generated secret CHANGED (jwt-secret holds a different secret)`);
      } catch (err) {
        v.push(`${tag}: the generated secret is unreadable: ${(err as Error).message}`);
      }
    }
    this.violations.push(...v);
    return v;
  }

  /** The checks through the daemon after a boot (the cloud still down unless said). */
  async checkAll(tag: string, opts: { queueCount: boolean }): Promise<string[]> {
    const v: string[] = [];
    const { port } = this.spec;
    if (opts.queueCount) {
      const h = await this.gw!.healthz();
      const queued = Number(h.body.bridge?.queue?.messages);
      if (!(queued >= this.ledger.bridgedAcked.size))
        v.push(`${tag}: bridge queue holds ${queued} messages, fewer than the ${this.ledger.bridgedAcked.size} acknowledged`);
    }
    v.push(...(await checkRevocations(port, this.token, this.ledger, tag)));
    v.push(...(await checkRetained(port, this.token, this.ledger, tag)));
    v.push(...(await checkSessions(port, this.token, this.ledger, this.subs, tag)));
    this.violations.push(...v);
    return v;
  }

  /**
   * The power cut: kill -9 of the daemon (and of `others`, e.g. a CLI command in
   * progress) and lazyfs's cut, in an order drawn from `r` (see the top of this file);
   * then the card is read (isolating any loss to this cut) and the next boot mounts it.
   */
  async powerCut(
    tag: string,
    r: () => number,
    opts: { load?: Load; others?: ChildProcess[]; bridged?: boolean; afterKill?: () => void } = {},
  ): Promise<string[]> {
    const gw = this.gw;
    const killAll = (): void => {
      gw?.kill9();
      for (const o of opts.others ?? []) if (o.exitCode === null && o.signalCode === null && o.pid !== undefined) process.kill(o.pid, 'SIGKILL');
    };
    let cut: Promise<void>;
    const cutAt = Date.now();
    if (r() < 0.65) {
      this.order.killFirst++;
      killAll();
      cut = this.fs.cut();
    } else {
      this.order.cutFirst++;
      cut = this.fs.cut();
      await letRun(between(r, 0, 15));
      killAll();
    }
    await cut;
    this.cuts++;
    // The killed commands' last output (an exit 0, a "revoked" line) read before judging it.
    await Promise.all((opts.others ?? []).map((o) => cliExit(o as CliChild, 10_000).catch(() => undefined)));
    const drained = (o: ChildProcess): boolean => (o.stdout?.closed ?? true) && (o.stderr?.closed ?? true);
    await waitUntil(() => (opts.others ?? []).every(drained), { what: "the killed commands' output" }).catch(() => undefined);
    opts.afterKill?.();
    if (gw) {
      await gw.exited();
      this.daemonErrors.push(...gw.errors());
    }
    await opts.load?.abandon();
    for (const s of this.subs) if (s.client) await s.disconnect().catch(() => undefined);
    this.gw = undefined;
    const st = readDurableState(this.backingDataDir);
    const v = durableLosses(st, this.ledger, this.subs, tag, { bridged: opts.bridged ?? true });
    // The floor it persisted at start (clock.now() >= its spawn time, before it served) is on the card.
    if (gw?.readyAt !== undefined && cutAt - gw.readyAt > 1500) this.floorLowerBound = Math.max(this.floorLowerBound, gw.spawnedAt);
    if (st.exists && !st.error) {
      const prev = this.floors.at(-1);
      if (st.floorMs === undefined) {
        if (this.floorLowerBound > 0) v.push(`${tag}: durable time floor MISSING (a boot persisted one)`);
      } else {
        if (prev !== undefined && st.floorMs < prev)
          v.push(`${tag}: durable time floor went BACKWARDS: ${new Date(st.floorMs).toISOString()} < ${new Date(prev).toISOString()}`);
        if (st.floorMs < this.floorLowerBound)
          v.push(
            `${tag}: durable time floor ${new Date(st.floorMs).toISOString()} is below what ` +
              `an earlier boot persisted (>= ${new Date(this.floorLowerBound).toISOString()})`,
          );
        this.floors.push(st.floorMs);
      }
    }
    this.violations.push(...v);
    await this.fs.remount();
    return v;
  }

  /** `edgegate token revoke --jti` in progress (the CLI's exit 0 is the acknowledgement). */
  startRevoke(jti: string, token: string, cycle: number): { cli: CliChild; settle(): void } {
    const cli = startGatewayCli(this.spec, ['token', 'revoke', '--jti', jti, '--reason', `cycle ${cycle}`]);
    const rev = { jti, token, cycle, acked: false, exit: undefined as string | undefined };
    this.ledger.revocations.push(rev);
    return {
      cli,
      // Called right after the cut: an exit 0 (or its "revoked" line) seen before it acknowledged the revocation.
      settle: () => {
        rev.acked = cli.exitCode === 0 || /^revoked: /m.test(cli.out.stdout);
        rev.exit =
          cli.exitCode !== null
            ? `exit ${cli.exitCode}${cli.exitCode !== 0 ? `: ${cli.out.stderr.trim().slice(0, 200)}` : ''}`
            : cli.signalCode
              ? `killed by the cut (${cli.signalCode})`
              : 'running';
      },
    };
  }
}

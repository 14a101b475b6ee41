import { messageOf, monotonicMs, type Ban } from '../core/index.js';
import type { Backend } from '../backends/index.js';
import { isDamaged, type BanStore } from '../store/index.js';
import { CronTimer } from './cron-timer.js';
import { defaultJailRules, rulesFor, type JailRules } from './entries.js';
import { reconcile, type BackendReport } from './reconcile.js';

/** setTimeout's longest delay; a later expiry is simply re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LoopOptions {
  readonly store: BanStore;
  readonly backends: readonly Backend[];
  /** node-cron expression (six fields: seconds first) for the drift check. */
  readonly schedule: string;
  /** Seconds between full read-back checks (monotonic); ticks in between only make sure each backend's objects exist. */
  readonly fullCheck: number;
  readonly rules?: JailRules;
  /** Jails whose objects must exist even before they hold a ban (the configured ones; asked each time, as a reload may change them). */
  readonly jails?: () => readonly string[];
  /** The active bans to enforce; the store's by default (the daemon adds bans held until the store can take them). */
  readonly active?: (now: number) => Iterable<Ban>;
  readonly clock: () => number;
  readonly log: (line: string) => void;
}

/** The outcome of the latest full reconcile, for status. */
export interface LastReconcile {
  readonly at: number;
  readonly reason: string;
  readonly reports: readonly BackendReport[];
}

/**
 * Keeps the backends equal to the store while the daemon runs: a full reconcile at start, on the
 * cron schedule (repairing flushes and reloads behind our back), and when the next ban expires.
 * Runs never overlap: a request during a run queues one more run after it.
 */
export class ReconcileLoop {
  private timer: CronTimer | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Wall time (epoch seconds) of the expiry the timer waits for: a tick runs it if a clock step made it due early. */
  private expiryAt: number | undefined;
  private running: Promise<BackendReport[]> | undefined;
  private again = false;
  private seenVersion = -1;
  /** monotonicMs() of the latest full reconcile. */
  private lastFull = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private latest: LastReconcile | undefined;

  constructor(private readonly options: LoopOptions) {}

  /** The latest full reconcile, if one ran. */
  last(): LastReconcile | undefined {
    return this.latest;
  }

  /** Reconciles once, then keeps doing so on schedule and at expiries. */
  async start(): Promise<BackendReport[]> {
    const first = await this.run('start');
    if (this.stopped) return first;
    this.timer = new CronTimer(this.options.schedule, () => this.tick().catch((error: unknown) => this.problem('drift check', error)));
    this.timer.start();
    return first;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.stop();
    clearTimeout(this.expiryTimer);
  }

  /** A full reconcile now (or right after the one under way). */
  run(reason: string): Promise<BackendReport[]> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.once(reason).finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.run('queued');
      }
    });
    return this.running;
  }

  /** A damaged database is told once, by the store's own listener (see BanStore.onDamage), not on every run. */
  private problem(what: string, error: unknown): void {
    if (!isDamaged(error)) this.options.log(`${what} failed: ${messageOf(error)}`);
  }

  private async tick(): Promise<void> {
    // Another process wrote bans: it applied them to the backends it runs, but not to the ones
    // only the daemon has (action.d commands), and the next expiry may have moved.
    const version = this.options.store.dataVersion();
    if (version !== this.seenVersion) {
      this.seenVersion = version;
      await this.run('the database changed');
      return;
    }
    if (monotonicMs() - this.lastFull >= this.options.fullCheck * 1000) {
      await this.run('schedule');
      return;
    }
    if (this.expiryAt !== undefined && this.options.clock() >= this.expiryAt) {
      await this.run('expiry');
      return;
    }
    if (this.running) return;
    // The cheap check: a flush, reload or deleted table shows as missing objects, which ensure()
    // re-creates. Only then is a full read-back worth its cost before the next full check.
    const { store, backends, clock, log } = this.options;
    const now = clock();
    const rules = rulesFor(store.activeJails(now).map((jail) => ({ jail })), this.options.rules ?? defaultJailRules, this.options.jails?.());
    const repaired: string[] = [];
    await Promise.all(backends.map(async (backend) => {
      try {
        if ((await backend.ensure(rules, now)).length > 0) repaired.push(backend.name);
      } catch (error) {
        log(`drift check ${backend.name}: ${messageOf(error)}`);
        repaired.push(backend.name);
      }
    }));
    if (repaired.length > 0) await this.run(`${repaired.join(', ')} objects were missing`);
  }

  private async once(reason: string): Promise<BackendReport[]> {
    const { store, backends, clock, log, rules } = this.options;
    const now = clock();
    this.lastFull = monotonicMs();
    let reports: BackendReport[];
    try {
      // What this reconcile reads includes every commit up to here: later ones show as a new version.
      this.seenVersion = store.dataVersion();
      // reconcile() reads every active ban before it changes any backend: a store that fails to
      // read leaves the firewall as it is, never emptied of the bans it could not read.
      reports = await reconcile(this.options.active?.(now) ?? store.activeAnyOrder(now), backends, now, { ...(rules ? { rules } : {}), ...(this.options.jails ? { jails: this.options.jails() } : {}) });
    } catch (error) {
      this.problem(`reconcile (${reason})`, error);
      return [];
    }
    this.latest = { at: now, reason, reports };
    for (const r of reports) {
      if (r.error !== null) log(`reconcile (${reason}) ${r.name}: ${r.error}`);
      else if (r.added || r.removed || r.failed.length) {
        log(`reconcile (${reason}) ${r.name}: added ${r.added}, removed ${r.removed}, unchanged ${r.unchanged}${r.failed.length ? `, ${r.failed.length} failed` : ''}`);
      }
    }
    try {
      this.armExpiry();
    } catch (error) {
      this.problem('timing the next expiry', error);
    }
    return reports;
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryAt = undefined;
    if (this.stopped) return;
    const now = this.options.clock();
    const next = this.options.store.nextExpiry(now);
    if (next === null) return;
    this.expiryAt = next;
    const delay = Math.min(MAX_TIMER_MS, (next - now) * 1000 + 50);
    this.expiryTimer = setTimeout(() => void this.run('expiry'), delay);
  }
}

import { isoTime, messageOf, monotonicMs, type Ban, type Log, type RunKind } from '../core/index.js';
import type { Backend, EntryKey } from '../backends/index.js';
import { isDamaged } from '../store/index.js';
import { changeStates, DAEMON, describeChanges, readChanges } from './change-feed.js';
import { CronTimer } from './cron-timer.js';
import { checkStructure, DriftCheck, readBackWait, type Stale } from './drift.js';
import { defaultJailRules, entryOf, rulesFor, type JailRules } from './entries.js';
import { EntryTally, type BackendJailCount } from './entry-tally.js';
import { enforceable, type BanFloor, type RefusedBan } from './floor.js';
import { applyChange, reconcile, type BackendReport } from './reconcile.js';
import { knownBans } from './removal-guard.js';
import type { ReconcileStore } from './store-slice.js';

/** A full reconcile taking longer than this spaces out the runs for expiries (see armExpiry). */
const EXPIRY_SPACED_FROM_MS = 1000;

/** setTimeout's longest delay; a later expiry is simply re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const NAMED_RUNS: readonly string[] = ['start', 'schedule', 'expiry', 'reload'] satisfies readonly RunKind[];

/** Told of every run of the loop, for metrics. */
export interface LoopObserver {
  /** A run ended: what it was for, how long it took (seconds), and each backend's report. */
  ran(kind: RunKind, seconds: number, reports: readonly BackendReport[]): void;
}

export interface LoopOptions {
  readonly store: ReconcileStore;
  readonly backends: readonly Backend[];
  /** node-cron expression (six fields: seconds first) for the drift check. */
  readonly schedule: string;
  /** Seconds between full read-back checks (monotonic); ticks in between check each backend's objects and entry counts (see DriftCheck). */
  readonly fullCheck: number;
  readonly rules?: JailRules;
  /** Jails whose objects must exist even before they hold a ban (the configured ones; asked each time, as a reload may change them). */
  readonly jails?: () => readonly string[];
  /** The active bans to enforce; the store's by default (the daemon adds bans held until the store can take them). */
  readonly active?: (now: number) => Iterable<Ban>;
  /** The lockout floor as it stands now (this host's addresses change): the bans it refuses reach no backend. */
  readonly floor: () => BanFloor;
  /** Told after changes of other processes were taken in (a ban of theirs may complete a count, see daemon/bans-jails). */
  readonly tookIn?: () => void;
  readonly clock: () => number;
  readonly log: Log;
  readonly observer?: LoopObserver;
}

/** The outcome of the latest full reconcile, for status. */
export interface LastReconcile {
  readonly at: number;
  readonly reason: string;
  readonly reports: readonly BackendReport[];
  /** Active bans the lockout floor kept out of every backend. */
  readonly refused: number;
}

/**
 * Keeps the backends equal to the store while the daemon runs: a full reconcile at start, on the
 * cron schedule (repairing flushes and reloads behind our back), and when the next ban expires;
 * in between, a backend the cheap check finds drifted or failing is reconciled alone. Runs never
 * overlap: a request during a run queues one more full run after it.
 */
export class ReconcileLoop {
  private timer: CronTimer | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Wall time (epoch seconds) of the expiry the timer waits for: a tick runs it if a clock step made it due early. */
  private expiryAt: number | undefined;
  /** The clock (epoch seconds) the latest full reconcile of every backend computed the firewall at. */
  private fullAt: number | undefined;
  private running: Promise<BackendReport[]> | undefined;
  private again = false;
  /** takeInChanges was asked while a run was under way: it runs right after. */
  private followAfter = false;
  private seenVersion = -1;
  /** The latest change (of the store's change log) the backends are known to hold. */
  private cursor = 0;
  /** monotonicMs() of the latest full reconcile. */
  private lastFull = Number.NEGATIVE_INFINITY;
  /** How long the latest full reconcile of every backend took, ms: expiries wait for at least 9 times that (see armExpiry). */
  private lastRunMs = 0;
  /** monotonicMs() from which a full reconcile reads every backend back in full again (see readBackWait). */
  private readBackAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private latest: LastReconcile | undefined;
  private readonly drift: DriftCheck;
  /** The refused bans already logged (see tellRefused), and each backend's kept entries already logged. */
  private toldRefused = new Set<string>();
  private readonly toldKept = new Map<string, number>();
  private readonly entries = new EntryTally();
  /** Wall time up to which the bans that expired were logged (see tellExpired). */
  private expiredTold: number | undefined;
  /** Orders a full reconcile's read of the active bans among the commits of the daemon's changes (see mark). */
  private marks = 0;

  constructor(private readonly options: LoopOptions) {
    this.drift = new DriftCheck(monotonicMs, (removed) => this.stillHeld(removed), (note) => this.options.log(`drift check: ${note}`, 'debug'));
  }

  /**
   * A mark taken right after the daemon commits a change, passed with it to applied(): the drift
   * check then knows whether a full reconcile under way read the active bans before the change or after.
   */
  mark(): number {
    return ++this.marks;
  }

  /** Whether any of these entries a firewall lost is an active ban's: what the daemon lifted or let expire is not. */
  private stillHeld(removed: readonly EntryKey[]): boolean {
    let touching: ReadonlyMap<string, readonly Ban[]>;
    try {
      touching = this.options.store.activeTouchingAll([...new Set(removed.map((entry) => entry.address))], this.options.clock());
    } catch {
      // A store that cannot tell leaves the count to decide.
      return true;
    }
    return removed.some((entry) => touching.get(entry.address)?.some((ban) => ban.address === entry.address && ban.jail === entry.jail) === true);
  }

  /** The latest full reconcile, if one ran. */
  last(): LastReconcile | undefined {
    return this.latest;
  }

  /** The entries each backend holds per jail, as the loop and the changes applied since brought it there. */
  entryCounts(): BackendJailCount[] {
    return this.entries.all();
  }

  /** Reconciles once, then keeps doing so on schedule and at expiries. */
  async start(): Promise<BackendReport[]> {
    // A firewall that lost its objects is read back in full anyway; an intact one is probed at
    // start, and read back in full at the first scheduled check.
    this.readBackAt = monotonicMs() + this.options.fullCheck * 1000;
    this.expiredTold = this.options.clock();
    const first = await this.run('start');
    if (this.stopped) return first;
    this.timer = new CronTimer(this.options.schedule, () => this.tick().catch((error: unknown) => this.problem('drift check', error)));
    this.timer.start();
    return first;
  }

  stop(): void {
    this.stopped = true;
    this.timer?.stop();
    this.drift.close();
    clearTimeout(this.expiryTimer);
  }

  /**
   * Another process just wrote changes (a fleet's puller): they are taken in now, as a tick would,
   * instead of at the next tick; while a run is under way, right after it (that run may have read
   * the bans before they were written).
   */
  takeInChanges(): void {
    if (this.stopped) return;
    if (this.running) {
      this.followAfter = true;
      return;
    }
    let version: number;
    try {
      version = this.options.store.dataVersion();
    } catch (error) {
      this.problem('taking in changes from another process', error);
      return;
    }
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    void this.exclusive(() => this.follow());
  }

  /** A full reconcile of every backend, or only of `only`, now (or of every backend right after the one under way). */
  run(reason: string, only?: readonly Backend[]): Promise<BackendReport[]> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    return this.exclusive(() => this.once(reason, only, only ? 'drift' : NAMED_RUNS.includes(reason) ? reason as RunKind : 'other'));
  }

  /** Runs `task` as the one run under way; a run asked for meanwhile follows it. */
  private exclusive(task: () => Promise<BackendReport[]>): Promise<BackendReport[]> {
    this.running = task().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.run('queued');
      } else if (this.followAfter) {
        this.followAfter = false;
        this.takeInChanges();
      }
    });
    return this.running;
  }

  /** A damaged database is told once, by the store's own listener (see BanStore.onDamage), not on every run. */
  private problem(what: string, error: unknown): void {
    if (!isDamaged(error)) this.options.log(`${what} failed: ${messageOf(error)}`, 'error');
  }

  private async tick(): Promise<void> {
    // Another process wrote bans: it applied them to the backends it runs, but not to the ones
    // only the daemon has (action.d commands), and the next expiry may have moved. Left for the
    // next tick while a run is under way, which may take them in itself.
    const version = this.options.store.dataVersion();
    if (version !== this.seenVersion && !this.running) {
      this.seenVersion = version;
      await this.exclusive(() => this.follow());
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
    if (this.running) {
      this.options.log('drift check: left for the next tick, a reconcile is under way', 'debug');
      return;
    }
    const stale = await this.stale();
    // Another process changed bans (and its own firewall entries) while the counts were taken:
    // they may differ by its change alone, which the next tick takes in as a change.
    if (stale.length === 0 || this.options.store.dataVersion() !== version) return;
    const reason = stale.map((s) => `${s.backend.name}: ${s.why}`).join('; ');
    this.options.log(`drift check: ${reason}`, 'notice');
    await this.run(reason, stale.map((s) => s.backend));
  }

  /**
   * The cheap check between full read-backs, and the backends it finds worth one: a flush, reload
   * or deleted table shows as missing objects (checkStructure); an emptied set or an
   * entry deleted behind our back as counts that differ from what the store implies; and a
   * backend whose last apply failed is retried (see DriftCheck).
   */
  private async stale(): Promise<Stale[]> {
    const { store, backends, clock, log } = this.options;
    const now = clock();
    const rules = rulesFor(store.activeJails(now).map((jail) => ({ jail })), this.options.rules ?? defaultJailRules, this.options.jails?.());
    return this.drift.due(backends, async (backend) => {
      try {
        return await checkStructure(backend, rules, now, log);
      } catch (error) {
        log(`drift check ${backend.name}: ${messageOf(error)}`, 'error');
        return 'its objects could not be checked';
      }
    });
  }

  /**
   * The daemon applied a change right away (`before` and `after`: the active bans it touched),
   * with these reports: the drift check counts with it, and retries what failed at the next tick.
   */
  applied(before: readonly Ban[], after: readonly Ban[], reports: readonly BackendReport[], committed?: number): void {
    const floor = this.options.floor();
    const was = enforceable(before, floor).map(entryOf);
    const will = enforceable(after, floor).map(entryOf);
    for (const report of reports) {
      const backend = this.options.backends.find((b) => b.name === report.name);
      if (!backend) continue;
      const [backendWas, backendWill] = [backend.represent(was), backend.represent(will)];
      this.drift.changed(backend, backendWas, backendWill, report, committed);
      if (report.error === null && report.failed.length === 0) this.entries.changed(backend.name, backendWas, backendWill);
      else this.entries.reconciled(backend.name, undefined);
    }
  }

  /**
   * Applies the changes other processes made since the cursor as changes (see changeStates), as
   * the daemon applies its own: no backend is read back. A full reconcile takes them in when
   * that is the only way (see readChanges).
   */
  private async follow(): Promise<BackendReport[]> {
    try {
      return await this.followChanges();
    } finally {
      this.options.tookIn?.();
    }
  }

  private async followChanges(): Promise<BackendReport[]> {
    const { store, clock, log, rules, backends } = this.options;
    const now = clock();
    const started = monotonicMs();
    let reports: BackendReport[];
    try {
      const feed = readChanges(store, this.cursor);
      if (feed.full) return await this.once(`the database changed: ${feed.why}`, undefined, 'change');
      // Written without a change of f2b-store's (sqlite3 by hand, a planted row, purge): only a
      // full reconcile can tell what that means for the firewall.
      if (feed.changes.length === 0) return await this.once('the database changed outside the change log', undefined, 'change');
      if (feed.changes.length > 0) {
        const { before, after } = changeStates(feed.changes, (address) => store.activeTouching(address, now));
        reports = await applyChange(before, after, backends, now, {
          ...(rules ? { rules } : {}), floor: this.options.floor(), known: () => knownBans(store, now),
        }, () => this.options.active?.(now) ?? store.activeAnyOrder(now));
        this.applied(before, after, reports);
        for (const change of feed.changes) {
          if (change.kind === 'lift') log(`[${change.jail}] Unban ${change.address}`, 'notice');
        }
        log(`took in ${feed.changes.length} change${feed.changes.length === 1 ? '' : 's'} made by another process (up to #${feed.upTo}): `
          + `${describeChanges(feed.changes)}; applied to ${backends.map((b) => b.name).join(', ') || 'no backend'} without a full reconcile`);
        this.tellReports('changes from another process', reports);
        this.options.observer?.ran('change', (monotonicMs() - started) / 1000, reports);
        this.armExpiry();
      } else {
        reports = [];
      }
      this.advance(feed.upTo, now);
    } catch (error) {
      this.problem('taking in changes from another process', error);
      return [];
    }
    return reports;
  }

  /** The backends hold every change up to `upTo`: the cursor moves there, and the store may prune what every reader took in. */
  private advance(upTo: number, now: number): void {
    if (upTo === this.cursor) return;
    this.cursor = upTo;
    try {
      this.options.store.advanceChangeReader(DAEMON, upTo, now);
    } catch (error) {
      // Only pruning waits for it: the cursor in memory is what the daemon follows.
      this.problem('saving where the daemon stands in the change log', error);
    }
  }

  private async once(reason: string, only: readonly Backend[] | undefined, kind: RunKind): Promise<BackendReport[]> {
    const { store, clock, rules } = this.options;
    const now = clock();
    const began = monotonicMs();
    const backends = only ?? this.options.backends;
    let reports: BackendReport[];
    let upTo: number | undefined;
    const refused: RefusedBan<Ban>[] = [];
    try {
      if (!only) {
        this.lastFull = monotonicMs();
        // What this reconcile reads includes every commit up to here: later ones show as a new
        // version, and as changes after the cursor.
        this.seenVersion = store.dataVersion();
        upTo = store.latestChange();
      }
      // A drift found is repaired by a full read-back; a scheduled check reads back in full as
      // often as its cost allows, and probes large backends in between.
      const started = monotonicMs();
      const thorough = only !== undefined || started >= this.readBackAt;
      // reconcile() reads every active ban before it changes any backend (a restore it streams
      // into an empty one is aborted): a store that fails to read leaves the firewall as it is,
      // never emptied of the bans it could not read. The daemon's changes go on meanwhile.
      this.drift.reconciling(backends, this.mark());
      reports = await reconcile(this.options.active?.(now) ?? store.activeAnyOrder(now), backends, now, {
        ...(rules ? { rules } : {}), ...(this.options.jails ? { jails: this.options.jails() } : {}), thorough,
        floor: this.options.floor(),
        refused: (refusal) => refused.push(refusal),
        known: () => knownBans(store, now),
        observe: (backend, report, held) => {
          this.drift.reconciled(backend, report, held);
          this.entries.reconciled(backend.name, report.error === null && report.failed.length === 0 ? held : undefined);
        },
      });
      if (!only) {
        this.lastRunMs = monotonicMs() - started;
        this.fullAt = now;
      }
      if (thorough && !only) this.readBackAt = started + Math.max(this.options.fullCheck * 1000, readBackWait(this.lastRunMs));
    } catch (error) {
      this.problem(`reconcile (${reason})`, error);
      return [];
    }
    this.tellRefused(refused);
    if (!only) this.tellExpired(now);
    if (upTo !== undefined) this.advance(upTo, now);
    const others = only ? (this.latest?.reports ?? []).filter((r) => !reports.some((mine) => mine.name === r.name)) : [];
    this.latest = { at: now, reason, reports: [...others, ...reports], refused: refused.length };
    this.tellReports(`reconcile (${reason})`, reports);
    this.options.observer?.ran(kind, (monotonicMs() - began) / 1000, reports);
    for (const r of reports) this.tellKept(r);
    try {
      this.armExpiry();
    } catch (error) {
      this.problem('timing the next expiry', error);
    }
    return reports;
  }

  /** What the backends had to tell, and what they changed or failed to. */
  private tellReports(what: string, reports: readonly BackendReport[]): void {
    const { log } = this.options;
    for (const r of reports) {
      for (const note of r.notes ?? []) log(note);
      for (const { error } of r.skipped ?? []) log(`${what} ${r.name}: ${error}`, 'warning');
      if (r.error !== null) log(`${what} ${r.name}: ${r.error}`, 'error');
      else if (r.added || r.removed || r.failed.length) {
        log(`${what} ${r.name}: added ${r.added}, removed ${r.removed}, unchanged ${r.unchanged}${r.failed.length ? `, ${r.failed.length} failed` : ''}`);
      }
    }
  }

  /** An Unban line, as fail2ban writes one, for each ban that expired since the last full reconcile (which took it out of the backends). */
  private tellExpired(now: number): void {
    const after = this.expiredTold ?? now;
    if (now <= after) return;
    try {
      for (const ban of this.options.store.expiredBetween(after, now)) this.options.log(`[${ban.jail}] Unban ${ban.address}`, 'notice');
      this.expiredTold = now;
    } catch (error) {
      this.problem('reading the bans that expired', error);
    }
  }

  /** Each refused ban is logged once, the first time a reconcile meets it. */
  private tellRefused(refused: readonly RefusedBan<Ban>[]): void {
    const told = new Set<string>();
    for (const { ban, why } of refused) {
      const key = `${ban.jail}\u0000${ban.address}\u0000${ban.bannedAt}`;
      told.add(key);
      if (this.toldRefused.has(key)) continue;
      // Quoted: a row written by anything but f2b-store may hold any text, line ends included.
      this.options.log(`reconcile: the ban of ${JSON.stringify(ban.address)} in jail ${JSON.stringify(ban.jail)} (${ban.source}, ${isoTime(ban.bannedAt)}) reaches no firewall: `
        + `${why} (the lockout floor, [lockout] in f2b-store.conf); lift it with f2b-store unban, or ban it with --force if it is meant`, 'warning');
    }
    this.toldRefused = told;
  }

  /** Entries a backend keeps because the database cannot account for them: said once, and again when their number changes. */
  private tellKept(report: BackendReport): void {
    if (report.error !== null || report.kept === (this.toldKept.get(report.name) ?? 0)) return;
    this.toldKept.set(report.name, report.kept);
    if (report.kept === 0) return;
    this.options.log(`reconcile: ${report.name} holds ${report.kept} entries that no ban in the database wants, and the database has held fewer `
      + `bans than that (new, empty, or not the one meant: check --db): kept them; new bans are applied as usual. `
      + `To remove them: f2b-store reconcile --yes; to keep them as bans: f2b-store import list FILE`, 'warning');
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryAt = undefined;
    if (this.stopped) return;
    const now = this.options.clock();
    // From the time the latest full reconcile computed the firewall at, not now: a ban expiring
    // after that run but at or before now is still in the firewall and must not be skipped.
    const next = this.options.store.nextExpiry(Math.min(this.fullAt ?? now, now));
    if (next === null) return;
    // With a million bans one expires every second, and a run costs seconds: runs for expiries
    // then take at most a tenth of the time (a firewall's own timeouts remove them on time).
    const spacing = this.lastRunMs > EXPIRY_SPACED_FROM_MS ? this.lastRunMs * 9 : 0;
    this.expiryAt = Math.max(next, now + Math.ceil(spacing / 1000));
    const delay = Math.min(MAX_TIMER_MS, Math.max(Math.max(0, next - now) * 1000 + 50, spacing));
    this.expiryTimer = setTimeout(() => void this.run('expiry'), delay);
  }
}

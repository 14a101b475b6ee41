import { messageOf, monotonicMs } from '../core/index.js';
import type { Backend, Census, Entry, EntryKey, JailRule } from '../backends/index.js';
import type { BackendReport } from './reconcile.js';

/**
 * The share of wall time one backend's census may take: one of 1 s runs at most every 100 s. A
 * census runs at every tick, whatever the schedule, while it fits this share at the default 10 s
 * schedule (up to 100 ms; its cost is the least of its last few runs, so a moment of load does not
 * count), or while the backend holds at most 10,000 entries.
 */
const CENSUS_SHARE = 0.01;
const CENSUS_EVERY_TICK_MS = 100;
const CENSUS_EVERY_TICK_ENTRIES = 10_000;
const CENSUS_SAMPLES = 3;
/**
 * How long to wait after a census that cost `cost` ms on a backend holding `entries` entries
 * before the next one, in ms: 0 means at the next tick.
 */
export function censusWait(cost: number, entries: number): number {
  return entries <= CENSUS_EVERY_TICK_ENTRIES || cost <= CENSUS_EVERY_TICK_MS ? 0 : cost / CENSUS_SHARE;
}

/**
 * How long to wait after a full read-back that cost `cost` ms before the next, in ms: the same
 * share of wall time a census may take. Between them, a full check of a large backend probes it
 * (see ReconcileOptions.thorough).
 */
export function readBackWait(cost: number): number {
  return cost / CENSUS_SHARE;
}

const total = (counts: ReadonlyMap<string, number>): number => [...counts.values()].reduce((sum, n) => sum + n, 0);

/** Named removals kept for the next tick at most; past it, a count is due whatever they were. */
const MAX_PENDING = 10_000;

/** A backend that keeps failing is retried at the next tick, then 2, 4, 8 … ticks apart, at most this many. */
const MAX_RETRY_WAIT = 64;

/**
 * The drift tick's structural check of one backend: ensure(), which re-creates what is missing and
 * tells its notes to `log`, run only when the census's cheaper check (Census.intact) finds
 * something, where it has one. Why the backend is due for a full reconcile, or undefined: what
 * the cheaper check finds that ensure() would not change (a jail whose bans the floor refuses all)
 * is no drift, so it cannot make every tick a full reconcile.
 */
export async function checkStructure(backend: Backend, jails: readonly JailRule[], now: number, log: (note: string) => void): Promise<string | undefined> {
  const intact = backend.census?.intact;
  const why = intact ? await intact.call(backend.census, jails) : 'objects were missing';
  if (why === undefined) return undefined;
  const ensured = await backend.ensure(jails, now);
  for (const note of ensured.notes) log(note);
  return ensured.ran.length > 0 ? why : undefined;
}

/** A backend the drift check wants reconciled in full, and why. */
export interface Stale {
  readonly backend: Backend;
  readonly why: string;
}

/** How many of these entries (a backend's represent() output) each object of the backend holds. */
export function tally(census: Census, entries: readonly Entry[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const object = census.objectOf(entry);
    counts.set(object, (counts.get(object) ?? 0) + 1);
  }
  return counts;
}

/** The first object whose count differs, as a reason; objects missing on one side count 0. */
function difference(actual: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>): string | undefined {
  for (const object of new Set([...expected.keys(), ...actual.keys()])) {
    const has = actual.get(object) ?? 0;
    const want = expected.get(object) ?? 0;
    if (has !== want) return `${object} holds ${has} entries, ${want} expected`;
  }
  return undefined;
}

interface BackendState {
  /** Entries per object after the last full reconcile and the changes applied since; undefined until one succeeds. */
  expected: Map<string, number> | undefined;
  /** The census that found a difference, kept for the reconcile it causes. */
  seen: ReadonlyMap<string, number> | undefined;
  /** Failed reconciles and applies in a row. */
  failures: number;
  /** Ticks to let pass before the next retry. */
  wait: number;
  /** No census before this time (ms, monotonic). */
  censusAt: number;
  /** How long its last censuses took, ms. */
  took: number[];
  /** Stops following its event stream; set while following (see Census.watch). */
  unwatch: (() => void) | undefined;
  /** The event stream told of a removal since the last census that may be a drift. */
  removed: boolean;
  /** Removals the event stream named since the last tick, to be told from the daemon's own (see DriftCheck's stillHeld). */
  pending: EntryKey[];
  /** While a full reconcile runs (see reconciling). */
  inFlight: InFlight | undefined;
}

/** A full reconcile under way, as the changes applied meanwhile see it. */
interface InFlight {
  /** The mark of its read of the active bans. */
  readonly mark: number;
  /** What the changes committed after that read changed, per object. */
  readonly late: Map<string, number>;
  /** A change committed after that read failed to apply. */
  lateFailed: boolean;
}

/** Adds `sign` times the tally of `entries` to `counts`. */
function add(counts: Map<string, number>, census: Census, entries: readonly Entry[], sign: 1 | -1): void {
  for (const [object, n] of tally(census, entries)) counts.set(object, (counts.get(object) ?? 0) + sign * n);
}

/**
 * What the daemon's drift check knows between full read-backs: per backend, how many entries each
 * of its objects should hold (from the last full reconcile and the changes applied since), and
 * whether its last apply failed. A backend whose counts differ (a set flushed, an entry deleted
 * behind our back) or whose apply failed is due for a full reconcile; one that keeps failing is
 * retried less and less often, so a lasting failure does not cost a full reconcile every tick.
 */
export class DriftCheck {
  private readonly states = new Map<string, BackendState>();

  /**
   * `clock`: monotonic milliseconds, to space out each backend's census by its cost. `stillHeld`:
   * whether any of these removed entries is still an active ban's; a removal the event stream
   * names that is not (the daemon's own lifts and expiries) costs no count. `note`: what each tick
   * found, for the debug log (a drift that goes unrepaired is explained by nothing else).
   */
  constructor(
    private readonly clock: () => number = monotonicMs,
    private readonly stillHeld?: (removed: readonly EntryKey[]) => boolean,
    private readonly note?: (text: string) => void,
  ) {}

  /**
   * A full reconcile of these backends is about to read the active bans; `mark` orders that read
   * among the commits of changes (see changed). A change committed after it is not in what the
   * reconcile brings the backend to, though it may be applied before the reconcile ends: its
   * counts are added to the reconcile's, and its failure outlives the reconcile's success.
   */
  reconciling(backends: readonly Backend[], mark: number): void {
    for (const backend of backends) this.state(backend.name).inFlight = { mark, late: new Map(), lateFailed: false };
  }

  /** After a full reconcile of `backend`; `held` is what it was brought to (its represent() of the active bans). */
  reconciled(backend: Backend, report: BackendReport, held?: readonly Entry[]): void {
    const state = this.state(backend.name);
    const { inFlight } = state;
    state.inFlight = undefined;
    if (report.error !== null || report.failed.length > 0 || held === undefined) {
      this.failed(state);
      return;
    }
    // That change's failure stands (changed() counted it): its retry is due at the next tick.
    if (inFlight?.lateFailed) return;
    state.failures = 0;
    state.wait = 0;
    this.watch(backend, state);
    if (backend.census) {
      // A reconcile that changed nothing cannot bring the counts to what the store implies (the
      // firewall counts an entry list() does not show, e.g. an ipset `nomatch`): take them as they are.
      const unfixable = state.seen !== undefined && report.added === 0 && report.removed === 0;
      if (unfixable && state.seen) state.expected = new Map(state.seen);
      else {
        state.expected = tally(backend.census, held);
        for (const [object, n] of inFlight?.late ?? []) state.expected.set(object, (state.expected.get(object) ?? 0) + n);
      }
    }
    state.seen = undefined;
  }

  /**
   * After one change applied without a full read-back: `was` and `will` are the backend's
   * represent() of the bans it touched; `committed`, the mark taken when the change was committed
   * (see reconciling), when a full reconcile may run meanwhile.
   */
  changed(backend: Backend, was: readonly Entry[], will: readonly Entry[], report: BackendReport, committed?: number): void {
    const state = this.state(backend.name);
    const { inFlight } = state;
    const late = inFlight !== undefined && committed !== undefined && committed > inFlight.mark ? inFlight : undefined;
    if (report.error !== null || report.failed.length > 0) {
      if (late) late.lateFailed = true;
      this.failed(state);
      return;
    }
    const { census } = backend;
    if (!census) return;
    for (const counts of [state.expected, late?.late]) {
      if (!counts) continue;
      add(counts, census, will, 1);
      add(counts, census, was, -1);
    }
  }

  /**
   * The backends due for a full reconcile at this tick, each with why: what `check` (the
   * structural check, ensure()) found missing, a failed apply to retry, or counts that differ. A
   * backend that keeps failing rests between its retries, unchecked.
   */
  async due(backends: readonly Backend[], check: (backend: Backend) => Promise<string | undefined>): Promise<Stale[]> {
    const found = await Promise.all(backends.map(async (backend): Promise<Stale | undefined> => {
      const state = this.state(backend.name);
      if (state.wait > 0) {
        this.note?.(`${backend.name}: resting after ${state.failures} failures in a row, ${state.wait} more tick${state.wait === 1 ? '' : 's'}`);
        state.wait--;
        return undefined;
      }
      const why = await check(backend)
        ?? (state.failures > 0 ? 'retrying after a failed apply' : await this.count(backend, state));
      return why === undefined ? undefined : { backend, why };
    }));
    return found.filter((stale): stale is Stale => stale !== undefined);
  }

  /** Stops following every backend's event stream. */
  close(): void {
    for (const state of this.states.values()) {
      state.unwatch?.();
      state.unwatch = undefined;
    }
  }

  /** Follows the backend's event stream, if it has one, from its first good reconcile on (and again after the stream was lost). */
  private watch(backend: Backend, state: BackendState): void {
    const watch = backend.census?.watch;
    if (!watch || state.unwatch) return;
    state.unwatch = watch.call(backend.census, (removed) => {
      if (removed === undefined || !this.stillHeld || state.pending.length + removed.length > MAX_PENDING) state.removed = true;
      else for (const entry of removed) state.pending.push(entry);
    }, () => {
      // Counting on a timer again until the next good reconcile starts the stream anew.
      state.unwatch = undefined;
      state.censusAt = 0;
    });
  }

  private async count(backend: Backend, state: BackendState): Promise<string | undefined> {
    const { expected } = state;
    if (state.pending.length > 0) {
      if (this.stillHeld?.(state.pending) !== false) state.removed = true;
      state.pending = [];
    }
    const told = state.removed;
    if (!backend.census || !expected || (!told && this.clock() < state.censusAt)) return undefined;
    // A large backend whose removals are told is counted only when one is: the full check just
    // proved it, and counting a million nftables elements costs a minute of CPU and a gigabyte.
    if (!told && state.unwatch && total(expected) > CENSUS_EVERY_TICK_ENTRIES) return undefined;
    state.removed = false;
    const started = this.clock();
    let counts: ReadonlyMap<string, number>;
    try {
      counts = await backend.census.count();
    } catch (error) {
      return `counting its entries failed: ${messageOf(error)}`;
    } finally {
      state.took = [...state.took.slice(1 - CENSUS_SAMPLES), this.clock() - started];
      const wait = censusWait(Math.min(...state.took), total(expected));
      // A costly census of a backend whose removals are told runs only when one is.
      state.censusAt = wait === 0 ? 0 : state.unwatch ? Number.POSITIVE_INFINITY : started + wait;
    }
    const why = difference(counts, expected);
    this.note?.(`${backend.name}: ${why ?? `counts as expected, ${total(expected)} in all`}`);
    if (why !== undefined) state.seen = counts;
    return why;
  }

  private failed(state: BackendState): void {
    state.failures++;
    state.wait = Math.min(2 ** (state.failures - 1), MAX_RETRY_WAIT) - 1;
    state.expected = undefined;
    state.seen = undefined;
  }

  private state(name: string): BackendState {
    let state = this.states.get(name);
    if (!state) this.states.set(name, state = {
      expected: undefined, seen: undefined, failures: 0, wait: 0, censusAt: 0, took: [], unwatch: undefined, removed: false, pending: [],
      inFlight: undefined,
    });
    return state;
  }
}

import { messageOf, type EnforcedBan } from '../core/index.js';
import type { ApplyReport, Backend, Command, Diff, Ensured, Entry, EntryKey, JailRule, SkippedJail } from '../backends/index.js';
import { diffEntries } from './diff.js';
import { defaultJailRules, entryOf, rulesFor, type JailRules } from './entries.js';
import { enforceable, enforceableEntries, type BanFloor, type RefusedBan } from './floor.js';
import { needsConsent } from './removal-guard.js';
import { abortRestores, feedRestores, startRestores, type Streaming } from './stream-restore.js';

/** What one backend did (or, in a dry run, would do). */
export interface BackendReport {
  readonly name: string;
  readonly added: number;
  readonly removed: number;
  /** Entries no active ban wants, left in place: the database cannot account for them (see needsConsent). */
  readonly kept: number;
  readonly unchanged: number;
  readonly failed: readonly { readonly address: string; readonly jail: string; readonly error: string }[];
  /** Set when the backend could not be reconciled at all; the others still were. */
  readonly error: string | null;
  /** Jails left out, each with why (an object of its name is someone else's); present when there are some. */
  readonly skipped?: readonly SkippedJail[];
  /** What ensure had to tell (objects of an earlier f2b-store taken over or left); present when there is something. */
  readonly notes?: readonly string[];
  /** Dry run only: the commands that would run. */
  readonly plan?: readonly Command[];
}

/** How a change reaches the backends: the same for one address as for a full reconcile. */
export interface EnforceOptions<B extends EnforcedBan = EnforcedBan> {
  readonly rules?: JailRules;
  /** The lockout floor: active bans it refuses reach no backend (and leave any that holds them). */
  readonly floor?: BanFloor;
  /** Told each active ban the floor refused. */
  readonly refused?: (refusal: RefusedBan<B>) => void;
  /**
   * How many bans the database has held, active and ended; asked only when a backend would lose
   * most of what it holds (see needsConsent), whose entries are then kept. Left out only on the
   * administrator's explicit word (`reconcile --yes`): then every entry no active ban wants goes.
   */
  readonly known?: () => number;
}

export interface ReconcileOptions<B extends EnforcedBan = EnforcedBan> extends EnforceOptions<B> {
  readonly dryRun?: boolean;
  /**
   * Read every backend back in full, even one whose census can probe (see QUICK_FROM): what a
   * drift found needs, and what the daemon does now and then. Left out, a large backend whose
   * objects were all in place and whose probe passes is taken as holding what it should.
   */
  readonly thorough?: boolean;
  /**
   * Change nothing anywhere when a backend would keep entries (see EnforceOptions.known): the
   * reports then tell what each backend would do, with `kept` set (see allOrNothing).
   */
  readonly allOrNothing?: boolean;
  /** Jails whose objects must exist even without a ban (the configured ones). */
  readonly jails?: readonly string[];
  /** Told each backend's outcome and, when it got that far, what it was brought to (its represent() of the active bans, and the entries it kept). */
  readonly observe?: (backend: Backend, report: BackendReport, held?: readonly Entry[]) => void;
  /**
   * The active bans read again, as `active` gives them. Given (and no `observe`), a restore
   * streamed into every backend keeps none of the entries it read, only their jails: kept, they
   * are most of the garbage collector's work (100 MB for a million). A restore that fails then
   * reads them again for the usual way.
   */
  readonly reread?: () => Iterable<B>;
}

/** The entries wanted and their jails' rules, from the active bans. */
interface Desired {
  readonly entries: readonly Entry[];
  readonly rules: readonly JailRule[];
}

/**
 * From how many entries a backend that can probe is probed instead of read back: below it a full
 * read-back is cheap (nft lists 10,000 elements in about 0.1 s, 630,000 in 25 s of CPU).
 */
export const QUICK_FROM = 10_000;

function failure(name: string, error: unknown): BackendReport {
  return { name, added: 0, removed: 0, kept: 0, unchanged: 0, failed: [], error: messageOf(error) };
}

/** The report's skipped jails and notes, where there are any. */
function told(ensured: Ensured | undefined): Pick<BackendReport, 'skipped' | 'notes'> {
  return { ...(ensured?.skipped.length ? { skipped: ensured.skipped } : {}), ...(ensured?.notes.length ? { notes: ensured.notes } : {}) };
}

/** Leaves out the entries of the jails ensure skipped: what their objects hold is not ours to read or change. */
function unskipped<T extends EntryKey>(entries: readonly T[], ensured: Ensured | undefined): readonly T[] {
  if (!ensured?.skipped.length) return entries;
  const skipped = new Set(ensured.skipped.map((s) => s.jail));
  return entries.filter((entry) => !skipped.has(entry.jail));
}

/**
 * Brings each backend to the desired state, the active bans: ensure its objects, read back what
 * it really holds, diff, apply. Safe to run at any moment and twice: with nothing to change it
 * runs no command that changes state. A failing backend is reported; the others go on. A backend
 * that holds nothing of its own yet (a reboot) and can stream takes the bans as they are read
 * (see Backend.restore).
 */
export async function reconcile<B extends EnforcedBan>(
  active: Iterable<B>,
  backends: readonly Backend[],
  now: number,
  options: ReconcileOptions<B> = {},
): Promise<BackendReport[]> {
  const streams = options.dryRun ? new Map<Backend, Streaming>() : await startRestores(backends, now, options.allOrNothing === true);
  const { reread } = options;
  const keepNone = reread !== undefined && !options.observe && streams.size > 0 && streams.size === backends.length;
  const jailRules = options.rules ?? defaultJailRules;
  let desired: Entry[] = [];
  const jails = new Set<string>();
  let rules: JailRule[];
  try {
    if (streams.size === 0) {
      desired = enforceableEntries(active, options.floor, options.refused);
    } else {
      await feedRestores(active, options.floor, options.refused, streams, keepNone ? (entry) => jails.add(entry.jail) : (entry) => desired.push(entry));
    }
    rules = rulesFor(keepNone ? [...jails].map((jail) => ({ jail })) : desired, jailRules, options.jails);
  } catch (error) {
    await abortRestores(streams);
    throw error;
  }
  // Every backend streaming holds nothing yet: none has entries to keep.
  if (options.allOrNothing && !options.dryRun && streams.size === 0) return allOrNothing(desired, rules, backends, now, options);
  let again: Desired | undefined;
  // Read again once, for every restore that failed; its refusals were told by the first read.
  const wanted = (): Desired => {
    if (!keepNone) return { entries: desired, rules };
    if (!again) {
      const entries = enforceableEntries(reread(), options.floor);
      again = { entries, rules: rulesFor(entries, jailRules, options.jails) };
    }
    return again;
  };
  return Promise.all(backends.map(async (backend) => {
    const streaming = streams.get(backend);
    const { report, held } = streaming ? await finishRestore(streaming, wanted, rules, now, options) : await reconcileBackend(backend, desired, rules, now, options);
    options.observe?.(backend, report, held);
    return report;
  }));
}

const failedOf = (applied: ApplyReport): BackendReport['failed'] => applied.failed.map(({ entry, error }) => ({ address: entry.address, jail: entry.jail, error }));

/**
 * Ends a streamed restore; one that failed goes the usual way from whatever the firewall holds
 * then, and says so. `wanted` gives the entries and rules for that (or for observe).
 */
async function finishRestore(
  streaming: Streaming, wanted: () => Desired, rules: readonly JailRule[], now: number, options: BackendOptions,
): Promise<{ report: BackendReport; held?: readonly Entry[] }> {
  const { backend, restore } = streaming;
  let why = streaming.failed?.error;
  if (!streaming.failed) {
    try {
      const applied = await restore.end(rules);
      const report = { name: backend.name, added: applied.added, removed: 0, kept: 0, unchanged: 0, error: null, failed: failedOf(applied) };
      return { report, ...(options.observe ? { held: backend.represent(wanted().entries) } : {}) };
    } catch (error) {
      why = error;
    }
  }
  const desired = wanted();
  const usual = await reconcileBackend(backend, desired.entries, desired.rules, now, options);
  const note = `${backend.name}: the restore streamed into it failed (${messageOf(why)}); it was done the usual way`;
  return { ...usual, report: { ...usual.report, notes: [note, ...usual.report.notes ?? []] } };
}

/** What the steps after reading the bans need of the options. */
type BackendOptions = Omit<ReconcileOptions, 'refused'>;

/** What one backend holds against what it should: the diff to apply and what it is then brought to. */
interface Survey {
  readonly base: Omit<BackendReport, 'failed'>;
  readonly diff: Diff;
  readonly held: readonly Entry[];
}

/** Reads the backend back (or, when it is large and its census can, probes it) and diffs it with the desired entries. */
async function survey(backend: Backend, desired: readonly Entry[], options: BackendOptions, ensured: Ensured | undefined): Promise<Survey> {
  const wanted = unskipped(backend.represent(desired), ensured);
  const probe = backend.census?.probe;
  // A set ensure just made or re-made holds nothing: the probe finds its elements missing. (Ensure
  // may have re-made only rules, whose sets the probe then proves without a read-back.)
  if (probe && !options.thorough && wanted.length >= QUICK_FROM && await probe.call(backend.census, wanted) === undefined) {
    const base = { name: backend.name, added: 0, removed: 0, kept: 0, unchanged: wanted.length, error: null, ...told(ensured) };
    return { base, diff: { add: [], remove: [] }, held: wanted };
  }
  const actual = unskipped(await backend.list(), ensured);
  const found = diffEntries(wanted, actual);
  const { unchanged } = found;
  const guarded = options.known !== undefined && needsConsent(found.diff.remove.length, found.diff.remove.length + unchanged, options.known);
  const diff = guarded ? { add: found.diff.add, remove: [] } : found.diff;
  // What the backend is brought to: the wanted entries, and those it keeps (with no expiry of ours).
  const held = guarded ? [...wanted, ...found.diff.remove.map((e) => ({ ...e, expiresAt: null }))] : wanted;
  const base = {
    name: backend.name, added: diff.add.length, removed: diff.remove.length, kept: guarded ? found.diff.remove.length : 0, unchanged, error: null,
    ...told(ensured),
  };
  return { base, diff, held };
}

/** Applies a survey's diff (a dry run only plans it). */
async function finish(backend: Backend, found: Survey, rules: readonly JailRule[], now: number, options: BackendOptions): Promise<{ report: BackendReport; held: readonly Entry[] }> {
  const { base, diff, held } = found;
  if (options.dryRun) return { report: { ...base, failed: [], plan: backend.plan(diff, rules, now) }, held };
  if (diff.add.length === 0 && diff.remove.length === 0) return { report: { ...base, failed: [] }, held };
  const applied = await backend.apply(diff, rules, now);
  return { report: { ...base, added: applied.added, removed: applied.removed, failed: failedOf(applied) }, held };
}

const heldNothing = (found: Survey): boolean => found.base.unchanged === 0 && found.diff.remove.length === 0 && found.base.kept === 0;

async function reconcileBackend(
  backend: Backend,
  desired: readonly Entry[],
  rules: readonly JailRule[],
  now: number,
  options: BackendOptions,
  surveyed?: Survey,
): Promise<{ report: BackendReport; held?: readonly Entry[] }> {
  try {
    const ensured = options.dryRun ? undefined : await backend.ensure(rules, now);
    // A survey made before ensure still holds when ensure left no jail out and changed nothing, or
    // found the backend holding nothing: ensure makes objects, empty ones, and never fills them.
    const found = surveyed && ensured && ensured.skipped.length === 0 && (ensured.ran.length === 0 || heldNothing(surveyed))
      ? { ...surveyed, base: { ...surveyed.base, ...told(ensured) } }
      : await survey(backend, desired, options, ensured);
    return await finish(backend, found, rules, now, options);
  } catch (error) {
    return { report: failure(backend.name, error) };
  }
}

/**
 * reconcile() with `allOrNothing`: every backend is surveyed first, as a dry run does (no
 * ensure); if one would keep entries (see needsConsent) nothing changes anywhere and the reports
 * say what each would do. Otherwise each is ensured and changed, from its survey when ensure
 * changed nothing or the backend held nothing (a restore after a reboot): one read-back per
 * backend instead of a preview's and the run's.
 */
async function allOrNothing(desired: readonly Entry[], rules: readonly JailRule[], backends: readonly Backend[], now: number, options: BackendOptions): Promise<BackendReport[]> {
  const surveys = await Promise.all(backends.map((backend) => survey(backend, desired, options, undefined).catch((error: unknown) => failure(backend.name, error))));
  const surveyed = (i: number): Survey | undefined => {
    const found = surveys[i];
    return found && 'diff' in found ? found : undefined;
  };
  if (surveys.some((_, i) => (surveyed(i)?.base.kept ?? 0) > 0)) {
    return surveys.map((found) => ('diff' in found ? { ...found.base, failed: [] } : found));
  }
  return Promise.all(backends.map(async (backend, i) => {
    const { report, held } = await reconcileBackend(backend, desired, rules, now, options, surveyed(i));
    options.observe?.(backend, report, held);
    return report;
  }));
}

/**
 * Applies the change of one address right away, without reading every backend back: `before`
 * and `after` are the active bans touching that address (its own, in every jail, and the
 * networks covering it) before and after the change. Backends apply idempotently, so repeating
 * this is harmless; the scheduled reconcile repairs anything it could not do. A backend whose
 * objects had to be created lost its state (a flush, a firewall reload) or never had any: with
 * `active` (every active ban) it is reconciled in full, since re-creating its objects for this
 * one change would hide the loss from the drift check until the next full check.
 */
export async function applyChange<B extends EnforcedBan>(
  before: readonly B[],
  after: readonly B[],
  backends: readonly Backend[],
  now: number,
  options: EnforceOptions<B> = {},
  active?: () => Iterable<B>,
): Promise<BackendReport[]> {
  const { rules = defaultJailRules, floor } = options;
  // A ban the floor refuses is in no backend, before or after: neither added nor removed here.
  const was = enforceable(before, floor).map(entryOf);
  const will = enforceable(after, floor, options.refused).map(entryOf);
  const jailRules = rulesFor([...was, ...will], rules);
  return Promise.all(backends.map(async (backend): Promise<BackendReport> => {
    try {
      const held = backend.represent(will);
      const changed = changeDiff(backend.represent(was), held);
      if (changed.add.length === 0 && changed.remove.length === 0) {
        return { name: backend.name, added: 0, removed: 0, kept: 0, unchanged: held.length, failed: [], error: null };
      }
      const ensured = await backend.ensure(jailRules, now);
      if (ensured.ran.length > 0 && active) {
        const [full] = await reconcile(active(), [backend], now, options);
        if (full) return ensured.notes.length === 0 ? full : { ...full, notes: [...ensured.notes, ...full.notes ?? []] };
      }
      const diff = { add: unskipped(changed.add, ensured), remove: unskipped(changed.remove, ensured) };
      const report = await backend.apply(diff, jailRules, now);
      return {
        name: backend.name, added: report.added, removed: report.removed, kept: 0, unchanged: held.length - changed.add.length, error: null, ...told(ensured),
        failed: failedOf(report),
      };
    } catch (error) {
      return failure(backend.name, error);
    }
  }));
}

function changeDiff(was: readonly Entry[], will: readonly Entry[]): Diff {
  const { diff } = diffEntries(will, was);
  // An entry whose expiry moved (a ban extended) is replaced, so a kernel timeout follows it.
  const previous = new Map(was.map((e) => [`${e.jail}\u0000${e.address}`, e.expiresAt]));
  const extended = will.filter((e) => {
    const old = previous.get(`${e.jail}\u0000${e.address}`);
    return old !== undefined && old !== e.expiresAt;
  });
  return { add: [...diff.add, ...extended], remove: [...diff.remove, ...extended] };
}

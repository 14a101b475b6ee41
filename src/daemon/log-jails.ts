import { describeJournalMatch, journalMatches, journalSourceName, MAX_LINE_BYTES, messageOf, monotonicMs, parseAddress, type Ban, type JournalCursor, type LockoutCheck, type LogEntry, type LogPosition, type Log } from '../core/index.js';
import type { EnabledJail } from '../config/index.js';
import type { Backend } from '../backends/index.js';
import { JailEngine, type BanDecision, type FailureCounterChange } from '../engine/index.js';
import { FilterWorker, slowLineMessage, unpackFailures, type FilterEntry, type LineFailures, type MatchedBatch, type PackedFailures } from '../filter/index.js';
import { applyChange, banBatchChange, beginBanBatch, knownBans, type BackendReport, type BanFloor, type JailRules } from '../reconcile/index.js';
import { isDamaged, type BanStore, type LogBatchCommit } from '../store/index.js';
import { compileLogPattern, patternMatches, READ_AHEAD, type JournalBatch, type JournalStatus, type LineBatch, type LogPattern } from '../watch/index.js';
import type { BanLogEvent } from './ban-log.js';
import { BannedView } from './banned-view.js';
import type { StoreWriter } from './store-writer.js';

/** A batch of lines sent to the filter worker, with the jails it was sent for. */
interface Prepared {
  readonly jails: readonly RunningJail[];
  readonly matched: Promise<MatchedBatch>;
  /** Its place among the batches prepared of its file (see newestPrepared). */
  readonly sequence: number;
}

/**
 * While the tailer is behind, what counted lines caused is committed once this long after the
 * first of them, or COMMIT_SHARE times as long as the last commit took, whichever is longer (or
 * after MAX_UNCOMMITTED_BATCHES batches). A commit rewrites every page of the failure counters
 * an address changed on (most of the table in a burst from many addresses) and fsyncs: fewer,
 * larger ones write each address's counters once for many of its failures, and keep commits to a
 * sixth of the time on a slow disk. A ban waits that much longer for the firewall only while the
 * daemon is behind. The batch limit (16 MiB of log) bounds what one commit holds in memory: 32 MiB
 * held about 15 MiB more at the daemon's peak, for no measurable gain in speed.
 */
const COMMIT_EVERY_MS = 2000;
const COMMIT_SHARE = 5;
const MAX_UNCOMMITTED_BATCHES = 64;
/**
 * A commit due while behind waits for a batch with this many read ahead of it (a turn's last has
 * none), up to twice the batch limit: the filter worker matches them while the commit holds the
 * main thread, where it sat idle through every commit made at a turn's end.
 */
const COMMIT_AHEAD = (READ_AHEAD * 3) / 4;
/** How long a commit deferred at a turn's end waits for the next turn (the file may have ended there after all). */
const NEXT_TURN_MS = 100;
/**
 * A journal batch is committed at once unless the last commit was less than this long ago; then
 * a timer commits it (with what follows meanwhile). journald hands entries over a few at a time
 * while it is busy: one transaction (and fsync) per handful was most of the daemon's CPU.
 */
const JOURNAL_COMMIT_GAP_MS = 250;

/** What counted lines caused, not committed yet. */
interface Uncommitted {
  readonly candidates: Map<string, BanDecision>;
  readonly jails: Set<RunningJail>;
  readonly positions: Map<string, LogPosition>;
  readonly cursors: Map<string, JournalCursor>;
  batches: number;
  /** When the first batch of these was counted (monotonicMs). */
  since: number;
}

function nothingUncommitted(): Uncommitted {
  return { candidates: new Map(), jails: new Set(), positions: new Map(), cursors: new Map(), batches: 0, since: 0 };
}

/** One jail at work: its engine (failure counters); its filter runs in the filter worker, one per log file there. */
interface RunningJail {
  readonly definition: EnabledJail;
  readonly engine: JailEngine;
  readonly patterns: readonly LogPattern[];
}

export interface LogJailsOptions {
  readonly store: BanStore;
  /** Where what the lines caused is committed (or held while the database cannot take it). */
  readonly writer: StoreWriter;
  readonly backends: readonly Backend[];
  readonly rules: JailRules;
  /** The lockout floor now, for the engines (failures of an address it refuses are not counted) … */
  readonly lockout: () => LockoutCheck;
  /** … and for the bans applied (see reconcile's floor). */
  readonly floor: () => BanFloor;
  readonly now: () => number;
  readonly log: Log;
  /** As `log`, several lines in one write. */
  readonly logLines: (entries: readonly LogEntry[]) => void;
  readonly banLog: (events: readonly BanLogEvent[]) => void;
  /**
   * Told every change applied to the backends (the reconcile loop's drift check counts with it and
   * retries failures), with the mark `mark` gave right after the change was committed.
   */
  readonly applied?: (before: readonly Ban[], after: readonly Ban[], reports: readonly BackendReport[], committed?: number) => void;
  /** A mark ordering this commit among the reconcile loop's reads of the active bans (see ReconcileLoop.mark). */
  readonly mark?: () => number;
}

/** A jail's live numbers, as `status` shows them. */
export interface JailStatus {
  readonly name: string;
  readonly currentlyFailed: number;
  readonly totalFailed: number;
  readonly files: readonly string[];
  /** The journal it reads (backend = systemd): which, with which match, and how reading goes; null for a file jail. */
  readonly journal: {
    readonly source: string;
    readonly match: string;
    readonly reading: boolean;
    readonly error: string | null;
    /** Seconds between the newest entry handled and now while entries wait. */
    readonly lagSeconds: number;
  } | null;
  /** Lines of its files (or journal) over the length limit, dropped unmatched since start. */
  readonly droppedLines: number;
  /** With a `logformat`: lines of its files that were no record of it, skipped since start; null without one. */
  readonly notRecords: number | null;
}

function filterEntries(definitions: readonly EnabledJail[]): Map<string, FilterEntry> {
  // Checked for catastrophic backtracking when compiled here before (see cli/jail-filters.ts).
  return new Map(definitions.map((d) => [d.name, {
    definition: d.filter,
    options: {
      assumeNow: true, useDns: d.usedns, backtrackingChecked: true, logFormat: d.logformat,
      ...(d.logtimezone === undefined ? {} : { timeZone: d.logtimezone }),
    },
  }]));
}

/** Two jail definitions that count failures the same way: counters carry over a reload. */
function sameCounting(a: EnabledJail, b: EnabledJail): boolean {
  const counting = (j: EnabledJail): unknown => [j.filter, j.logpaths, j.maxretry, j.findtime, j.bantime, j.increment, j.ignoreip,
    j.ignoreself, j.ignorecommand, j.maxmatches, j.usedns, j.logencoding, j.logformat, j.logtimezone, j.ipv4prefix, j.ipv6prefix];
  return JSON.stringify(counting(a)) === JSON.stringify(counting(b));
}

/**
 * The daemon's jails: lines from the tailer go through every jail watching their file, failures
 * into the jail's engine, and the bans they complete — with the failure counters and the log
 * position — into the store in one transaction, then into every backend at once, as one batch.
 */
export class LogJails {
  private jails = new Map<string, RunningJail>();
  private readonly worker: FilterWorker;
  /** Over-long lines dropped per file since start. */
  private readonly dropped = new Map<string, number>();
  /** Lines that were no record of the jail's logformat, per jail since start. */
  private readonly notRecords = new Map<string, number>();
  /** Bans known active, so an attacker failing on after its ban is not decided again and again. */
  private readonly banned = new BannedView();
  /** Batches the tailers read ahead, being matched until they are delivered. */
  private readonly prepared = new WeakMap<LineBatch, Prepared>();
  /** The sequence of the newest batch prepared of each file: the batches read ahead of one delivered are those after it. */
  private readonly newestPrepared = new Map<string, number>();
  private uncommitted = nothingUncommitted();
  /** How long the last commit of what lines caused took, and when it started (monotonicMs). */
  private lastCommitMs = 0;
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  /** Journal batches and their timed commits, one after another (see JOURNAL_COMMIT_GAP_MS). */
  private journalWork: Promise<void> = Promise.resolve();
  private journalTimer: NodeJS.Timeout | undefined;
  /** Commits what waits for a next batch of a file that may not come (see handle). */
  private commitTimer: NodeJS.Timeout | undefined;
  /** Counts under way (one may await an ignorecommand or DNS): a commit waits for them, so no batch is committed half counted. */
  private readonly counting = new Set<Promise<void>>();

  constructor(private readonly options: LogJailsOptions, definitions: readonly EnabledJail[]) {
    this.worker = new FilterWorker({
      filters: filterEntries(definitions),
      onSlowLine: (slow) => options.log(slowLineMessage(slow), 'warning'),
    });
    this.replace(definitions);
  }

  /** Ends the filter worker; no batch is handled after. */
  async close(): Promise<void> {
    clearTimeout(this.journalTimer);
    clearTimeout(this.commitTimer);
    await this.journalWork;
    await this.flush();
    await this.worker.close();
  }

  /** Every `logpath` of every jail, for the tailer. */
  paths(): { pattern: string; tail: boolean }[] {
    const seen = new Map<string, boolean>();
    for (const { definition } of this.jails.values()) {
      for (const path of definition.logpaths) seen.set(path.pattern, (seen.get(path.pattern) ?? true) && path.tail);
    }
    return [...seen].map(([pattern, tail]) => ({ pattern, tail }));
  }

  names(): string[] {
    return [...this.jails.keys()];
  }

  /**
   * Takes a new set of jail definitions (SIGHUP): a jail whose counting is unchanged keeps its
   * engine and its filters' multi-line state; a new or changed one starts from the counters in
   * the store. Throws (InputError) before changing anything when a jail's options are bad;
   * filters are compiled before (see cli/jail-filters.ts), so a bad one never gets here.
   */
  replace(definitions: readonly EnabledJail[]): void {
    const next = new Map<string, RunningJail>();
    for (const definition of definitions) {
      const running = this.jails.get(definition.name);
      if (running && sameCounting(running.definition, definition)) {
        next.set(definition.name, { ...running, definition });
        continue;
      }
      const engine = new JailEngine({
        jail: definition.name, maxretry: definition.maxretry, findtime: definition.findtime, bantime: definition.bantime,
        increment: definition.increment, ignoreip: definition.ignoreip, ignoreself: definition.ignoreself,
        maxmatches: definition.maxmatches, usedns: definition.usedns, ipv4prefix: definition.ipv4prefix, ipv6prefix: definition.ipv6prefix,
        ...(definition.ignorecommand === undefined ? {} : { ignorecommand: definition.ignorecommand }),
      }, {
        previousBans: (address, jail) => this.read('earlier bans', () => this.options.store.previousBans(address, jail), 0),
        now: this.options.now,
        log: (message, level) => this.options.log(`[${definition.name}] ${message}`, level),
        lockout: (address) => this.options.lockout()(address),
        banned: (address, now) => this.banned.has(definition.name, address, now),
      });
      engine.restore(this.options.store.failureCounters(definition.name));
      next.set(definition.name, {
        definition, engine, patterns: definition.logpaths.map((p) => compileLogPattern(p.pattern, p.tail)),
      });
    }
    this.jails = next;
    this.worker.replace(filterEntries(definitions));
  }

  /**
   * The tailer's `prepare`: the batch goes to the filter worker at once, so the worker matches it
   * while the batch before it is counted and committed here.
   */
  prepare(batch: LineBatch): void {
    const now = this.options.now();
    const jails = [...this.jails.values()].filter((jail) => jail.patterns.some((p) => patternMatches(p, batch.path)));
    // Matched in the filter worker: no regex holds up the event loop, and a line past its time budget is dropped.
    // As bytes, or where they lie in the file: the worker decodes them (or reads them itself), which costs far less than cloning each line.
    const lines = batch.range === undefined
      ? { bytes: batch.text, encoding: batch.encoding, ...(batch.droppedAt.length > 0 ? { droppedAt: batch.droppedAt } : {}) }
      : { ...batch.range, encoding: batch.encoding };
    const matched = this.worker.process(batch.path, jails.map((jail) => jail.definition.name), lines, now);
    // A batch read ahead is not delivered when the one before it fails: its failure is nobody's.
    matched.catch(() => undefined);
    const sequence = (this.newestPrepared.get(batch.path) ?? 0) + 1;
    this.prepared.set(batch, { jails, matched, sequence });
    this.newestPrepared.set(batch.path, sequence);
  }

  /**
   * The tailer's callback. Each line is matched and counted exactly once: the jails' state moves
   * on in memory, and the store follows with what the lines caused (or holds it until it can), so
   * nothing here asks the tailer to deliver the lines again.
   */
  async handle(batch: LineBatch): Promise<void> {
    this.noteDropped(batch.path, batch.droppedAt.length);
    if (!this.prepared.has(batch)) this.prepare(batch);
    const { jails, matched, sequence } = this.prepared.get(batch) as Prepared;
    this.prepared.delete(batch);
    try {
      const { failures, notRecords } = await matched;
      await this.count(jails, failures, [batch.position], this.options.now());
      for (const [key, count] of notRecords) this.noteNotRecords(key, batch.path, count);
    } catch (error) {
      // Read again by the tailer: what the batches before it caused is committed first.
      await this.commit(batch.path, this.options.now());
      throw error;
    }
    // Behind (the tailer has read the next batch of this file already, found more of it waiting when it read this one, or
    // paused after this one only for the other files' turn): a later one commits them together, up to a limit. Each 16 MiB
    // turn used to end in a commit, and so did every batch its read-ahead had not got past yet (most commits of a burst).
    const ahead = (this.newestPrepared.get(batch.path) ?? sequence) - sequence;
    const behind = ahead > 0 || batch.turnEnd === true || batch.more === true;
    const wait = Math.max(COMMIT_EVERY_MS, COMMIT_SHARE * this.lastCommitMs);
    const left = this.uncommitted.since + wait - monotonicMs();
    const due = this.uncommitted.batches >= MAX_UNCOMMITTED_BATCHES || left <= 0;
    const overdue = this.uncommitted.batches >= 2 * MAX_UNCOMMITTED_BATCHES;
    if (behind && (!due || (ahead < COMMIT_AHEAD && !overdue))) {
      // A turn may have ended at the file's end after all: then nothing follows, and this commits what waits.
      this.commitTimer ??= setTimeout(() => this.commitWaiting(), Math.max(left, NEXT_TURN_MS));
      return;
    }
    await this.commit(batch.path, this.options.now());
  }

  private commitWaiting(): void {
    this.commitTimer = undefined;
    void this.commit('the lines read', this.options.now());
  }

  /** Commits what counted lines caused that is not committed yet (see handle); the worker is no longer needed after. */
  async flush(): Promise<void> {
    await this.commit('the last lines read', this.options.now());
  }

  /**
   * A journal reader's callback, as `handle` for a file: each jail of `source` gets the entries its
   * own journalmatch passes, with their journal time, and the cursor is committed with what they caused.
   */
  handleJournal(source: string, batch: JournalBatch): Promise<void> {
    return this.inJournal(() => this.countJournal(source, batch));
  }

  private async countJournal(source: string, batch: JournalBatch): Promise<void> {
    const label = `journal (${source})`;
    this.noteDropped(label, batch.dropped);
    const now = this.options.now();
    const jails = this.journalJails(source);
    const matched = new Map<string, PackedFailures>();
    for (const jail of jails) {
      const entries = batch.entries.filter((entry) => journalMatches(jail.definition.journalMatch, entry.fields));
      if (entries.length === 0) continue;
      const { failures } = await this.worker.process(label, [jail.definition.name], entries.map((e) => e.line), now, entries.map((e) => e.time));
      const packed = failures.get(jail.definition.name);
      if (packed !== undefined) matched.set(jail.definition.name, packed);
    }
    await this.count(jails, matched, [], now);
    if (batch.cursor !== undefined && batch.realtime !== undefined) this.uncommitted.cursors.set(source, { source, cursor: batch.cursor, realtime: batch.realtime });
    const wait = this.lastCommitAt + JOURNAL_COMMIT_GAP_MS - monotonicMs();
    if (wait <= 0) {
      clearTimeout(this.journalTimer);
      this.journalTimer = undefined;
      await this.commit(label, now);
      return;
    }
    this.journalTimer ??= setTimeout(() => {
      this.journalTimer = undefined;
      void this.inJournal(() => this.commit(label, this.options.now()));
    }, wait);
  }

  /** Runs `work` after the journal work before it: a timed commit never falls in the middle of a batch. */
  private inJournal(work: () => Promise<void>): Promise<void> {
    const run = this.journalWork.then(work);
    this.journalWork = run.catch(() => undefined);
    return run;
  }

  /** The jails reading the journal `source` (journalSourceName of their backend options). */
  private journalJails(source: string): RunningJail[] {
    return [...this.jails.values()].filter((jail) => jail.definition.journal !== undefined && journalSourceName(jail.definition.journal) === source);
  }

  /** Counts the failures the lines completed in their jails; what they caused waits in `uncommitted` with where reading stands. */
  private async count(
    jails: readonly RunningJail[], matched: ReadonlyMap<string, PackedFailures>, positions: readonly LogPosition[], now: number,
  ): Promise<void> {
    const counted = this.countEach(jails, matched, now);
    this.counting.add(counted);
    try {
      await counted;
    } finally {
      this.counting.delete(counted);
    }
    for (const position of positions) this.uncommitted.positions.set(position.path, position);
    if (this.uncommitted.batches++ === 0) this.uncommitted.since = monotonicMs();
  }

  private async countEach(jails: readonly RunningJail[], matched: ReadonlyMap<string, PackedFailures>, now: number): Promise<void> {
    this.banned.sync(this.read('the data version', () => this.options.store.dataVersion(), undefined), now);
    // Indexed loops: a for-of holding an await keeps its iterators in the function's state, one result object per failure.
    for (const jail of jails) {
      this.uncommitted.jails.add(jail);
      // Unpacked only now, so what they become dies young (see PackedFailures).
      const packed = matched.get(jail.definition.name);
      const lines = packed === undefined ? [] : unpackFailures(packed);
      for (let l = 0; l < lines.length; l++) {
        const { failures } = lines[l] as LineFailures;
        for (let f = 0; f < failures.length; f++) {
          const added = jail.engine.add(failures[f] as LineFailures['failures'][number]);
          const decisions = Array.isArray(added) ? added : await added;
          // A burst longer than maxretry decides again every maxretry lines: one ban is enough.
          for (let d = 0; d < decisions.length; d++) {
            const decision = decisions[d] as BanDecision;
            const key = `${decision.jail} ${decision.address}`;
            // Read afresh: a commit while this awaited started a new set.
            if (!this.uncommitted.candidates.has(key)) this.uncommitted.candidates.set(key, decision);
          }
        }
      }
    }
  }

  /** Records and applies bans decided from the store's history (jails with `source = bans`), as those lines complete. */
  async decided(decisions: readonly BanDecision[]): Promise<void> {
    try {
      await this.commitAndApply(decisions, [], { positions: [] }, this.options.now());
    } catch (error) {
      this.options.log(`applying bans decided from recorded bans failed: ${messageOf(error)}; the next reconcile repairs the firewall`, 'error');
    }
  }

  /** Commits what the lines counted so far caused, with where reading stands, and applies the bans. */
  private async commit(what: string, now: number): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    // Each count's own continuation (its position noted) runs before this one's.
    while (this.counting.size > 0) await Promise.allSettled(this.counting);
    const { candidates, jails, positions, cursors } = this.uncommitted;
    this.uncommitted = nothingUncommitted();
    const changes = [...jails].map((jail) => jail.engine.takeChanges());
    // Each jail's made as written (see JailEngine.takeChanges), not gathered first.
    const counters = { *[Symbol.iterator]() {
      for (const jailChanges of changes) yield* jailChanges;
    } };
    try {
      await this.commitAndApply([...candidates.values()], counters, { positions: [...positions.values()], cursors: [...cursors.values()] }, now);
    } catch (error) {
      // The lines are counted already: reading them again would count them twice.
      this.options.log(`applying what ${what} caused failed: ${messageOf(error)}; the next reconcile repairs the firewall`, 'error');
    }
  }

  private async commitAndApply(
    candidates: readonly BanDecision[], counters: Iterable<FailureCounterChange>, at: Pick<LogBatchCommit, 'positions' | 'cursors'>, now: number,
  ): Promise<void> {
    const { writer } = this.options;
    const batch = beginBanBatch(this.touching, candidates, now);
    for (const ban of batch.inForce) this.banned.note(ban, now);
    const decisions = batch.fresh;
    this.lastCommitAt = monotonicMs();
    const results = writer.commit({ bans: decisions, counters, ...at });
    const committed = this.options.mark?.();
    this.lastCommitMs = monotonicMs() - this.lastCommitAt;
    if (decisions.length === 0) return;
    for (const ban of results?.map((r) => r.ban) ?? decisions) this.banned.note(ban, now);
    const written = results === undefined
      ? writer.held(now).filter((ban) => decisions.some((d) => d.jail === ban.jail && d.address === ban.address))
      : results.map((r) => r.ban);
    const changed = results === undefined ? written : results.filter((r) => r.change !== 'kept').map((r) => r.ban);
    this.report(changed, decisions, results === undefined);
    if (changed.length === 0) return;
    const { before, after } = banBatchChange(batch, written);
    const reports = await applyChange(before, after, this.options.backends, now, {
      rules: this.options.rules, floor: this.options.floor(), known: () => knownBans(this.options.store, now),
    }, () => this.active(now));
    this.options.applied?.(before, after, reports, committed);
    this.reportBackends(reports);
  }

  /** Active bans, the store's and those held until it can take them. */
  active(now: number): Ban[] {
    return [...this.options.store.activeAnyOrder(now), ...this.options.writer.held(now)];
  }

  /** What blocks each address now: the store's active bans and those held until it can take them. */
  private readonly touching = {
    activeTouchingAll: (addresses: readonly string[], now: number): Map<string, Ban[]> => {
      const stored = this.read('active bans', () => this.options.store.activeTouchingAll(addresses, now), new Map<string, Ban[]>());
      return new Map(addresses.map((address) => [address, [...stored.get(address) ?? [], ...this.options.writer.heldTouching(address, now)]]));
    },
  };

  /**
   * A read the jails can do without: when the store cannot answer (damaged, which it says once
   * itself), bans are decided and applied from what is known, and held until it can be written.
   */
  private read<T>(what: string, read: () => T, fallback: T): T {
    try {
      return read();
    } catch (error) {
      if (!isDamaged(error)) this.options.log(`reading ${what} from the database failed: ${messageOf(error)}`, 'error');
      return fallback;
    }
  }

  /** An address was unbanned by hand: every jail counts its failures afresh. */
  forget(address: string): void {
    const text = parseAddress(address).text;
    for (const jail of this.jails.values()) jail.engine.forget(text);
    this.banned.forget(text);
    this.options.writer.drop(text);
  }

  /** `journal` tells how a journal source's reader is doing (the daemon runs the readers). */
  status(watched: readonly string[], journal: (source: string) => JournalStatus | undefined): JailStatus[] {
    return [...this.jails.values()].map(({ definition, engine, patterns }) => {
      const source = definition.journal && journalSourceName(definition.journal);
      const reading = source === undefined ? undefined : journal(source);
      const dropped = source === undefined
        ? [...this.dropped].filter(([path]) => patterns.some((p) => patternMatches(p, path))).reduce((n, [, count]) => n + count, 0)
        : this.dropped.get(`journal (${source})`) ?? 0;
      return {
        name: definition.name,
        ...engine.counts(),
        files: watched.filter((path) => patterns.some((p) => patternMatches(p, path))),
        journal: source === undefined ? null : {
          source, match: describeJournalMatch(definition.journalMatch),
          reading: reading?.running ?? false, error: reading?.error ?? null, lagSeconds: reading?.lagSeconds ?? 0,
        },
        droppedLines: dropped,
        notRecords: definition.logformat === 'plain' ? null : this.notRecords.get(definition.name) ?? 0,
      };
    });
  }

  /** Said once a jail's first time: a file that is no container log (or of another runtime) counts nothing. */
  private noteNotRecords(key: string, path: string, count: number): void {
    const before = this.notRecords.get(key) ?? 0;
    this.notRecords.set(key, before + count);
    if (before > 0) return;
    const format = this.jails.get(key)?.definition.logformat ?? 'container';
    this.options.log(`[${key}] ${path}: skipped ${count === 1 ? 'a line that is' : `${count} lines that are`} no ${format} record, matched against nothing: `
      + 'check the jail\'s logformat; status counts the lines skipped', 'warning');
  }

  private noteDropped(what: string, dropped: number): void {
    if (dropped === 0) return;
    const before = this.dropped.get(what) ?? 0;
    this.dropped.set(what, before + dropped);
    if (before === 0) {
      this.options.log(`${what}: dropped ${dropped === 1 ? 'a line' : `${dropped} lines`} longer than ${MAX_LINE_BYTES / 1024} KiB unmatched: `
        + 'a padded line could otherwise choose the banned address; status counts the lines dropped', 'warning');
    }
  }


  private report(changed: readonly Ban[], decisions: readonly BanDecision[], held: boolean): void {
    const failures = new Map(decisions.map((d) => [`${d.jail} ${d.address}`, d]));
    // fail2ban's words alone on the notice line (recidive reads it through syslog and the journal, where nothing may follow the address), then what it was.
    this.options.logLines(changed.flatMap((ban): LogEntry[] => {
      const until = ban.expiresAt === null ? 'permanently' : `for ${ban.expiresAt - ban.bannedAt} s`;
      const decision = failures.get(`${ban.jail} ${ban.address}`);
      const count = held ? `held in memory until the database takes writes` : `ban #${ban.banCount}`;
      return [
        { level: 'notice', text: `[${ban.jail}] Ban ${ban.address}` },
        { level: 'info', text: `[${ban.jail}] ${ban.address} banned ${until} after ${decision?.failures ?? ban.failures} failures (${count})` },
      ];
    }));
    this.options.banLog(changed.map((ban) => ({ action: 'Ban', jail: ban.jail, address: ban.address, time: ban.bannedAt })));
  }

  private reportBackends(reports: readonly BackendReport[]): void {
    for (const r of reports) {
      for (const note of r.notes ?? []) this.options.log(note);
      for (const { error } of r.skipped ?? []) this.options.log(`applying bans to ${r.name}: ${error}`, 'warning');
      if (r.error !== null) this.options.log(`applying bans to ${r.name} failed: ${r.error}; the next reconcile retries`, 'error');
      for (const f of r.failed) this.options.log(`applying ${f.address} (${f.jail}) to ${r.name} failed: ${f.error}`, 'error');
    }
  }
}

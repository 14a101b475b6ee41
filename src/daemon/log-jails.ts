import { describeJournalMatch, journalMatches, journalSourceName, messageOf, parseAddress, type Ban, type LockoutCheck } from '../core/index.js';
import type { EnabledJail } from '../config/index.js';
import type { Backend } from '../backends/index.js';
import { JailEngine, type BanDecision, type FailureCounterChange } from '../engine/index.js';
import { FilterWorker, slowLineMessage, type FilterEntry, type LineFailures } from '../filter/index.js';
import { applyChange, knownBans, type BackendReport, type BanFloor, type JailRules } from '../reconcile/index.js';
import { isDamaged, type BanStore, type LogBatchCommit } from '../store/index.js';
import { compileLogPattern, MAX_LINE_BYTES, patternMatches, type JournalBatch, type JournalStatus, type LineBatch, type LogPattern } from '../watch/index.js';
import type { BanLogEvent } from './ban-log.js';
import type { StoreWriter } from './store-writer.js';

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
  readonly log: (line: string) => void;
  readonly banLog: (events: readonly BanLogEvent[]) => void;
  /** Told every change applied to the backends (the reconcile loop's drift check counts with it and retries failures). */
  readonly applied?: (before: readonly Ban[], after: readonly Ban[], reports: readonly BackendReport[]) => void;
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
}

function filterEntries(definitions: readonly EnabledJail[]): Map<string, FilterEntry> {
  return new Map(definitions.map((d) => [d.name, { definition: d.filter, options: { assumeNow: true, useDns: d.usedns } }]));
}

/** Two jail definitions that count failures the same way: counters carry over a reload. */
function sameCounting(a: EnabledJail, b: EnabledJail): boolean {
  const counting = (j: EnabledJail): unknown => [j.filter, j.logpaths, j.maxretry, j.findtime, j.bantime, j.increment, j.ignoreip,
    j.ignoreself, j.ignorecommand, j.maxmatches, j.usedns, j.logencoding];
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

  constructor(private readonly options: LogJailsOptions, definitions: readonly EnabledJail[]) {
    this.worker = new FilterWorker({ filters: filterEntries(definitions), onSlowLine: (slow) => options.log(slowLineMessage(slow)) });
    this.replace(definitions);
  }

  /** Ends the filter worker; no batch is handled after. */
  async close(): Promise<void> {
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
        maxmatches: definition.maxmatches, usedns: definition.usedns,
        ...(definition.ignorecommand === undefined ? {} : { ignorecommand: definition.ignorecommand }),
      }, {
        previousBans: (address, jail) => this.read('earlier bans', () => this.options.store.previousBans(address, jail), 0),
        now: this.options.now,
        log: (message) => this.options.log(`[${definition.name}] ${message}`),
        lockout: (address) => this.options.lockout()(address),
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
   * The tailer's callback. Each line is matched and counted exactly once: the jails' state moves
   * on in memory, and the store follows with what the lines caused (or holds it until it can), so
   * nothing here asks the tailer to deliver the lines again.
   */
  async handle(batch: LineBatch): Promise<void> {
    this.noteDropped(batch.path, batch.dropped);
    const now = this.options.now();
    const jails = [...this.jails.values()].filter((jail) => jail.patterns.some((p) => patternMatches(p, batch.path)));
    // Matched in the filter worker: no regex holds up the event loop, and a line past its time budget is dropped.
    const matched = await this.worker.process(batch.path, jails.map((jail) => jail.definition.name), batch.lines, now);
    await this.settle(jails, matched, { positions: [batch.position] }, batch.path, now);
  }

  /**
   * A journal reader's callback, as `handle` for a file: each jail of `source` gets the entries its
   * own journalmatch passes, with their journal time, and the cursor is committed with what they caused.
   */
  async handleJournal(source: string, batch: JournalBatch): Promise<void> {
    const label = `journal (${source})`;
    this.noteDropped(label, batch.dropped);
    const now = this.options.now();
    const jails = this.journalJails(source);
    const matched = new Map<string, readonly LineFailures[]>();
    for (const jail of jails) {
      const entries = batch.entries.filter((entry) => journalMatches(jail.definition.journalMatch, entry.fields));
      if (entries.length === 0) continue;
      const results = await this.worker.process(label, [jail.definition.name], entries.map((e) => e.line), now, entries.map((e) => e.time));
      matched.set(jail.definition.name, results.get(jail.definition.name) ?? []);
    }
    const cursors = batch.cursor === undefined || batch.realtime === undefined ? [] : [{ source, cursor: batch.cursor, realtime: batch.realtime }];
    await this.settle(jails, matched, { positions: [], cursors }, label, now);
  }

  /** The jails reading the journal `source` (journalSourceName of their backend options). */
  private journalJails(source: string): RunningJail[] {
    return [...this.jails.values()].filter((jail) => jail.definition.journal !== undefined && journalSourceName(jail.definition.journal) === source);
  }

  /** Counts the failures the lines completed in their jails, then commits them with where reading stands, and applies the bans. */
  private async settle(
    jails: readonly RunningJail[], matched: ReadonlyMap<string, readonly LineFailures[]>, at: Pick<LogBatchCommit, 'positions' | 'cursors'>,
    what: string, now: number,
  ): Promise<void> {
    const candidates = new Map<string, BanDecision>();
    for (const jail of jails) {
      for (const { failures } of matched.get(jail.definition.name) ?? []) {
        for (const failure of failures) {
          // A burst longer than maxretry decides again every maxretry lines: one ban is enough.
          for (const decision of await jail.engine.add(failure)) {
            const key = `${decision.jail} ${decision.address}`;
            if (!candidates.has(key)) candidates.set(key, decision);
          }
        }
      }
    }
    const counters = jails.flatMap((jail) => jail.engine.takeChanges());
    try {
      await this.commitAndApply([...candidates.values()], counters, at, now);
    } catch (error) {
      // The lines are counted already: reading them again would count them twice.
      this.options.log(`applying what ${what} caused failed: ${messageOf(error)}; the next reconcile repairs the firewall`);
    }
  }

  private async commitAndApply(
    candidates: readonly BanDecision[], counters: readonly FailureCounterChange[], at: Pick<LogBatchCommit, 'positions' | 'cursors'>, now: number,
  ): Promise<void> {
    const { writer } = this.options;
    // What blocks each address now: it tells an address already banned in its jail, and it is
    // the `before` of the change applied to the backends.
    const touching = new Map<string, Ban[]>();
    for (const { address } of candidates) {
      if (!touching.has(address)) touching.set(address, this.activeTouching(address, now));
    }
    const decisions = candidates.filter((decision) =>
      !touching.get(decision.address)?.some((ban) => ban.jail === decision.jail && ban.address === decision.address));
    const results = writer.commit({ bans: decisions, counters, ...at });
    if (decisions.length === 0) return;
    const changed = results === undefined
      ? writer.held(now).filter((ban) => decisions.some((d) => d.jail === ban.jail && d.address === ban.address))
      : results.filter((r) => r.change !== 'kept').map((r) => r.ban);
    this.report(changed, decisions, results === undefined);
    if (changed.length === 0) return;
    const banned = [...new Set(decisions.map((d) => d.address))];
    const before = banned.flatMap((address) => touching.get(address) ?? []);
    const after = banned.flatMap((address) => this.activeTouching(address, now));
    const reports = await applyChange(before, after, this.options.backends, now, {
      rules: this.options.rules, floor: this.options.floor(), known: () => knownBans(this.options.store, now),
    }, () => this.active(now));
    this.options.applied?.(before, after, reports);
    this.reportBackends(reports);
  }

  /** Active bans, the store's and those held until it can take them. */
  active(now: number): Ban[] {
    return [...this.options.store.activeAnyOrder(now), ...this.options.writer.held(now)];
  }

  private activeTouching(address: string, now: number): Ban[] {
    return [...this.read('active bans', () => this.options.store.activeTouching(address, now), []), ...this.options.writer.heldTouching(address, now)];
  }

  /**
   * A read the jails can do without: when the store cannot answer (damaged, which it says once
   * itself), bans are decided and applied from what is known, and held until it can be written.
   */
  private read<T>(what: string, read: () => T, fallback: T): T {
    try {
      return read();
    } catch (error) {
      if (!isDamaged(error)) this.options.log(`reading ${what} from the database failed: ${messageOf(error)}`);
      return fallback;
    }
  }

  /** An address was unbanned by hand: every jail counts its failures afresh. */
  forget(address: string): void {
    const text = parseAddress(address).text;
    for (const jail of this.jails.values()) jail.engine.forget(text);
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
      };
    });
  }

  private noteDropped(what: string, dropped: number): void {
    if (dropped === 0) return;
    const before = this.dropped.get(what) ?? 0;
    this.dropped.set(what, before + dropped);
    if (before === 0) {
      this.options.log(`${what}: dropped ${dropped === 1 ? 'a line' : `${dropped} lines`} longer than ${MAX_LINE_BYTES / 1024} KiB unmatched: `
        + 'a padded line could otherwise choose the banned address; status counts the lines dropped');
    }
  }


  private report(changed: readonly Ban[], decisions: readonly BanDecision[], held: boolean): void {
    const failures = new Map(decisions.map((d) => [`${d.jail} ${d.address}`, d]));
    for (const ban of changed) {
      const until = ban.expiresAt === null ? 'permanently' : `for ${ban.expiresAt - ban.bannedAt} s`;
      const decision = failures.get(`${ban.jail} ${ban.address}`);
      const count = held ? `held in memory until the database takes writes` : `ban #${ban.banCount}`;
      this.options.log(`[${ban.jail}] Ban ${ban.address} ${until} after ${decision?.failures ?? ban.failures} failures (${count})`);
    }
    this.options.banLog(changed.map((ban) => ({ action: 'Ban', jail: ban.jail, address: ban.address, time: ban.bannedAt })));
  }

  private reportBackends(reports: readonly BackendReport[]): void {
    for (const r of reports) {
      for (const note of r.notes ?? []) this.options.log(note);
      for (const { error } of r.skipped ?? []) this.options.log(`applying bans to ${r.name}: ${error}`);
      if (r.error !== null) this.options.log(`applying bans to ${r.name} failed: ${r.error}; the next reconcile retries`);
      for (const f of r.failed) this.options.log(`applying ${f.address} (${f.jail}) to ${r.name} failed: ${f.error}`);
    }
  }
}

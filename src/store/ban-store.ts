import type Database from 'better-sqlite3';
import { isActive, tryParseAddress, type Ban, type BanCounts, type BanRequest, type BanWhy, type EnforcedBan, type JournalCursor, type LogPosition } from '../core/index.js';
import { BanStatistics, type BanStats, type StatsQuery } from './ban-stats.js';
import {
  Bans, type AddressWhy, type BanChange, type StoredBan, type BanRecord, type BanResult, type BanWrite, type JailSelection, type RecordImportReport,
} from './bans.js';
import { BanTotals } from './ban-totals.js';
import { ChangeLog, THIS_HOST_ONLY, type ChangeKind, type ChangeQuery, type StoredChange } from './change-log.js';
import { FleetCursors } from './fleet-cursors.js';
import { FleetPushBase } from './fleet-push-base.js';
import { asDamaged, checkProblems, DatabaseDamagedError } from './damage.js';
import { Escalations, type EscalationCount, type EscalationQuery } from './escalations.js';
import { FailureCounters, type FailureCounter } from './failure-counters.js';
import { openDatabase, type OpenedDatabase, type OpenOptions } from './open.js';
import { ReadPositions } from './read-positions.js';
import { inAddressRuns } from './address-runs.js';
import { dropIndexes } from './deferred-indexes.js';
import { inJailAddressOrder } from './index-order.js';
import type { MigrationReport } from './migrations.js';

export interface BulkBanReport {
  readonly new: number;
  readonly extended: number;
  readonly kept: number;
}

/** A ban the daemon decided, maybe a while before it could be written: `bannedAt` is when. */
export interface DecidedBan extends BanRequest {
  readonly bannedAt: number;
}

/** What one batch of log lines caused, committed together: a crash leaves all of it or none. */
export interface LogBatchCommit {
  readonly bans: readonly DecidedBan[];
  /** Iterated once when written, and again only if it could not be (see JailEngine.takeChanges). */
  readonly counters: Iterable<FailureCounter>;
  readonly positions: readonly LogPosition[];
  readonly cursors?: readonly JournalCursor[];
}

/** A decision of another host of a fleet, as this host takes it in (src/fleet/). */
export interface FleetEvent {
  readonly kind: ChangeKind;
  /** The host that decided it. */
  readonly origin: string;
  readonly address: string;
  readonly jail: string;
  /** The ban's expiry (the lifted ban's for 'lift'); null = permanent. */
  readonly expiresAt: number | null;
  /** When the origin decided it, by its clock. */
  readonly at: number;
  /**
   * 'lift' only: whether it lifts this host's own ban too (not only one that came from the fleet):
   * false in a jail this host does not share, whose bans the fleet never saw.
   */
  readonly liftsOwn?: boolean;
}

/** Who is told of a lift: a fleet this host is in (its pusher sends it), or this host alone (`unban --local`). */
export type LiftScope = 'fleet' | 'host';

/** SQLite's page cache while the bans are scanned: negative, in KiB (see scanned). */
const SCAN_CACHE_KIB = -2048;

const originOf = (scope: LiftScope): string | null => (scope === 'host' ? THIS_HOST_ONLY : null);

/** What taking in a fleet's events did here. */
export interface FleetApplyReport {
  readonly banned: number;
  readonly extended: number;
  readonly lifted: number;
  /** Already banned as long, expired, or a lift that found nothing it may lift. */
  readonly kept: number;
}

/**
 * The SQLite ban store: one database handle, a module per table (bans.ts, failure-counters.ts,
 * read-positions.ts, change-log.ts) and here the transactions, which may span tables, and what
 * a damaged file does to each operation.
 */
export class BanStore {
  readonly migration: MigrationReport;
  private readonly path: string;
  private readonly db: Database.Database;
  private readonly bansTable: Bans;
  private readonly counters: FailureCounters;
  private readonly positions: ReadPositions;
  private readonly changes: ChangeLog;
  private readonly fleetCursors: FleetCursors;
  private readonly fleetPushBase: FleetPushBase;
  /** Made by the first banTotals(), then kept up to date. */
  private totals: BanTotals | undefined;
  private escalationCounts: Escalations | undefined;
  private statistics: BanStatistics | undefined;
  private damageTold = false;
  private damageListener: ((error: DatabaseDamagedError) => void) | undefined;
  private dataVersionQuery: Database.Statement<[], number> | undefined;

  constructor(opened: OpenedDatabase) {
    this.db = opened.db;
    this.path = opened.path;
    this.migration = opened.migration;
    this.bansTable = new Bans(this.db);
    this.counters = new FailureCounters(this.db);
    this.positions = new ReadPositions(this.db);
    this.changes = new ChangeLog(this.db);
    this.fleetCursors = new FleetCursors(this.db);
    this.fleetPushBase = new FleetPushBase(this.db);
  }

  /** Opens (creating, unless told not to, and migrating as needed) the store at `path`; see openDatabase. */
  static open(path: string, options: OpenOptions = {}): BanStore {
    // Statements are prepared at their first use; the schema they read, openDatabase has read.
    return new BanStore(openDatabase(path, options));
  }

  close(): void {
    this.db.close();
  }

  /**
   * How long a write waits for another process's transaction before failing with SQLITE_BUSY.
   * The daemon keeps it short and retries on its own: a long wait would stall its event loop.
   */
  setBusyTimeout(ms: number): void {
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.round(ms))}`);
  }

  /**
   * Calls `listener` the first time an operation finds the database damaged (each such operation
   * still throws a DatabaseDamagedError): the daemon says so once instead of on every tick.
   */
  onDamage(listener: (error: DatabaseDamagedError) => void): void {
    this.damageListener = listener;
  }

  /**
   * Reads every page (SQLite's quick_check: as long as reading the whole file) and throws a
   * DatabaseDamagedError naming the first problem found.
   */
  checkPages(): void {
    const [problem] = checkProblems([String(this.guard(() => this.db.pragma('quick_check(1)', { simple: true })))]);
    if (problem !== undefined) throw this.damaged(new DatabaseDamagedError(this.path, problem));
  }

  /** `error` as a DatabaseDamagedError when it says the file is damaged (the first one is told to the listener). */
  private damaged(error: unknown): unknown {
    const damaged = asDamaged(this.path, error);
    if (damaged instanceof DatabaseDamagedError && this.damageListener && !this.damageTold) {
      this.damageTold = true;
      this.damageListener(damaged);
    }
    return damaged;
  }

  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      throw this.damaged(error);
    }
  }

  /** A streamed read; an error in the middle of reading says which file is damaged. */
  private *guarded<T>(bans: () => IterableIterator<T>): IterableIterator<T> {
    try {
      yield* bans();
    } catch (error) {
      throw this.damaged(error);
    }
  }

  /**
   * A full read of the bans through a small page cache, then what it left there released: a scan
   * of a large table evicts its own pages before anything reads them again, and a cache still full
   * when this process next forks (every firewall command does) costs a page fault for each of its
   * pages when it is freed: 90 ms of CPU at close after a restore of 100,000 bans. Released after
   * a scan through the whole 16 MiB cache, that still took 40-50 ms of CPU (the restore's runs had
   * forked the process during the scan); 8-10 ms from the small cache, and the scan no slower.
   */
  private *scanned<T>(bans: () => IterableIterator<T>): IterableIterator<T> {
    // Nothing else runs on the connection while a statement iterates (better-sqlite3 refuses it): no other scan overlaps.
    const cacheSize = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma(`cache_size = ${SCAN_CACHE_KIB}`);
    // guarded() written out: one generator less for every row to pass through.
    try {
      yield* bans();
    } catch (error) {
      throw this.damaged(error);
    } finally {
      // Also when the reader stops early (a for-of's break ends the statement first).
      if (this.db.open) this.db.pragma(`cache_size = ${cacheSize}`);
    }
    this.db.pragma('shrink_memory');
  }

  /** Appends what a write did to the change log, in the write's transaction. */
  private logged<Outcome extends string>(write: BanWrite<Outcome>, now: number): Outcome {
    if (write.ban !== null && (write.outcome === 'new' || write.outcome === 'extended')) {
      this.changes.append(write.outcome === 'new' ? 'ban' : 'extend', write.ban, now, write.previousExpiresAt);
    }
    return write.outcome;
  }

  private banInTransaction(request: BanRequest, now: number): BanResult {
    const write = this.bansTable.record(request, now);
    return { ban: write.ban, change: this.logged(write, now) };
  }

  /**
   * Records a ban. An active ban of the same address in the same jail is extended (later expiry
   * wins, permanent wins) instead of duplicated; an expired one is closed as history first.
   */
  ban(request: BanRequest, now: number): BanResult {
    return this.guard(() => this.db.transaction(() => this.banInTransaction(request, now)).immediate());
  }

  /**
   * Records many bans in one transaction: all of them or, on error, none. Into an empty table they
   * are written sorted by jail and address, with the indexes made after them (see
   * banManyIntoEmpty); otherwise in runs sorted by address (see inAddressRuns). Either way each
   * ban's change row follows the order of the writes, not of `requests`; the bans of one address
   * and jail keep their order.
   */
  banMany(requests: Iterable<BanRequest>, now: number): BulkBanReport {
    return this.guard(() => this.db.transaction(() => {
      if (this.bansTable.isEmpty()) return this.banManyIntoEmpty(requests, now);
      const report: Record<BanChange, number> = { new: 0, extended: 0, kept: 0 };
      // The new bans recordFirst wrote (the rows after `from`) get their change rows all at once,
      // before any other change is logged: the log keeps the order of the writes.
      let from: number | undefined;
      for (const run of inAddressRuns(requests)) {
        for (const request of run) {
          const id = this.bansTable.recordFirst(request, now);
          if (id !== undefined) {
            report.new++;
            from ??= id - 1;
            continue;
          }
          if (from !== undefined) this.changes.appendBansAfter(from, now);
          from = undefined;
          report[this.banInTransaction(request, now).change]++;
        }
        // After each run, while its bans rows are still in SQLite's cache.
        if (from !== undefined) this.changes.appendBansAfter(from, now);
        from = undefined;
      }
      return report;
    }).immediate());
  }

  /**
   * banMany's transaction on a table with no row (a first import): the table's indexes are dropped
   * and made again at the end, each with one sort (1,000,000 bans: SQLite no longer writes each
   * index page many times over). The requests are written in the order of the open bans' (jail,
   * address) index (see inJailAddressOrder): `list` reads the table in its storage order, and each
   * index is made from rows nearly in its order. The requests of an (address, jail) come together,
   * so the row a later one meets is the one just written.
   */
  private banManyIntoEmpty(requests: Iterable<BanRequest>, now: number): BulkBanReport {
    const report: Record<BanChange, number> = { new: 0, extended: 0, kept: 0 };
    const remake = dropIndexes(this.db, 'bans');
    const sorted = inJailAddressOrder(requests);
    let latest = 0;
    // sorted[start, at) are the first requests of their (address, jail): written all at once, then
    // their change rows, before the next request, which meets the row just written.
    let start = 0;
    for (let at = 0; at <= sorted.length; at++) {
      const request = sorted[at];
      const previous = sorted[at - 1];
      if (request !== undefined && (previous === undefined || request.address !== previous.address || request.jail !== previous.jail)) continue;
      if (at > start) {
        latest = this.bansTable.insertFirstAll(sorted.slice(start, at), now);
        this.changes.appendBansAfter(latest - (at - start), now);
        report.new += at - start;
      }
      start = at + 1;
      if (request === undefined) break;
      const write = this.bansTable.record(request, now, this.bansTable.byId(latest));
      report[this.logged(write, now)]++;
      if (write.outcome === 'new') latest = this.bansTable.latestId();
    }
    remake();
    return report;
  }

  /**
   * Brings in bans recorded elsewhere, with their own times and counts, in one transaction (all or
   * none). Safe to repeat: a ban already here with the same address, jail and time of ban is kept
   * as it is, so importing the same records twice changes nothing. An active record meeting an
   * open ban of its address and jail joins it (the later expiry and the higher count win; it is
   * not counted as one more ban). An expired record becomes history, but only for an address and
   * jail this store had no rows of: its own history is the truth where it has some.
   */
  importBans(records: Iterable<BanRecord>, now: number): RecordImportReport {
    // Oldest first, so row ids follow time: the newest row of an (address, jail) stays the open one.
    const ordered = [...records].sort((a, b) => a.bannedAt - b.bannedAt);
    return this.guard(() => this.db.transaction(() => {
      const report = { new: 0, extended: 0, history: 0, kept: 0 };
      const unknownBefore = new Map<string, boolean>();
      for (const record of ordered) {
        const key = `${record.jail} ${record.address}`;
        const latest = this.bansTable.latest(record.address, record.jail);
        if (!unknownBefore.has(key)) unknownBefore.set(key, latest === undefined);
        report[this.logged(this.bansTable.import(record, latest, unknownBefore.get(key) === true, now), now)]++;
      }
      return report;
    }).immediate());
  }

  /** Lifts the active ban of `address` in `jail`, or in every jail when `jail` is undefined; `scope` says who is told. */
  lift(address: string, jail: string | undefined, by: string, now: number, scope: LiftScope = 'fleet'): Ban[] {
    return this.guard(() => this.db.transaction(() => this.logLift(this.bansTable.lift(address, jail, by, now), now, scope)).immediate());
  }

  /**
   * An unban by hand: lifts the active bans of each of `addresses` as lift() does, and drops every
   * jail's counted failures of them, which start afresh. One transaction, so one commit (and one
   * fsync) however many addresses.
   */
  unban(addresses: readonly string[], jail: string | undefined, by: string, now: number, scope: LiftScope = 'fleet'): Ban[] {
    return this.guard(() => this.db.transaction(() => {
      const lifted = this.logLift(addresses.flatMap((address) => this.bansTable.lift(address, jail, by, now)), now, scope);
      for (const address of addresses) this.counters.forget(address);
      return lifted;
    }).immediate());
  }

  /** unban() of every active ban (only those of `jail`, when given), in one transaction. */
  unbanEvery(jail: string | undefined, by: string, now: number, scope: LiftScope = 'fleet'): Ban[] {
    return this.guard(() => this.db.transaction(() => {
      const lifted = this.logLift([...this.bansTable.active(now, jail)].flatMap((ban) => this.bansTable.lift(ban.address, ban.jail, by, now)), now, scope);
      for (const address of new Set(lifted.map((ban) => ban.address))) this.counters.forget(address);
      return lifted;
    }).immediate());
  }

  private logLift(lifted: Ban[], now: number, scope: LiftScope): Ban[] {
    for (const ban of lifted) this.changes.append('lift', ban, now, null, originOf(scope));
    return lifted;
  }

  /** Active bans, ordered by jail then address; streamed, so a million rows never sit in memory. */
  active(now: number, jail?: string): IterableIterator<Ban> {
    return this.guarded(() => this.bansTable.active(now, jail));
  }

  /**
   * Active bans ordered by address, so the bans of one address come together and can be merged
   * while streaming (exports); in one jail when `jail` is given.
   */
  activeByAddress(now: number, jail?: string): IterableIterator<Ban> {
    return this.guarded(() => this.bansTable.activeByAddress(now, jail));
  }

  /** Active bans in no particular order: the fastest full read, for reconciling. */
  activeAnyOrder(now: number): IterableIterator<Ban> {
    return this.scanned(() => this.bansTable.activeAnyOrder(now));
  }

  /** What the firewalls need of the active bans (see EnforcedBan), in no particular order: what a full reconcile reads. */
  activeEnforced(now: number): IterableIterator<EnforcedBan> {
    return this.scanned(() => this.bansTable.activeEnforced(now));
  }

  /** This host's own active bans (none taken from a fleet) with their row ids: what a host joining a fleet shares. */
  activeOwn(now: number): StoredBan[] {
    return this.guard(() => [...this.bansTable.activeOwn(now)]);
  }

  /** How many own active bans activeOwn() would give, in `jails` only when given: counted, not read. */
  countActiveOwn(now: number, jails?: readonly string[]): number {
    return this.guard(() => this.bansTable.countActiveOwn(now, jails));
  }

  /** Every ban, active or not, oldest first. */
  all(jail?: string): IterableIterator<Ban> {
    return this.guarded(() => this.bansTable.all(jail));
  }

  /** Every ban of exactly this address, oldest first. */
  history(address: string): Ban[] {
    return this.guard(() => this.bansTable.history(address));
  }

  /** Every ban of exactly this address, oldest first, with why each was made (show). */
  historyWithWhy(address: string): (Ban & BanWhy)[] {
    return this.guard(() => this.bansTable.historyWithWhy(address));
  }

  /** Active bans of networks that contain `address` (other than the address itself). */
  coveringNetworks(address: string, now: number): Ban[] {
    const target = tryParseAddress(address);
    return target ? this.guard(() => this.bansTable.activeNetworks([target.text], now)).get(target.text) ?? [] : [];
  }

  /** The active bans that block `address`: its own, in every jail, and those of networks covering it. */
  activeTouching(address: string, now: number): Ban[] {
    return [...this.history(address).filter((ban) => isActive(ban, now)), ...this.coveringNetworks(address, now)];
  }

  /** activeTouching of each of `addresses` (canonical text), in one query for their own bans and one per family for networks. */
  activeTouchingAll(addresses: readonly string[], now: number): Map<string, Ban[]> {
    const out = new Map(addresses.map((address): [string, Ban[]] => [address, []]));
    if (addresses.length === 0) return out;
    for (const ban of this.guard(() => this.bansTable.activeOf(addresses, now))) out.get(ban.address)?.push(ban);
    for (const [address, networks] of this.guard(() => this.bansTable.activeNetworks(addresses, now))) out.get(address)?.push(...networks);
    return out;
  }

  /** The jails holding at least one active ban. */
  activeJails(now: number): string[] {
    return this.guard(() => this.bansTable.activeJails(now));
  }

  /** When the next active ban expires (epoch seconds), or null when none will. */
  nextExpiry(now: number): number | null {
    return this.guard(() => this.bansTable.nextExpiry(now));
  }

  /** The bans that ended by expiring in (after, upTo] (epoch seconds), in the order they ended. */
  expiredBetween(after: number, upTo: number): { address: string; jail: string }[] {
    return this.guard(() => this.bansTable.expiredBetween(after, upTo));
  }

  /** Changes whenever another connection (a CLI call, another process) commits: a cheap "anything new?". */
  dataVersion(): number {
    // Prepared once: the daemon asks for each batch of lines, and preparing it each time took a quarter of a millisecond on a busy database.
    return this.guard(() => (this.dataVersionQuery ??= this.db.prepare<[], number>('PRAGMA data_version').pluck()).get() as number);
  }

  /** Per jail: bans active now, and every ban ever recorded (for status). */
  jailCounts(now: number): Map<string, { active: number; total: number }> {
    return this.guard(() => this.bansTable.jailCounts(now));
  }

  /** Counts of the bans made in a period, per jail, hour, day, source, network and address (`stats`). */
  stats(query: StatsQuery): BanStats {
    return this.guard(() => this.statisticsTable().stats(query));
  }

  /** Every jail that holds or held a ban, by name. */
  jailsWithBans(): string[] {
    return this.guard(() => this.statisticsTable().jails());
  }

  /** Prepared on first use: only `stats` needs its statements. */
  private statisticsTable(): BanStatistics {
    return (this.statistics ??= new BanStatistics(this.db));
  }

  /** Per jail: how many addresses have counted failures (for status when no daemon runs). */
  failureCounterCounts(): Map<string, number> {
    return this.guard(() => this.counters.counts());
  }

  /** The newest ban of `address` in `jail`, active or not, with why it was made (for show and action.d tags). */
  banDetails(address: string, jail: string): (Ban & BanWhy & AddressWhy) | undefined {
    return this.guard(() => this.bansTable.details(address, jail));
  }

  /** Where `path` was read up to by an earlier run, if it was. */
  logPosition(path: string): LogPosition | undefined {
    return this.guard(() => this.positions.logPosition(path));
  }

  /** Where reading the journal `source` stood after an earlier run, if it was read. */
  journalCursor(source: string): JournalCursor | undefined {
    return this.guard(() => this.positions.journalCursor(source));
  }

  /** A jail's persisted failure counters, by address. */
  failureCounters(jail: string): Map<string, string> {
    return this.guard(() => this.counters.ofJail(jail));
  }

  /** Drops every jail's counted failures of `address` (it was unbanned by hand: it starts afresh). */
  forgetFailures(address: string): void {
    this.guard(() => this.counters.forget(address));
  }

  /**
   * How often `address` was banned before: in `jail` (the highest ban_count of its rows: a ban
   * lengthened while in force counts, as do the counts imported from fail2ban), or in every jail
   * when `jail` is undefined (that count of each jail, summed) — for bantime.increment.
   */
  previousBans(address: string, jail: string | undefined): number {
    return this.guard(() => this.bansTable.previousBans(address, jail));
  }

  /** The id of the newest ban row: bans recorded later have higher ids (see recentBanCounts). */
  latestBanId(): number {
    return this.guard(() => this.bansTable.latestId());
  }

  /**
   * For a `source = bans` jail: the addresses banned anew in the `jails` selected in ban rows
   * `after` < id <= `upTo` (see latestBanId), each with how many bans of it those jails recorded
   * since `since` (epoch seconds), when that is at least `least` (a bulk import of a million bans
   * returns none of its addresses banned once). A ban lengthened while in force counts once.
   */
  recentBanCounts(after: number, upTo: number, jails: JailSelection, since: number, least: number): Map<string, number> {
    return this.guard(() => this.bansTable.recentBanCounts(after, upTo, jails, since, least));
  }

  /**
   * For `status` of a `source = bans` jail: how many addresses have a ban in the `jails` selected
   * since `since` and are not banned in `jail` now (its "currently failed").
   */
  offenders(jail: string, jails: JailSelection, since: number, now: number): number {
    return this.guard(() => this.bansTable.offenders(jail, jails, since, now));
  }

  /** How many bans the `jails` selected recorded in rows after `after` (see latestBanId). */
  bansAfter(after: number, jails: JailSelection): number {
    return this.guard(() => this.bansTable.bansAfter(after, jails));
  }

  /**
   * For a jail's `escalate`/`escalate6`: the networks of `query.prefix` bits holding an address banned
   * in the jail in rows `after` < id <= `upTo` (see latestBanId) that have at least `least` distinct
   * addresses (or narrower networks) banned in it since `since`, with the longest of their bantimes.
   */
  escalations(query: EscalationQuery): EscalationCount[] {
    // Prepared on first use: only a daemon with escalating jails needs it (and its SQL function).
    return this.guard(() => (this.escalationCounts ??= new Escalations(this.db)).networks(query));
  }

  /**
   * Commits what one batch of log lines caused in one transaction: the bans, the failure counters
   * and the positions the lines were read up to. After a crash either all of it is there (and the
   * lines are not read again) or none (and they are).
   */
  commitLogBatch(batch: LogBatchCommit, now: number): BanResult[] {
    return this.guard(() => this.db.transaction(() => {
      const results = batch.bans.map((request) => this.banInTransaction(request, request.bannedAt));
      this.counters.save(batch.counters, now);
      this.positions.save(batch.positions, batch.cursors ?? [], now);
      return results;
    }).immediate());
  }

  /** Deletes history that ended before `before`, and the changes made before it; returns how many bans rows went. */
  purgeHistory(before: number): number {
    return this.guard(() => this.db.transaction(() => {
      this.changes.pruneBefore(before);
      return this.bansTable.purge(before);
    }).immediate());
  }

  /** Names the process in every change this connection records from now on ('cli' until told). */
  setChangeWriter(writer: string): void {
    this.changes.writer = writer;
  }

  /** The changes `query` asks for (ids are change ids), oldest first. */
  changesAfter(query: ChangeQuery): StoredChange[] {
    return this.guard(() => this.changes.after(query));
  }

  /** The id of the oldest change still kept (older ones were pruned), if any is. */
  oldestChange(): number | undefined {
    return this.guard(() => this.changes.oldest());
  }

  /** The id of the latest change ever recorded, also when it was pruned since (0 before the first). */
  latestChange(): number {
    return this.guard(() => this.changes.latest());
  }

  /** Where `reader` stood in the change log when it last said (see advanceChangeReader). */
  changeReader(reader: string): number | undefined {
    return this.guard(() => this.changes.reader(reader));
  }

  /**
   * Takes in other hosts' decisions, in order, and records that the fleet `fleet` was read up to
   * `upTo`, in one transaction: after a crash either both are there or neither. When the events
   * change nothing, nothing is written, not even the cursor (the caller saves it with
   * saveFleetCursor on the daemon's connection: a commit here that changes no ban would send the
   * daemon to a full reconcile, and taking such events in again changes nothing). A ban is stored
   * with source `fleet` and its origin (extending this host's own ban of the same jail, if any).
   * A lift never lifts a ban this host made or extended after it: the caller passes over a lift
   * that this host's own later event follows in the fleet's order, and here, in the transaction
   * that would lift, a ban or extension not pushed yet (it will follow the lift) keeps the ban.
   * Each change is logged with its origin, so the daemon applies it and the fleet does not push it
   * back.
   */
  applyFleet(fleet: string, events: readonly FleetEvent[], upTo: number, now: number): FleetApplyReport {
    return this.guard(() => this.db.transaction(() => {
      const report = { banned: 0, extended: 0, lifted: 0, kept: 0 };
      for (const event of events) {
        if (event.kind === 'lift') {
          const lifted = this.changes.ownUnpushed(event.address, event.jail) ? []
            : this.bansTable.liftFleet(event.address, event.jail, event.liftsOwn === true, `fleet:${event.origin}`, now);
          for (const ban of lifted) this.changes.append('lift', ban, now, null, event.origin);
          report[lifted.length > 0 ? 'lifted' : 'kept']++;
          continue;
        }
        if (event.expiresAt !== null && event.expiresAt <= now) {
          report.kept++;
          continue;
        }
        const write = this.bansTable.record({
          address: event.address, jail: event.jail, expiresAt: event.expiresAt, source: 'fleet', origin: event.origin,
          reason: `from ${event.origin}`,
        }, now);
        if (write.outcome === 'kept') {
          report.kept++;
          continue;
        }
        this.changes.append(write.outcome === 'new' ? 'ban' : 'extend', write.ban, now, write.previousExpiresAt, event.origin);
        report[write.outcome === 'new' ? 'banned' : 'extended']++;
      }
      if (report.banned + report.extended + report.lifted > 0) this.fleetCursors.save(fleet, upTo, now);
      return report;
    }).immediate());
  }

  /**
   * Lifts the fleet bans of the jails `jails` picks that `current`, the fleet's active bans, no
   * longer holds: for a host that was forgotten, whose missed lifts may have been pruned. Logged
   * with their origin, so nothing is pushed back. Returns how many were lifted.
   */
  liftFleetBansGone(current: readonly FleetEvent[], jails: (jail: string) => boolean, now: number): number {
    const held = new Set(current.map((event) => `${event.jail} ${event.address}`));
    return this.guard(() => this.db.transaction(() => {
      let lifted = 0;
      for (const ban of this.bansTable.activeFleet(now)) {
        if (!jails(ban.jail) || held.has(`${ban.jail} ${ban.address}`)) continue;
        for (const gone of this.bansTable.liftFleet(ban.address, ban.jail, false, 'fleet:gone', now)) {
          this.changes.append('lift', gone, now, null, gone.origin ?? THIS_HOST_ONLY);
          lifted++;
        }
      }
      return lifted;
    }).immediate());
  }

  /** Records that `fleet` was read up to `upTo` (events that changed nothing: see applyFleet). */
  saveFleetCursor(fleet: string, upTo: number, now: number): void {
    this.guard(() => this.fleetCursors.save(fleet, upTo, now));
  }

  /** The fleet event id this host took in last from `fleet`, if it ever did. */
  fleetCursor(fleet: string): number | undefined {
    return this.guard(() => this.fleetCursors.get(fleet));
  }

  /** What the fleet events `reader` pushes are numbered from, once it joined (see src/fleet/pusher.ts). */
  pushBase(reader: string): number | undefined {
    return this.guard(() => this.fleetPushBase.get(reader));
  }

  savePushBase(reader: string, base: number): void {
    this.guard(() => this.fleetPushBase.save(reader, base));
  }

  /**
   * Records where `reader` stands without deleting what every reader has taken in: a reader that
   * may run ahead of another not yet saved (a fleet's pusher ahead of a daemon's first cursor)
   * leaves the deleting to the next advanceChangeReader.
   */
  markChangeReader(reader: string, after: number, now: number): void {
    this.guard(() => this.changes.mark(reader, after, now));
  }

  /** `reader` has taken in every change up to `after`: changes every reader has taken in are deleted. */
  advanceChangeReader(reader: string, after: number, now: number): void {
    this.guard(() => this.db.transaction(() => {
      this.totals?.takeChanges();
      this.changes.advance(reader, after, now);
    }).immediate());
  }

  /**
   * Active bans and what happened to bans since the first call, per jail and source (for
   * metrics): the first call counts the active bans, later ones read only what changed since.
   */
  banTotals(now: number): BanCounts {
    return this.guard(() => {
      this.totals ??= new BanTotals(this.db, () => this.changes.latest());
      return this.totals.read(now);
    });
  }

  /** The database file's size in bytes (its pages; the WAL beside it not counted). */
  databaseBytes(): number {
    return this.guard(() => (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number));
  }
}

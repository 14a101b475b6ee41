import type Database from 'better-sqlite3';
import { contains, isActive, laterExpiry, storedTime, tryParseAddress, type Address, type Ban, type BanRequest, type BanSource, type JournalCursor, type LogPosition } from '../core/index.js';
import { ChangeLog, type ChangeQuery, type StoredChange } from './change-log.js';
import { asDamaged, checkProblems, DatabaseDamagedError } from './damage.js';
import { openDatabase, type OpenedDatabase, type OpenOptions } from './open.js';
import type { MigrationReport } from './migrations.js';

interface BanRow {
  address: string;
  prefix: number | null;
  jail: string;
  banned_at: number;
  expires_at: number | null;
  source: BanSource;
  reason: string | null;
  failures: number;
  ban_count: number;
  lifted_at: number | null;
  lifted_by: string | null;
  forced: number;
}

const COLUMNS = 'address, prefix, jail, banned_at, expires_at, source, reason, failures, ban_count, lifted_at, lifted_by, forced';
const ACTIVE = 'lifted_at IS NULL AND (expires_at IS NULL OR expires_at > @now)';

/** A stored count; anything but a number (a row written by hand) reads as `fallback`. */
function storedCount(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/**
 * A row as a Ban. Rows are taken as they are on disk, which may be beyond what f2b-store writes
 * (an expiry in the year 1,000,000 or text, from an old version or sqlite3 by hand): times are
 * held to what can be computed and printed, so one such row never stops a reader, and a later
 * ban compares with the held value.
 */
function toBan(row: BanRow): Ban {
  return {
    address: row.address,
    jail: row.jail,
    bannedAt: storedTime(row.banned_at),
    expiresAt: row.expires_at === null ? null : storedTime(row.expires_at),
    source: row.source,
    reason: row.reason,
    failures: storedCount(row.failures, 0),
    banCount: storedCount(row.ban_count, 1),
    liftedAt: row.lifted_at === null ? null : storedTime(row.lifted_at),
    liftedBy: row.lifted_by,
    // Only what `--force` writes counts: anything else written there by hand is no override.
    forced: row.forced === 1,
  };
}

/** A stored ban with its row id. */
interface StoredBan {
  readonly id: number;
  readonly ban: Ban;
}

/** What a ban request did: a new row, a longer existing ban, or nothing (already banned at least as long). */
export type BanChange = 'new' | 'extended' | 'kept';

export interface BanResult {
  readonly ban: Ban;
  readonly change: BanChange;
}

export interface BulkBanReport {
  readonly new: number;
  readonly extended: number;
  readonly kept: number;
}


/** A jail's counted failures of one address, as the engine persists them; `state` null deletes them. */
export interface FailureCounter {
  readonly jail: string;
  readonly address: string;
  readonly state: string | null;
}

/** A ban the daemon decided, maybe a while before it could be written: `bannedAt` is when. */
export interface DecidedBan extends BanRequest {
  readonly bannedAt: number;
}

/** What one batch of log lines caused, committed together: a crash leaves all of it or none. */
export interface LogBatchCommit {
  readonly bans: readonly DecidedBan[];
  readonly counters: readonly FailureCounter[];
  readonly positions: readonly LogPosition[];
  readonly cursors?: readonly JournalCursor[];
}

/**
 * A ban as another system recorded it (fail2ban's database): brought in with its own time of ban,
 * expiry and count instead of now's.
 */
export interface BanRecord {
  /** Canonical text, as `Address.text`. */
  readonly address: string;
  readonly jail: string;
  readonly bannedAt: number;
  /** null = permanent. */
  readonly expiresAt: number | null;
  readonly banCount: number;
  readonly source: BanSource;
  readonly failures?: number;
  readonly matches?: readonly string[];
  /** Imported with `--force` past the lockout floor (see BanRequest.forced). */
  readonly forced?: boolean;
}

/** What importing records did: active bans new or lengthened, past ones kept as history, the rest already here. */
export interface RecordImportReport {
  readonly new: number;
  readonly extended: number;
  readonly history: number;
  readonly kept: number;
}

function prefixOf(address: string): number | null {
  const slash = address.indexOf('/');
  return slash === -1 ? null : Number(address.slice(slash + 1));
}

/** The SQLite ban store. The only code that speaks SQL about bans. */
export class BanStore {
  readonly migration: MigrationReport;
  private readonly path: string;
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly changes: ChangeLog;
  private damageTold = false;
  private damageListener: ((error: DatabaseDamagedError) => void) | undefined;

  constructor(opened: OpenedDatabase) {
    this.db = opened.db;
    this.path = opened.path;
    this.migration = opened.migration;
    const db = this.db;
    this.changes = new ChangeLog(db);
    this.stmt = {
      // The open ban, if any, is always the newest row of its (address, jail): see banInTransaction.
      latest: db.prepare<[string, string], BanRow & { id: number }>(
        `SELECT id, ${COLUMNS} FROM bans WHERE address = ? AND jail = ? ORDER BY id DESC LIMIT 1`),
      closeExpired: db.prepare('UPDATE bans SET lifted_at = expires_at, lifted_by = \'expired\' WHERE id = ?'),
      sameBan: db.prepare<[string, string, number], { id: number }>(
        'SELECT id FROM bans WHERE address = ? AND jail = ? AND banned_at = ? LIMIT 1'),
      merge: db.prepare(
        `UPDATE bans SET expires_at = @expiresAt, ban_count = @banCount, failures = max(failures, @failures),
           matches = coalesce(matches, @matches), forced = max(forced, @forced) WHERE id = @id`),
      insertLifted: db.prepare(
        `INSERT INTO bans (address, prefix, jail, banned_at, expires_at, source, failures, matches, ban_count, lifted_at, lifted_by, forced)
         VALUES (@address, @prefix, @jail, @banned_at, @expires_at, @source, @failures, @matches, @ban_count, @expires_at, 'expired', @forced)`),
      extend: db.prepare<unknown[], BanRow>(
        `UPDATE bans SET expires_at = @expiresAt, ban_count = ban_count + 1, reason = coalesce(@reason, reason),
           failures = max(failures, @failures), matches = coalesce(@matches, matches), forced = max(forced, @forced)
         WHERE id = @id RETURNING ${COLUMNS}`),
      insert: db.prepare(
        `INSERT INTO bans (address, prefix, jail, banned_at, expires_at, source, reason, failures, matches, ban_count, forced)
         VALUES (@address, @prefix, @jail, @banned_at, @expires_at, @source, @reason, @failures, @matches, @ban_count, @forced)`),
      liftOne: db.prepare<unknown[], BanRow>(
        `UPDATE bans SET lifted_at = @now, lifted_by = @by
         WHERE address = @address AND jail = @jail AND ${ACTIVE} RETURNING ${COLUMNS}`),
      liftAll: db.prepare<unknown[], BanRow>(
        `UPDATE bans SET lifted_at = @now, lifted_by = @by
         WHERE address = @address AND ${ACTIVE} RETURNING ${COLUMNS}`),
      active: db.prepare<unknown[], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE ${ACTIVE} ORDER BY jail, address`),
      // Storage order: a sequential read of the table, not a walk of the index through random pages.
      activeAnyOrder: db.prepare<unknown[], BanRow>(`SELECT ${COLUMNS} FROM bans NOT INDEXED WHERE ${ACTIVE}`),
      activeInJail: db.prepare<unknown[], BanRow>(
        `SELECT ${COLUMNS} FROM bans WHERE jail = @jail AND ${ACTIVE} ORDER BY address`),
      // Walks the open-bans index on (address, jail): in order, without sorting.
      activeByAddress: db.prepare<unknown[], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE ${ACTIVE} ORDER BY address, jail`),
      all: db.prepare<[], BanRow>(`SELECT ${COLUMNS} FROM bans ORDER BY banned_at, id`),
      allInJail: db.prepare<[string], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE jail = ? ORDER BY banned_at, id`),
      ofAddress: db.prepare<[string], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE address = ? ORDER BY banned_at, id`),
      activeOfAddresses: db.prepare<unknown[], BanRow>(
        `SELECT ${COLUMNS} FROM bans WHERE address IN (SELECT value FROM json_each(@addresses)) AND ${ACTIVE} ORDER BY banned_at, id`),
      // IPv6 text has a colon and IPv4 text has none: the family filter costs nothing.
      activeNetworks: db.prepare<unknown[], BanRow>(
        `SELECT ${COLUMNS} FROM bans WHERE prefix IS NOT NULL AND prefix <= @prefix AND (instr(address, ':') > 0) = @v6
           AND ${ACTIVE} ORDER BY prefix, address`),
      // A skip-scan over the open-bans index: one seek per jail instead of reading every ban
      // (the daemon asks this on every drift-check tick).
      activeJails: db.prepare<unknown[], { jail: string }>(
        `WITH RECURSIVE open(jail) AS (
           SELECT min(jail) FROM bans WHERE lifted_at IS NULL
           UNION ALL
           SELECT (SELECT min(jail) FROM bans WHERE lifted_at IS NULL AND jail > open.jail) FROM open WHERE open.jail IS NOT NULL)
         SELECT jail FROM open WHERE jail IS NOT NULL
           AND EXISTS (SELECT 1 FROM bans AS b WHERE b.jail = open.jail AND b.lifted_at IS NULL
             AND (b.expires_at IS NULL OR b.expires_at > @now))`),
      nextExpiry: db.prepare<unknown[], { at: number | null }>(
        'SELECT min(expires_at) AS at FROM bans WHERE lifted_at IS NULL AND expires_at > @now'),
      latestWithMatches: db.prepare<[string, string], BanRow & { matches: string | null }>(
        `SELECT ${COLUMNS}, matches FROM bans WHERE address = ? AND jail = ? ORDER BY id DESC LIMIT 1`),
      position: db.prepare<[string], { path: string; device: number; inode: number; offset: number; head_hash: string }>(
        'SELECT path, device, inode, offset, head_hash FROM log_positions WHERE path = ?'),
      savePosition: db.prepare(
        `INSERT INTO log_positions (path, device, inode, offset, head_hash, updated_at) VALUES (@path, @device, @inode, @offset, @headHash, @now)
         ON CONFLICT (path) DO UPDATE SET device = excluded.device, inode = excluded.inode, offset = excluded.offset,
           head_hash = excluded.head_hash, updated_at = excluded.updated_at`),
      cursor: db.prepare<[string], { source: string; cursor: string; realtime: number }>(
        'SELECT source, cursor, realtime FROM journal_cursors WHERE source = ?'),
      saveCursor: db.prepare(
        `INSERT INTO journal_cursors (source, cursor, realtime, updated_at) VALUES (@source, @cursor, @realtime, @now)
         ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, realtime = excluded.realtime, updated_at = excluded.updated_at`),
      counters: db.prepare<[string], { address: string; state: string }>('SELECT address, state FROM failure_counters WHERE jail = ?'),
      saveCounter: db.prepare(
        `INSERT INTO failure_counters (jail, address, state, updated_at) VALUES (@jail, @address, @state, @now)
         ON CONFLICT (jail, address) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`),
      deleteCounter: db.prepare('DELETE FROM failure_counters WHERE jail = @jail AND address = @address'),
      deleteCountersOf: db.prepare('DELETE FROM failure_counters WHERE address = ?'),
      banCount: db.prepare<[string, string], { n: number | null }>('SELECT max(ban_count) AS n FROM bans WHERE address = ? AND jail = ?'),
      banCountAllJails: db.prepare<[string], { n: number | null }>('SELECT count(*) AS n FROM bans WHERE address = ?'),
      jailCounts: db.prepare<unknown[], { jail: string; active: number; total: number }>(
        `SELECT jail, sum(lifted_at IS NULL AND (expires_at IS NULL OR expires_at > @now)) AS active, count(*) AS total
         FROM bans GROUP BY jail ORDER BY jail`),
      counterCounts: db.prepare<[], { jail: string; n: number }>('SELECT jail, count(*) AS n FROM failure_counters GROUP BY jail'),
      purge: db.prepare(
        `DELETE FROM bans WHERE (lifted_at IS NOT NULL AND lifted_at < @before)
           OR (lifted_at IS NULL AND expires_at IS NOT NULL AND expires_at < @before)`),
    };
  }

  /** Opens (creating, unless told not to, and migrating as needed) the store at `path`; see openDatabase. */
  static open(path: string, options: OpenOptions = {}): BanStore {
    const opened = openDatabase(path, options);
    try {
      return new BanStore(opened);
    } catch (error) {
      // Preparing the statements reads the schema: the first page a damaged file may fail on.
      opened.db.close();
      throw asDamaged(path, error);
    }
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

  /** Rows as bans, streamed; an error in the middle of reading says which file is damaged. */
  private *bans(rows: IterableIterator<BanRow>): IterableIterator<Ban> {
    try {
      for (const row of rows) yield toBan(row);
    } catch (error) {
      throw this.damaged(error);
    }
  }

  /**
   * Records a ban. An active ban of the same address in the same jail is extended (later expiry
   * wins, permanent wins) instead of duplicated; an expired one is closed as history first.
   */
  ban(request: BanRequest, now: number): BanResult {
    return this.guard(() => this.db.transaction(() => this.banInTransaction(request, now)).immediate());
  }

  /** Records many bans in one transaction: all of them or, on error, none. */
  banMany(requests: Iterable<BanRequest>, now: number): BulkBanReport {
    return this.guard(() => this.db.transaction(() => {
      const report = { new: 0, extended: 0, kept: 0 };
      for (const request of requests) report[this.banInTransaction(request, now).change]++;
      return report;
    }).immediate());
  }

  /** The newest row of (address, jail), the open one if any: see banInTransaction. */
  private latest(address: string, jail: string): StoredBan | undefined {
    const row = this.stmt.latest.get(address, jail);
    return row && { id: row.id, ban: toBan(row) };
  }

  private banInTransaction(request: BanRequest, now: number): BanResult {
    // A new row is inserted only when no open one exists, and the unique index allows one open row
    // per (address, jail): so the newest row is the open one if any, and holds the highest ban_count.
    const latest = this.latest(request.address, request.jail);
    let open = latest?.ban.liftedAt === null ? latest : undefined;
    if (open && open.ban.expiresAt !== null && open.ban.expiresAt <= now) {
      this.stmt.closeExpired.run(open.id);
      open = undefined;
    }
    const matches = request.matches && request.matches.length > 0 ? JSON.stringify(request.matches) : null;
    const failures = request.failures ?? 0;
    const reason = request.reason ?? null;
    const forced = request.forced === true;
    if (open) {
      const expiresAt = laterExpiry(open.ban.expiresAt, request.expiresAt);
      if (expiresAt === open.ban.expiresAt && (open.ban.forced || !forced)) return { ban: open.ban, change: 'kept' };
      // UPDATE … RETURNING of an existing id always yields the row.
      const ban = toBan(this.stmt.extend.get({ id: open.id, expiresAt, reason, failures, matches, forced: Number(forced) }) as BanRow);
      this.changes.append('extend', ban, now, open.ban.expiresAt);
      return { ban, change: 'extended' };
    }
    const row: BanRow = {
      address: request.address,
      prefix: prefixOf(request.address),
      jail: request.jail,
      banned_at: now,
      expires_at: request.expiresAt,
      source: request.source,
      reason,
      failures,
      ban_count: (latest?.ban.banCount ?? 0) + 1,
      lifted_at: null,
      lifted_by: null,
      forced: Number(forced),
    };
    this.stmt.insert.run({ ...row, matches });
    const ban = toBan(row);
    this.changes.append('ban', ban, now);
    return { ban, change: 'new' };
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
        const latest = this.latest(record.address, record.jail);
        if (!unknownBefore.has(key)) unknownBefore.set(key, latest === undefined);
        report[this.importInTransaction(record, latest, unknownBefore.get(key) === true, now)]++;
      }
      return report;
    }).immediate());
  }

  private importInTransaction(
    record: BanRecord, latest: StoredBan | undefined, unknownBefore: boolean, now: number,
  ): keyof RecordImportReport {
    if (this.stmt.sameBan.get(record.address, record.jail, record.bannedAt)) return 'kept';
    const matches = record.matches && record.matches.length > 0 ? JSON.stringify(record.matches) : null;
    const failures = record.failures ?? 0;
    const row = {
      address: record.address,
      prefix: prefixOf(record.address),
      jail: record.jail,
      banned_at: record.bannedAt,
      expires_at: record.expiresAt,
      source: record.source,
      failures,
      matches,
      ban_count: Math.max(record.banCount, (latest?.ban.banCount ?? 0) + 1),
      forced: Number(record.forced === true),
    };
    let open = latest?.ban.liftedAt === null ? latest : undefined;
    if (record.expiresAt !== null && record.expiresAt <= now) {
      // A lifted row after an open one would hide it from banInTransaction (it reads the newest).
      if (!unknownBefore || open) return 'kept';
      this.stmt.insertLifted.run(row);
      return 'history';
    }
    if (open && open.ban.expiresAt !== null && open.ban.expiresAt <= now) {
      this.stmt.closeExpired.run(open.id);
      open = undefined;
    }
    if (open) {
      const expiresAt = laterExpiry(open.ban.expiresAt, record.expiresAt);
      const banCount = Math.max(open.ban.banCount, record.banCount);
      if (expiresAt === open.ban.expiresAt && banCount === open.ban.banCount && (open.ban.forced || !record.forced)) return 'kept';
      this.stmt.merge.run({ id: open.id, expiresAt, banCount, failures, matches, forced: row.forced });
      this.changes.append('extend', { ...open.ban, expiresAt, forced: open.ban.forced || row.forced === 1 }, now, open.ban.expiresAt);
      return 'extended';
    }
    this.stmt.insert.run({ ...row, reason: null });
    this.changes.append('ban', toBan({ ...row, reason: null, lifted_at: null, lifted_by: null }), now);
    return 'new';
  }

  /** Lifts the active ban of `address` in `jail`, or in every jail when `jail` is undefined. */
  lift(address: string, jail: string | undefined, by: string, now: number): Ban[] {
    return this.guard(() => this.db.transaction(() => {
      const rows = jail === undefined ? this.stmt.liftAll.all({ address, by, now }) : this.stmt.liftOne.all({ address, jail, by, now });
      const lifted = rows.map(toBan);
      for (const ban of lifted) this.changes.append('lift', ban, now);
      return lifted;
    }).immediate());
  }

  /** Active bans, ordered by jail then address; streamed, so a million rows never sit in memory. */
  *active(now: number, jail?: string): IterableIterator<Ban> {
    const rows = jail === undefined ? this.stmt.active.iterate({ now }) : this.stmt.activeInJail.iterate({ jail, now });
    yield* this.bans(rows);
  }

  /**
   * Active bans ordered by address, so the bans of one address come together and can be merged
   * while streaming (exports); in one jail when `jail` is given.
   */
  *activeByAddress(now: number, jail?: string): IterableIterator<Ban> {
    const rows = jail === undefined ? this.stmt.activeByAddress.iterate({ now }) : this.stmt.activeInJail.iterate({ jail, now });
    yield* this.bans(rows);
  }

  /** Active bans in no particular order: the fastest full read, for reconciling. */
  *activeAnyOrder(now: number): IterableIterator<Ban> {
    yield* this.bans(this.stmt.activeAnyOrder.iterate({ now }));
  }

  /** Every ban, active or not, oldest first. */
  *all(jail?: string): IterableIterator<Ban> {
    const rows = jail === undefined ? this.stmt.all.iterate() : this.stmt.allInJail.iterate(jail);
    yield* this.bans(rows);
  }

  /** Every ban of exactly this address, oldest first. */
  history(address: string): Ban[] {
    return this.guard(() => this.stmt.ofAddress.all(address)).map(toBan);
  }

  /** Active bans of networks that contain `address` (other than the address itself). */
  coveringNetworks(address: string, now: number): Ban[] {
    const target = tryParseAddress(address);
    return target ? this.activeNetworks([target], now).get(target.text) ?? [] : [];
  }

  /** For each of `targets`, the active bans of networks containing it (other than itself), in one query per family. */
  private activeNetworks(targets: readonly Address[], now: number): Map<string, Ban[]> {
    const out = new Map<string, Ban[]>();
    for (const family of [4, 6]) {
      const inFamily = targets.filter((t) => t.family === family);
      if (inFamily.length === 0) continue;
      const prefix = Math.max(...inFamily.map((t) => t.prefix));
      const rows = this.guard(() => this.stmt.activeNetworks.all({ now, prefix, v6: family === 6 ? 1 : 0 }));
      const networks = rows.flatMap((row) => {
        const network = tryParseAddress(row.address);
        return network ? [{ network, ban: toBan(row) }] : [];
      });
      for (const target of inFamily) {
        out.set(target.text, networks.filter(({ network, ban }) => ban.address !== target.text && contains(network, target)).map(({ ban }) => ban));
      }
    }
    return out;
  }

  /** The active bans that block `address`: its own, in every jail, and those of networks covering it. */
  activeTouching(address: string, now: number): Ban[] {
    return [...this.history(address).filter((ban) => isActive(ban, now)), ...this.coveringNetworks(address, now)];
  }

  /** activeTouching of each of `addresses` (canonical text), in one query for their own bans and one per family for networks. */
  activeTouchingAll(addresses: readonly string[], now: number): Map<string, Ban[]> {
    const out = new Map(addresses.map((address): [string, Ban[]] => [address, []]));
    if (addresses.length === 0) return out;
    for (const row of this.guard(() => this.stmt.activeOfAddresses.all({ now, addresses: JSON.stringify(addresses) }))) out.get(row.address)?.push(toBan(row));
    const targets = addresses.map((address) => tryParseAddress(address)).filter((target) => target !== undefined);
    for (const [address, networks] of this.activeNetworks(targets, now)) out.get(address)?.push(...networks);
    return out;
  }

  /** The jails holding at least one active ban. */
  activeJails(now: number): string[] {
    return this.guard(() => this.stmt.activeJails.all({ now })).map((row) => row.jail);
  }

  /** When the next active ban expires (epoch seconds), or null when none will. */
  nextExpiry(now: number): number | null {
    const at = this.guard(() => this.stmt.nextExpiry.get({ now }))?.at ?? null;
    return at === null ? null : storedTime(at);
  }

  /** Changes whenever another connection (a CLI call, another process) commits: a cheap "anything new?". */
  dataVersion(): number {
    return this.guard(() => this.db.pragma('data_version', { simple: true }) as number);
  }

  /** Per jail: bans active now, and every ban ever recorded (for status). */
  jailCounts(now: number): Map<string, { active: number; total: number }> {
    return new Map(this.guard(() => this.stmt.jailCounts.all({ now })).map((row) => [row.jail, { active: row.active, total: row.total }]));
  }

  /** Per jail: how many addresses have counted failures (for status when no daemon runs). */
  failureCounterCounts(): Map<string, number> {
    return new Map(this.guard(() => this.stmt.counterCounts.all()).map((row) => [row.jail, row.n]));
  }

  /** The newest ban of `address` in `jail`, active or not, with its matched lines (for action.d tags). */
  banDetails(address: string, jail: string): (Ban & { readonly matches: string[] }) | undefined {
    const row = this.guard(() => this.stmt.latestWithMatches.get(address, jail));
    if (!row) return undefined;
    let matches: string[] = [];
    try {
      const parsed = JSON.parse(row.matches ?? '[]') as unknown;
      if (Array.isArray(parsed)) matches = parsed.filter((m): m is string => typeof m === 'string');
    } catch {
      matches = [];
    }
    return { ...toBan(row), matches };
  }

  /** Where `path` was read up to by an earlier run, if it was. */
  logPosition(path: string): LogPosition | undefined {
    const row = this.guard(() => this.stmt.position.get(path));
    return row && { path: row.path, device: row.device, inode: row.inode, offset: row.offset, headHash: row.head_hash };
  }

  /** Where reading the journal `source` stood after an earlier run, if it was read. */
  journalCursor(source: string): JournalCursor | undefined {
    const row = this.guard(() => this.stmt.cursor.get(source));
    return row && { source: row.source, cursor: row.cursor, realtime: row.realtime };
  }

  /** A jail's persisted failure counters, by address. */
  failureCounters(jail: string): Map<string, string> {
    return new Map(this.guard(() => this.stmt.counters.all(jail)).map((row) => [row.address, row.state]));
  }

  /** Drops every jail's counted failures of `address` (it was unbanned by hand: it starts afresh). */
  forgetFailures(address: string): void {
    this.guard(() => this.stmt.deleteCountersOf.run(address));
  }

  /**
   * How often `address` was banned before: in `jail` (the highest ban_count of its rows), or in
   * any jail when `jail` is undefined (every row counts) — for bantime.increment.
   */
  previousBans(address: string, jail: string | undefined): number {
    const row = this.guard(() => jail === undefined ? this.stmt.banCountAllJails.get(address) : this.stmt.banCount.get(address, jail));
    return storedCount(row?.n, 0);
  }

  /**
   * Commits what one batch of log lines caused in one transaction: the bans, the failure counters
   * and the positions the lines were read up to. After a crash either all of it is there (and the
   * lines are not read again) or none (and they are).
   */
  commitLogBatch(batch: LogBatchCommit, now: number): BanResult[] {
    return this.guard(() => this.db.transaction(() => {
      const results = batch.bans.map((request) => this.banInTransaction(request, request.bannedAt));
      for (const { jail, address, state } of batch.counters) {
        if (state === null) this.stmt.deleteCounter.run({ jail, address });
        else this.stmt.saveCounter.run({ jail, address, state, now });
      }
      for (const position of batch.positions) this.stmt.savePosition.run({ ...position, now });
      for (const cursor of batch.cursors ?? []) this.stmt.saveCursor.run({ ...cursor, now });
      return results;
    }).immediate());
  }

  /** Deletes history that ended before `before`, and the changes made before it; returns how many bans rows went. */
  purgeHistory(before: number): number {
    return this.guard(() => this.db.transaction(() => {
      this.changes.pruneBefore(before);
      return this.stmt.purge.run({ before }).changes;
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

  /** `reader` has taken in every change up to `after`: changes every reader has taken in are deleted. */
  advanceChangeReader(reader: string, after: number, now: number): void {
    this.guard(() => this.db.transaction(() => this.changes.advance(reader, after, now)).immediate());
  }
}

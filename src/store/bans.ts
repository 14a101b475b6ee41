import type Database from 'better-sqlite3';
import {
  laterExpiry, networksHolding, storedTime, type Ban, type BanRequest, type BanWhy, type BanSource, type EnforcedBan,
} from '../core/index.js';
import { storedLines, whyOf, whyRow, type WhyRow } from './ban-why.js';
import { preparedOnUse } from './prepared-on-use.js';

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
  origin: string | null;
}

const COLUMNS = 'address, prefix, jail, banned_at, expires_at, source, reason, failures, ban_count, lifted_at, lifted_by, forced, origin';
const INSERT = `INSERT INTO bans (address, prefix, jail, banned_at, expires_at, source, reason, failures, matches, failure_times, captures, ban_count,
  forced, origin)`;
const INSERT_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const INSERT_COLUMNS = 14;
/** Rows one statement inserts in a bulk write: one call per row costs a third more CPU over a million rows. */
const INSERT_ROWS = 128;
/** The bans of an address that `details` reads for its lines in every jail. */
const MAX_ADDRESS_BANS = 50;

/** What all bans of an address say (fail2ban's `<ipmatches>`, `<ipfailures>`, `<ipjailmatches>`, `<ipjailfailures>`). */
export interface AddressWhy {
  readonly ipMatches: readonly string[];
  readonly ipFailures: number;
  readonly ipJailMatches: readonly string[];
  readonly ipJailFailures: number;
}

/** Whether the ban row (of table alias `row`, when given) is active at @now. */
const activeRow = (row?: string): string => {
  const column = (name: string): string => (row === undefined ? name : `${row}.${name}`);
  return `${column('lifted_at')} IS NULL AND (${column('expires_at')} IS NULL OR ${column('expires_at')} > @now)`;
};
/** Whether a bans row is active at @now: every query of the store that asks it says it this way. */
export const ACTIVE = activeRow();

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
  return banOf(row.address, row.jail, row.banned_at, row.expires_at, row.source, row.reason, row.failures, row.ban_count, row.lifted_at, row.lifted_by, row.forced, row.origin);
}

/** toBan of the columns one by one, for raw rows: one object per row instead of two. */
function banOf(
  address: string, jail: string, bannedAt: number, expiresAt: number | null, source: BanSource, reason: string | null,
  failures: number, banCount: number, liftedAt: number | null, liftedBy: string | null, forced: number, origin: string | null,
): Ban {
  return {
    address,
    jail,
    bannedAt: storedTime(bannedAt),
    expiresAt: expiresAt === null ? null : storedTime(expiresAt),
    source,
    reason,
    failures: storedCount(failures, 0),
    banCount: storedCount(banCount, 1),
    liftedAt: liftedAt === null ? null : storedTime(liftedAt),
    liftedBy,
    // Only what `--force` writes counts: anything else written there by hand is no override.
    forced: forced === 1,
    ...(origin === null ? {} : { origin }),
  };
}

function* toBans(rows: IterableIterator<BanRow>): IterableIterator<Ban> {
  for (const row of rows) yield toBan(row);
}

/** A row read in raw mode: the columns of COLUMNS, in order. */
type BanTuple = [string, number | null, string, number, number | null, BanSource, string | null, number, number, number | null, string | null, number,
  string | null];

/** Raw rows as Bans: better-sqlite3 makes an array per row faster than an object (1.3 s less per million). */
function* tuplesToBans(rows: IterableIterator<BanTuple>): IterableIterator<Ban> {
  for (const r of rows) yield banOf(r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12]);
}

function prefixOf(address: string): number | null {
  const slash = address.indexOf('/');
  return slash === -1 ? null : Number(address.slice(slash + 1));
}

/** The INSERT values of a request's first row (ban_count 1, banned at `now`), into `values` from `at`. */
function putFirstRow(values: unknown[], at: number, request: BanRequest, now: number): void {
  const why = whyRow(request);
  values[at] = request.address;
  values[at + 1] = prefixOf(request.address);
  values[at + 2] = request.jail;
  values[at + 3] = now;
  values[at + 4] = request.expiresAt;
  values[at + 5] = request.source;
  values[at + 6] = request.reason ?? null;
  values[at + 7] = request.failures ?? 0;
  values[at + 8] = why.matches;
  values[at + 9] = why.failure_times;
  values[at + 10] = why.captures;
  values[at + 11] = 1;
  values[at + 12] = Number(request.forced === true);
  values[at + 13] = request.origin ?? null;
}

/** A stored ban with its row id. */
export interface StoredBan {
  readonly id: number;
  readonly ban: Ban;
}

/** Whose bans a count takes: the jails listed in `only`, or (absent) every jail; never those in `except`. */
export interface JailSelection {
  readonly only?: readonly string[];
  readonly except: readonly string[];
}

function selectionParameters(jails: JailSelection): { all: number; only: string; except: string } {
  return { all: Number(jails.only === undefined), only: JSON.stringify(jails.only ?? []), except: JSON.stringify(jails.except) };
}

/** A selection's parameters (selectionParameters) as two tables for a query's WITH clause. */
const SELECTION_TABLES = 'selected(jail) AS (SELECT value FROM json_each(@only)), excluded(jail) AS (SELECT value FROM json_each(@except))';

/** Whether the jail in `column` is one of the selection (see SELECTION_TABLES). */
const selects = (column: string): string => `(@all OR ${column} IN selected) AND ${column} NOT IN excluded`;

/** What a ban request did: a new row, a longer existing ban, or nothing (already banned at least as long). */
export type BanChange = 'new' | 'extended' | 'kept';

export interface BanResult {
  readonly ban: Ban;
  readonly change: BanChange;
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

/** What a write did to the open ban of its (address, jail), for the change log: `ban` as it stands after (null when the write names none). */
export interface BanWrite<Outcome> {
  readonly outcome: Outcome;
  readonly ban: Ban | null;
  /** The open ban's expiry before, when it was extended. */
  readonly previousExpiresAt: number | null;
}

/**
 * The bans table's statements over the store's database handle. Writes run inside the caller's
 * transaction (see BanStore): the change log row of each goes in the same one.
 */
export class Bans {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = preparedOnUse({
      // The open ban, if any, is always the newest row of its (address, jail): see record.
      latest: () => db.prepare<[string, string], BanRow & { id: number }>(
        `SELECT id, ${COLUMNS} FROM bans WHERE address = ? AND jail = ? ORDER BY id DESC LIMIT 1`),
      byId: () => db.prepare<[number], BanRow & { id: number }>(`SELECT id, ${COLUMNS} FROM bans WHERE id = ?`),
      isEmpty: () => db.prepare<[], number>('SELECT 1 FROM bans LIMIT 1').pluck(),
      anyRow: () => db.prepare<[string, string], number>('SELECT 1 FROM bans WHERE address = ? AND jail = ? LIMIT 1').pluck(),
      closeExpired: () => db.prepare('UPDATE bans SET lifted_at = expires_at, lifted_by = \'expired\' WHERE id = ?'),
      sameBan: () => db.prepare<[string, string, number], { id: number }>(
        'SELECT id FROM bans WHERE address = ? AND jail = ? AND banned_at = ? LIMIT 1'),
      merge: () => db.prepare(
        `UPDATE bans SET expires_at = @expiresAt, ban_count = @banCount, failures = max(failures, @failures),
           matches = coalesce(matches, @matches), forced = max(forced, @forced) WHERE id = @id`),
      insertLifted: () => db.prepare(
        `INSERT INTO bans (address, prefix, jail, banned_at, expires_at, source, failures, matches, ban_count, lifted_at, lifted_by, forced)
         VALUES (@address, @prefix, @jail, @banned_at, @expires_at, @source, @failures, @matches, @ban_count, @expires_at, 'expired', @forced)`),
      extend: () => db.prepare<unknown[], BanRow>(
        `UPDATE bans SET expires_at = @expiresAt, ban_count = ban_count + 1, reason = coalesce(@reason, reason),
           failures = max(failures, @failures), matches = coalesce(@matches, matches), failure_times = coalesce(@times, failure_times),
           captures = coalesce(@captures, captures), forced = max(forced, @forced)
         WHERE id = @id RETURNING ${COLUMNS}`),
      // Positional: binding by name costs a property lookup per column, felt over a million rows.
      insert: () => db.prepare<unknown[]>(`${INSERT} VALUES ${INSERT_ROW}`),
      insertRows: () => db.prepare<unknown[]>(`${INSERT} VALUES ${Array<string>(INSERT_ROWS).fill(INSERT_ROW).join(', ')}`),
      liftOne: () => db.prepare<unknown[], BanRow>(
        `UPDATE bans SET lifted_at = @now, lifted_by = @by
         WHERE address = @address AND jail = @jail AND ${ACTIVE} RETURNING ${COLUMNS}`),
      // A fleet's lift: a ban that came from the fleet, and this host's own when @own (see BanStore.applyFleet).
      liftFleet: () => db.prepare<unknown[], BanRow>(
        `UPDATE bans SET lifted_at = @now, lifted_by = @by
         WHERE address = @address AND jail = @jail AND ${ACTIVE} AND (source = 'fleet' OR @own) RETURNING ${COLUMNS}`),
      liftAll: () => db.prepare<unknown[], BanRow>(
        `UPDATE bans SET lifted_at = @now, lifted_by = @by
         WHERE address = @address AND ${ACTIVE} RETURNING ${COLUMNS}`),
      active: () => db.prepare<unknown[], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE ${ACTIVE} ORDER BY jail, address`),
      // Storage order: a sequential read of the table, not a walk of the index through random pages.
      activeAnyOrder: () => db.prepare<unknown[], BanTuple>(`SELECT ${COLUMNS} FROM bans NOT INDEXED WHERE ${ACTIVE}`).raw(true),
      activeOwn: () => db.prepare<unknown[], BanRow & { id: number }>(`SELECT id, ${COLUMNS} FROM bans NOT INDEXED WHERE ${ACTIVE} AND source <> 'fleet'`),
      countActiveOwn: () => db.prepare<unknown[], number>(`SELECT count(*) FROM bans NOT INDEXED WHERE ${ACTIVE} AND source <> 'fleet'`).pluck(),
      countActiveOwnIn: () => db.prepare<unknown[], number>(
        `SELECT count(*) FROM bans WHERE jail IN (SELECT value FROM json_each(@jails)) AND ${ACTIVE} AND source <> 'fleet'`).pluck(),
      // Fleet bans are few beside a host's own: a scan that keeps them, then a sort of those.
      activeFleet: () => db.prepare<unknown[], BanRow>(`SELECT ${COLUMNS} FROM bans NOT INDEXED WHERE source = 'fleet' AND ${ACTIVE} ORDER BY jail, address`),
      // The table itself, not an index that could hold these columns: a reconcile reads every row, so a damaged page is told, not passed over.
      activeEnforced: () => db.prepare<unknown[], [string, string, number | null, number]>(
        `SELECT address, jail, expires_at, forced FROM bans NOT INDEXED WHERE ${ACTIVE}`).raw(true),
      activeInJail: () => db.prepare<unknown[], BanRow>(
        `SELECT ${COLUMNS} FROM bans WHERE jail = @jail AND ${ACTIVE} ORDER BY address`),
      // Walks the open-bans index on (address, jail): in order, without sorting.
      activeByAddress: () => db.prepare<unknown[], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE ${ACTIVE} ORDER BY address, jail`),
      all: () => db.prepare<[], BanRow>(`SELECT ${COLUMNS} FROM bans ORDER BY banned_at, id`),
      allInJail: () => db.prepare<[string], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE jail = ? ORDER BY banned_at, id`),
      ofAddress: () => db.prepare<[string], BanRow>(`SELECT ${COLUMNS} FROM bans WHERE address = ? ORDER BY banned_at, id`),
      ofAddressWithWhy: () => db.prepare<[string], BanRow & WhyRow>(
        `SELECT ${COLUMNS}, matches, failure_times, captures FROM bans WHERE address = ? ORDER BY banned_at, id`),
      activeOfAddresses: () => db.prepare<unknown[], BanRow>(
        `SELECT ${COLUMNS} FROM bans WHERE address IN (SELECT value FROM json_each(@addresses)) AND ${ACTIVE} ORDER BY banned_at, id`),
      // A skip-scan over the open-networks index: one seek per prefix length in use (a handful), not a read of every network.
      networkLengths: () => db.prepare<[], number>(
        `WITH RECURSIVE lengths(prefix) AS (
           SELECT min(prefix) FROM bans WHERE prefix IS NOT NULL AND lifted_at IS NULL
           UNION ALL
           SELECT (SELECT min(prefix) FROM bans WHERE prefix IS NOT NULL AND lifted_at IS NULL AND prefix > lengths.prefix)
             FROM lengths WHERE lengths.prefix IS NOT NULL)
         SELECT prefix FROM lengths WHERE prefix IS NOT NULL`).pluck(),
      activeNetworksIn: () => db.prepare<unknown[], BanRow>(
        `SELECT ${COLUMNS} FROM bans WHERE address IN (SELECT value FROM json_each(@networks)) AND prefix IS NOT NULL
           AND ${ACTIVE} ORDER BY prefix, address`),
      // A skip-scan over the open-bans index: one seek per jail instead of reading every ban
      // (the daemon asks this on every drift-check tick).
      activeJails: () => db.prepare<unknown[], { jail: string }>(
        `WITH RECURSIVE open(jail) AS (
           SELECT min(jail) FROM bans WHERE lifted_at IS NULL
           UNION ALL
           SELECT (SELECT min(jail) FROM bans WHERE lifted_at IS NULL AND jail > open.jail) FROM open WHERE open.jail IS NOT NULL)
         SELECT jail FROM open WHERE jail IS NOT NULL
           AND EXISTS (SELECT 1 FROM bans AS b WHERE b.jail = open.jail AND ${activeRow('b')})`),
      nextExpiry: () => db.prepare<unknown[], { at: number | null }>(
        'SELECT min(expires_at) AS at FROM bans WHERE lifted_at IS NULL AND expires_at > @now'),
      expiredBetween: () => db.prepare<unknown[], { address: string; jail: string }>(
        'SELECT address, jail FROM bans WHERE lifted_at IS NULL AND expires_at > @after AND expires_at <= @upTo ORDER BY expires_at, id'),
      // fail2ban's <ipmatches>/<ipjailmatches> read every ban of the address: the newest MAX_ADDRESS_BANS are plenty for a message.
      addressWhy: () => db.prepare<[string, number], { jail: string; failures: number; matches: string | null }>(
        'SELECT jail, failures, matches FROM bans WHERE address = ? ORDER BY id DESC LIMIT ?'),
      latestWithWhy: () => db.prepare<[string, string], BanRow & WhyRow>(
        `SELECT ${COLUMNS}, matches, failure_times, captures FROM bans WHERE address = ? AND jail = ? ORDER BY id DESC LIMIT 1`),
      banCount: () => db.prepare<[string, string], { n: number | null }>('SELECT max(ban_count) AS n FROM bans WHERE address = ? AND jail = ?'),
      // The same count as banCount, per jail, summed: fail2ban's sum(bancount) over its bips rows (one per jail).
      banCountAllJails: () => db.prepare<[string], { n: number | null }>(
        'SELECT sum(n) AS n FROM (SELECT max(ban_count) AS n FROM bans WHERE address = ? GROUP BY jail)'),
      latestId: () => db.prepare<[], number | null>('SELECT max(id) FROM bans').pluck(),
      // A row is a ban: a ban lengthened while in force keeps its row (and its time), so it counts once.
      recentBanCounts: () => db.prepare<unknown[], { address: string; n: number }>(
        `WITH ${SELECTION_TABLES},
              fresh(address) AS (
                SELECT DISTINCT address FROM bans WHERE id > @after AND id <= @upTo AND banned_at >= @since AND ${selects('jail')})
         SELECT b.address, count(*) AS n FROM bans AS b JOIN fresh USING (address)
         WHERE b.banned_at >= @since AND ${selects('b.jail')}
         GROUP BY b.address HAVING count(*) >= @least`),
      // What `status` shows of a `source = bans` jail, as failures: addresses with a ban counted in its findtime and not banned in it yet.
      offenders: () => db.prepare<unknown[], number>(
        `WITH ${SELECTION_TABLES}
         SELECT count(DISTINCT b.address) FROM bans AS b
         WHERE b.banned_at >= @since AND ${selects('b.jail')}
           AND NOT EXISTS (SELECT 1 FROM bans AS o WHERE o.address = b.address AND o.jail = @jail AND ${activeRow('o')})`).pluck(),
      bansAfter: () => db.prepare<unknown[], number>(
        `WITH ${SELECTION_TABLES} SELECT count(*) FROM bans WHERE id > @after AND ${selects('jail')}`).pluck(),
      jailCounts: () => db.prepare<unknown[], { jail: string; active: number; total: number }>(
        `SELECT jail, sum(${ACTIVE}) AS active, count(*) AS total
         FROM bans GROUP BY jail ORDER BY jail`),
      purge: () => db.prepare(
        `DELETE FROM bans WHERE (lifted_at IS NOT NULL AND lifted_at < @before)
           OR (lifted_at IS NULL AND expires_at IS NOT NULL AND expires_at < @before)`),
    });
  }

  private insert(row: Omit<BanRow, 'lifted_at' | 'lifted_by'>, why: WhyRow): void {
    this.stmt.insert.run(row.address, row.prefix, row.jail, row.banned_at, row.expires_at, row.source, row.reason, row.failures, why.matches,
      why.failure_times, why.captures, row.ban_count, row.forced, row.origin);
  }

  /** The newest row of (address, jail), the open one if any: see record. */
  latest(address: string, jail: string): StoredBan | undefined {
    const row = this.stmt.latest.get(address, jail);
    return row && { id: row.id, ban: toBan(row) };
  }

  /** The row of `id`, which must exist. */
  byId(id: number): StoredBan {
    const row = this.stmt.byId.get(id) as BanRow & { id: number };
    return { id: row.id, ban: toBan(row) };
  }

  /**
   * Records a ban. An active ban of the same address in the same jail is extended (later expiry
   * wins, permanent wins) instead of duplicated; an expired one is closed as history first.
   * `latest` is the newest row of its (address, jail), when the caller knows it without a lookup.
   */
  record(request: BanRequest, now: number, latest = this.latest(request.address, request.jail)): BanWrite<BanChange> & { readonly ban: Ban } {
    // A new row is inserted only when no open one exists, and the unique index allows one open row
    // per (address, jail): so the newest row is the open one if any, and holds the highest ban_count.
    let open = latest?.ban.liftedAt === null ? latest : undefined;
    if (open && open.ban.expiresAt !== null && open.ban.expiresAt <= now) {
      this.stmt.closeExpired.run(open.id);
      open = undefined;
    }
    const why = whyRow(request);
    const failures = request.failures ?? 0;
    const reason = request.reason ?? null;
    const forced = request.forced === true;
    if (open) {
      const expiresAt = laterExpiry(open.ban.expiresAt, request.expiresAt);
      if (expiresAt === open.ban.expiresAt && (open.ban.forced || !forced)) return { outcome: 'kept', ban: open.ban, previousExpiresAt: null };
      // UPDATE … RETURNING of an existing id always yields the row.
      const ban = toBan(this.stmt.extend.get({
        id: open.id, expiresAt, reason, failures, matches: why.matches, times: why.failure_times, captures: why.captures, forced: Number(forced),
      }) as BanRow);
      return { outcome: 'extended', ban, previousExpiresAt: open.ban.expiresAt };
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
      origin: request.origin ?? null,
    };
    this.insert(row, why);
    return { outcome: 'new', ban: toBan(row), previousExpiresAt: null };
  }

  /** Whether the table holds no row at all. */
  isEmpty(): boolean {
    return this.stmt.isEmpty.get() === undefined;
  }

  /**
   * record() of a request whose (address, jail) has no row yet, the common case of a bulk write:
   * one lookup and one insert, and no Ban made. Returns the new row's id; undefined, with nothing
   * written, when it has a row (record() then decides). What it wrote is the request with `now` as
   * its time of ban.
   */
  recordFirst(request: BanRequest, now: number): number | undefined {
    return this.stmt.anyRow.get(request.address, request.jail) === undefined ? this.insertFirst(request, now) : undefined;
  }

  /** recordFirst() without the lookup, for a caller that knows (address, jail) has no row; returns the new row's id. */
  insertFirst(request: BanRequest, now: number): number {
    const values: unknown[] = [];
    putFirstRow(values, 0, request, now);
    return Number(this.stmt.insert.run(values).lastInsertRowid);
  }

  /**
   * insertFirst() of each of `requests` in their order, INSERT_ROWS rows a statement; returns the
   * last new row's id. The rows of one transaction take consecutive ids.
   */
  insertFirstAll(requests: readonly BanRequest[], now: number): number {
    const values: unknown[] = [];
    let id = 0;
    let done = 0;
    for (; done + INSERT_ROWS <= requests.length; done += INSERT_ROWS) {
      for (let row = 0; row < INSERT_ROWS; row++) putFirstRow(values, row * INSERT_COLUMNS, requests[done + row] as BanRequest, now);
      id = Number(this.stmt.insertRows.run(values).lastInsertRowid);
    }
    for (; done < requests.length; done++) id = this.insertFirst(requests[done] as BanRequest, now);
    return id;
  }

  /**
   * Brings in one ban recorded elsewhere (see BanStore.importBans); `latest` is the newest row of
   * its (address, jail), `unknownBefore` whether there was none before the import began.
   */
  import(record: BanRecord, latest: StoredBan | undefined, unknownBefore: boolean, now: number): BanWrite<keyof RecordImportReport> {
    const nothing = (outcome: 'kept' | 'history'): BanWrite<keyof RecordImportReport> => ({ outcome, ban: null, previousExpiresAt: null });
    if (this.stmt.sameBan.get(record.address, record.jail, record.bannedAt)) return nothing('kept');
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
      origin: null,
    };
    let open = latest?.ban.liftedAt === null ? latest : undefined;
    if (record.expiresAt !== null && record.expiresAt <= now) {
      // A lifted row after an open one would hide it from record (it reads the newest).
      if (!unknownBefore || open) return nothing('kept');
      this.stmt.insertLifted.run(row);
      return nothing('history');
    }
    if (open && open.ban.expiresAt !== null && open.ban.expiresAt <= now) {
      this.stmt.closeExpired.run(open.id);
      open = undefined;
    }
    if (open) {
      // fail2ban rounds its time of ban to the second where f2b-store truncates: a ban it delegated
      // here comes back from its database up to one second later, and is the same ban.
      const sameLength = open.ban.expiresAt !== null && record.expiresAt !== null && record.expiresAt - open.ban.expiresAt <= 1;
      const expiresAt = sameLength ? open.ban.expiresAt : laterExpiry(open.ban.expiresAt, record.expiresAt);
      const banCount = Math.max(open.ban.banCount, record.banCount);
      if (expiresAt === open.ban.expiresAt && banCount === open.ban.banCount && (open.ban.forced || !record.forced)) return nothing('kept');
      this.stmt.merge.run({ id: open.id, expiresAt, banCount, failures, matches, forced: row.forced });
      const ban = { ...open.ban, expiresAt, forced: open.ban.forced || row.forced === 1 };
      return { outcome: 'extended', ban, previousExpiresAt: open.ban.expiresAt };
    }
    this.insert({ ...row, reason: null }, { matches, failure_times: null, captures: null });
    return { outcome: 'new', ban: toBan({ ...row, reason: null, lifted_at: null, lifted_by: null }), previousExpiresAt: null };
  }

  /** Lifts the active ban of `address` in `jail`, or in every jail when `jail` is undefined. */
  lift(address: string, jail: string | undefined, by: string, now: number): Ban[] {
    const rows = jail === undefined ? this.stmt.liftAll.all({ address, by, now }) : this.stmt.liftOne.all({ address, jail, by, now });
    return rows.map(toBan);
  }

  /** Lifts the active ban of (address, jail) if it came from a fleet, or whatever its source when `own`. */
  liftFleet(address: string, jail: string, own: boolean, by: string, now: number): Ban[] {
    return this.stmt.liftFleet.all({ address, jail, own: Number(own), by, now }).map(toBan);
  }

  /** Active bans, ordered by jail then address; streamed. */
  active(now: number, jail?: string): IterableIterator<Ban> {
    return toBans(jail === undefined ? this.stmt.active.iterate({ now }) : this.stmt.activeInJail.iterate({ jail, now }));
  }

  /** Active bans ordered by address (in one jail when `jail` is given); streamed. */
  activeByAddress(now: number, jail?: string): IterableIterator<Ban> {
    return toBans(jail === undefined ? this.stmt.activeByAddress.iterate({ now }) : this.stmt.activeInJail.iterate({ jail, now }));
  }

  /** Active bans in storage order; streamed. */
  activeAnyOrder(now: number): IterableIterator<Ban> {
    return tuplesToBans(this.stmt.activeAnyOrder.iterate({ now }));
  }

  /** This host's own active bans (not taken from a fleet), with their row ids; streamed. */
  *activeOwn(now: number): IterableIterator<StoredBan> {
    for (const row of this.stmt.activeOwn.iterate({ now })) yield { id: row.id, ban: toBan(row) };
  }

  /** How many of this host's own active bans there are, in `jails` only when given. */
  countActiveOwn(now: number, jails?: readonly string[]): number {
    return jails === undefined ? this.stmt.countActiveOwn.get({ now }) as number : this.stmt.countActiveOwnIn.get({ now, jails: JSON.stringify(jails) }) as number;
  }

  /** The active bans taken from a fleet, ordered by jail then address. */
  activeFleet(now: number): Ban[] {
    return this.stmt.activeFleet.all({ now }).map(toBan);
  }

  /** What enforcing the active bans needs of them, in storage order; streamed. A third of the columns: about 40% less time than activeAnyOrder. */
  *activeEnforced(now: number): IterableIterator<EnforcedBan> {
    for (const r of this.stmt.activeEnforced.iterate({ now })) {
      yield { address: r[0], jail: r[1], expiresAt: r[2] === null ? null : storedTime(r[2]), forced: r[3] === 1 };
    }
  }

  /** Every ban, active or not, oldest first; streamed. */
  all(jail?: string): IterableIterator<Ban> {
    return toBans(jail === undefined ? this.stmt.all.iterate() : this.stmt.allInJail.iterate(jail));
  }

  /** Every ban of exactly this address, oldest first. */
  history(address: string): Ban[] {
    return this.stmt.ofAddress.all(address).map(toBan);
  }

  /** history() with why each ban was made. */
  historyWithWhy(address: string): (Ban & BanWhy)[] {
    return this.stmt.ofAddressWithWhy.all(address).map((row) => ({ ...toBan(row), ...whyOf(row) }));
  }

  /** The active bans of each of `addresses` (canonical text), oldest first. */
  activeOf(addresses: readonly string[], now: number): Ban[] {
    return this.stmt.activeOfAddresses.all({ now, addresses: JSON.stringify(addresses) }).map(toBan);
  }

  /**
   * For each of `targets` (canonical text), the active bans of networks containing it (other than
   * itself), widest first, in one query: the targets' networks of the prefix lengths in use are
   * looked up by their stored (canonical) text, rather than every banned network read and parsed
   * (thousands with a jail banning per ipv6prefix).
   */
  activeNetworks(targets: readonly string[], now: number): Map<string, Ban[]> {
    const out = new Map(targets.map((target): [string, Ban[]] => [target, []]));
    const holding = networksHolding(targets, targets.length === 0 ? [] : this.stmt.networkLengths.all());
    if (holding.size === 0) return out;
    for (const row of this.stmt.activeNetworksIn.all({ now, networks: JSON.stringify([...holding.keys()]) })) {
      const ban = toBan(row);
      for (const target of holding.get(row.address) ?? []) out.get(target)?.push(ban);
    }
    return out;
  }

  /** The jails holding at least one active ban. */
  activeJails(now: number): string[] {
    return this.stmt.activeJails.all({ now }).map((row) => row.jail);
  }

  /** When the next active ban expires (epoch seconds), or null when none will. */
  nextExpiry(now: number): number | null {
    const at = this.stmt.nextExpiry.get({ now })?.at ?? null;
    return at === null ? null : storedTime(at);
  }

  /** The bans that ended by expiring in (after, upTo], in the order they ended. */
  expiredBetween(after: number, upTo: number): { address: string; jail: string }[] {
    return this.stmt.expiredBetween.all({ after, upTo });
  }

  /** Per jail: bans active now, and every ban ever recorded. */
  jailCounts(now: number): Map<string, { active: number; total: number }> {
    return new Map(this.stmt.jailCounts.all({ now }).map((row) => [row.jail, { active: row.active, total: row.total }]));
  }

  /**
   * The newest ban of `address` in `jail`, active or not, with why it was made, and the failures
   * and lines of the address's bans in every jail (`ip…`) and in this one (`ipJail…`), oldest first.
   */
  details(address: string, jail: string): (Ban & BanWhy & AddressWhy) | undefined {
    const row = this.stmt.latestWithWhy.get(address, jail);
    if (!row) return undefined;
    const all = this.stmt.addressWhy.all(address, MAX_ADDRESS_BANS).reverse();
    const own = all.filter((ban) => ban.jail === jail);
    const lines = (bans: typeof all): string[] => bans.flatMap((ban) => storedLines(ban.matches));
    const failures = (bans: typeof all): number => bans.reduce((sum, ban) => sum + storedCount(ban.failures, 0), 0);
    return {
      ...toBan(row), ...whyOf(row),
      ipMatches: lines(all), ipFailures: failures(all), ipJailMatches: lines(own), ipJailFailures: failures(own),
    };
  }

  /** How often `address` was banned before, in `jail` or in any jail (see BanStore.previousBans). */
  previousBans(address: string, jail: string | undefined): number {
    const row = jail === undefined ? this.stmt.banCountAllJails.get(address) : this.stmt.banCount.get(address, jail);
    return storedCount(row?.n, 0);
  }

  /** The id of the newest row (0 when there is none). */
  latestId(): number {
    return this.stmt.latestId.get() ?? 0;
  }

  /**
   * The addresses with a ban (a row) in the `jails` selected among rows `after` < id <= `upTo` that
   * began at `since` or later, each with how many bans of it in those jails began at `since` or
   * later, when that is at least `least`.
   */
  recentBanCounts(after: number, upTo: number, jails: JailSelection, since: number, least: number): Map<string, number> {
    if (upTo <= after) return new Map();
    const rows = this.stmt.recentBanCounts.all({ after, upTo, since, least, ...selectionParameters(jails) });
    return new Map(rows.map((row) => [row.address, row.n]));
  }

  offenders(jail: string, jails: JailSelection, since: number, now: number): number {
    return this.stmt.offenders.get({ jail, since, now, ...selectionParameters(jails) }) ?? 0;
  }

  bansAfter(after: number, jails: JailSelection): number {
    return this.stmt.bansAfter.get({ after, ...selectionParameters(jails) }) ?? 0;
  }

  /** Deletes history that ended before `before`; returns how many rows went. */
  purge(before: number): number {
    return this.stmt.purge.run({ before }).changes;
  }
}

import { chmodSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { OperationError, messageOf } from '../core/index.js';
import { checkProblems, isDamaged } from './damage.js';
import { loadMigrations, schemaVersion } from './migrations.js';
import { buildDatabase, tempPathBeside } from './open.js';
import { openSqlite } from './sqlite.js';

/** Our tables, in the order they are saved. */
const STORE_TABLES = ['bans', 'log_positions', 'failure_counters', 'journal_cursors'] as const;

/** Rowids read per query; a window that fails is read again one rowid at a time. */
const WINDOW = 256;

/** What `repairDatabase` found and did. */
export interface RepairReport {
  /** The database was fine: nothing was changed. */
  readonly fine: boolean;
  /** What the check found: the first problems, empty when fine. */
  readonly problems: readonly string[];
  /** Rows copied into the new database, per table. */
  readonly saved: Readonly<Record<string, number>>;
  /** Rows that could not be read, per table; null where the damaged file no longer tells how many there were. */
  readonly lost: Readonly<Record<string, number | null>>;
  /** Where the damaged file was kept (its -wal and -shm beside it), null when fine. */
  readonly kept: string | null;
}

type Row = Record<string, unknown>;

/** `read()`, or undefined when it meets damage; any other error is thrown. */
function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (isDamaged(error)) return undefined;
    throw error;
  }
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** SQLite's integrity_check, first problems only; a file that is not a database is one problem. */
function problemsOf(db: Database.Database): string[] {
  let rows: { integrity_check: string }[];
  try {
    rows = db.pragma('integrity_check(20)') as { integrity_check: string }[];
  } catch (error) {
    if (!isDamaged(error)) throw error;
    return [messageOf(error)];
  }
  return checkProblems(rows.map((row) => row.integrity_check));
}

/** How many rows `table` holds, from the table or any index of all of its rows; undefined when none can be read. */
function rowCount(db: Database.Database, table: string): number | undefined {
  const counted = attempt(() => db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${quoted(table)} NOT INDEXED`).get()?.n);
  if (counted !== undefined) return counted;
  const indexes = attempt(() => db.pragma(`index_list(${quoted(table)})`) as { name: string; partial: number }[]) ?? [];
  for (const { name, partial } of indexes) {
    if (partial) continue;
    const n = attempt(() => db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${quoted(table)} INDEXED BY ${quoted(name)}`).get()?.n);
    if (n !== undefined) return n;
  }
  return undefined;
}

/**
 * The lowest and highest rowid of `table`, from the table itself or an index of all its rows
 * (a damaged first or last page of the table hides them from the table).
 */
function rowidBounds(db: Database.Database, table: string): { lo: number; hi: number } | undefined {
  const edge = (order: 'ASC' | 'DESC'): number | undefined => {
    const direct = attempt(() => db.prepare<[], { id: number }>(`SELECT rowid AS id FROM ${quoted(table)} ORDER BY rowid ${order} LIMIT 1`).get()?.id);
    if (direct !== undefined) return direct;
    const indexes = attempt(() => db.pragma(`index_list(${quoted(table)})`) as { name: string; partial: number }[]) ?? [];
    for (const { name, partial } of indexes) {
      if (partial) continue;
      const id = attempt(() => db.prepare<[], { id: number | null }>(
        `SELECT ${order === 'ASC' ? 'min' : 'max'}(rowid) AS id FROM ${quoted(table)} INDEXED BY ${quoted(name)}`).get()?.id);
      if (id !== undefined && id !== null) return id;
    }
    return undefined;
  };
  const lo = edge('ASC');
  const hi = edge('DESC');
  return lo === undefined || hi === undefined ? undefined : { lo, hi };
}

/** Every row of a rowid table that can still be read, in windows of rowids, so one bad page loses only its own rows. */
function* rowsByRowid(db: Database.Database, table: string, columns: string): Generator<Row> {
  const bounds = rowidBounds(db, table);
  if (bounds === undefined) return;
  const window = db.prepare<[number, number], Row>(`SELECT ${columns} FROM ${quoted(table)} WHERE rowid BETWEEN ? AND ? ORDER BY rowid`);
  const one = db.prepare<[number], Row>(`SELECT ${columns} FROM ${quoted(table)} WHERE rowid = ?`);
  for (let first = bounds.lo; first <= bounds.hi; first += WINDOW) {
    const last = Math.min(first + WINDOW - 1, bounds.hi);
    const rows = attempt(() => window.all(first, last));
    if (rows !== undefined) {
      yield* rows;
      continue;
    }
    for (let id = first; id <= last; id++) {
      const row = attempt(() => one.get(id));
      if (row !== undefined) yield row;
    }
  }
}

/**
 * Every row of a table without rowids that can still be read: from its first key onwards and from
 * its last key backwards, each up to the first damage (rows between two damaged pages are lost).
 */
function* rowsByKey(db: Database.Database, table: string, columns: string, key: readonly string[]): Generator<Row> {
  for (const order of ['ASC', 'DESC']) {
    const rows = db.prepare<[], Row>(`SELECT ${columns} FROM ${quoted(table)} ORDER BY ${key.map((k) => `${quoted(k)} ${order}`).join(', ')}`);
    try {
      yield* rows.iterate();
      return;
    } catch (error) {
      if (!isDamaged(error)) throw error;
    }
  }
}

interface TableInfo {
  readonly columns: readonly string[];
  readonly key: readonly string[];
  readonly withoutRowid: boolean;
}

function tableInfo(db: Database.Database, table: string): TableInfo | undefined {
  const listed = db.pragma(`table_list(${quoted(table)})`) as { wr: number }[];
  if (listed.length === 0) return undefined;
  const columns = db.pragma(`table_info(${quoted(table)})`) as { name: string; pk: number }[];
  return {
    columns: columns.map((c) => c.name),
    key: columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
    withoutRowid: listed[0]?.wr === 1,
  };
}

/** Copies what can be read of `table` from `damaged` into `fresh`: how many rows went over, and how many could not. */
function saveTable(damaged: Database.Database, fresh: Database.Database, table: string): { saved: number; lost: number | null } {
  const from = tableInfo(damaged, table);
  const to = tableInfo(fresh, table);
  if (from === undefined || to === undefined) return { saved: 0, lost: 0 };
  const columns = to.columns.filter((c) => from.columns.includes(c));
  const list = columns.map(quoted).join(', ');
  const insert = fresh.prepare(`INSERT OR IGNORE INTO ${quoted(table)} (${list}) VALUES (${columns.map(() => '?').join(', ')})`);
  const rows = from.withoutRowid ? rowsByKey(damaged, table, list, from.key) : rowsByRowid(damaged, table, list);
  let saved = 0;
  for (const row of rows) saved += insert.run(...columns.map((c) => row[c])).changes;
  const had = rowCount(damaged, table);
  return { saved, lost: had === undefined ? null : Math.max(0, had - saved) };
}

/** `path.damaged-<time>`, or with `-2`, `-3`… when a file of that name (or its -wal) is already there. */
function keptName(path: string, now: Date): string {
  const base = `${path}.damaged-${now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')}`;
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (![name, `${name}-wal`, `${name}-shm`].some((p) => existsSync(p))) return name;
  }
}

/** Moves the damaged file and its -wal and -shm aside (the WAL first: a new file must never meet the old WAL), private. */
function keepAside(path: string, kept: string): void {
  for (const suffix of ['-wal', '-shm', '']) {
    if (!existsSync(path + suffix)) continue;
    renameSync(path + suffix, kept + suffix);
    chmodSync(kept + suffix, 0o600);
  }
}

/**
 * Checks the database at `path` (SQLite's integrity_check) and, when it is damaged (or empty),
 * keeps it aside as `path.damaged-<time>` and puts in its place a new database holding every row
 * of our tables that can still be read. Nothing else may use the database meanwhile (the caller
 * makes sure no daemon runs). Throws an OperationError, changing nothing, when nothing at all can
 * be read (not a database) or the database is newer than this f2b-store.
 */
export function repairDatabase(path: string, now: Date = new Date()): RepairReport {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    throw new OperationError(`cannot repair ${path}: ${messageOf(error)}`, { cause: error });
  }
  const damaged = size === 0 ? undefined : openSqlite(path, { readonly: true, fileMustExist: true });
  const temp = tempPathBeside(path, 'repair');
  try {
    const problems = damaged === undefined ? ['the file is empty'] : problemsOf(damaged);
    if (problems.length === 0) return { fine: true, problems, saved: {}, lost: {}, kept: null };
    if (damaged !== undefined) {
      const version = attempt(() => schemaVersion(damaged));
      const readable = attempt(() => damaged.pragma('table_list'));
      if (version === undefined || readable === undefined) {
        throw new OperationError(`cannot repair ${path}: nothing in it can be read (${problems[0]}); it was left as it is: restore it from a backup, or move it away to start with an empty database`);
      }
      if (version > loadMigrations().length) {
        throw new OperationError(`cannot repair ${path}: its schema version ${version} is newer than this f2b-store knows: repair it with the newer f2b-store`);
      }
    }
    buildDatabase(temp);
    const fresh = openSqlite(temp);
    const saved: Record<string, number> = {};
    const lost: Record<string, number | null> = {};
    try {
      fresh.transaction(() => {
        for (const table of STORE_TABLES) {
          const result = damaged === undefined ? { saved: 0, lost: 0 } : saveTable(damaged, fresh, table);
          saved[table] = result.saved;
          lost[table] = result.lost;
        }
      }).immediate();
    } finally {
      fresh.close();
    }
    damaged?.close();
    const kept = keptName(path, now);
    keepAside(path, kept);
    renameSync(temp, path);
    return { fine: false, problems, saved, lost, kept };
  } finally {
    if (damaged?.open) damaged.close();
    rmSync(temp, { force: true });
  }
}

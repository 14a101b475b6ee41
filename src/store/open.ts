import { accessSync, closeSync, constants, existsSync, linkSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { OperationError, messageOf } from '../core/index.js';
import { checkDatabaseAccess } from './access.js';
import { asDamaged, DatabaseDamagedError } from './damage.js';
import { latestVersion, loadMigrations, migrate, schemaVersion, type MigrationReport } from './migrations.js';
import { openSqlite } from './sqlite.js';

/** How long a writer waits for another process's transaction before giving up. */
const BUSY_TIMEOUT_MS = 15_000;

/** How a database is opened. */
export interface OpenOptions {
  /** Make a new database when none is there (default); otherwise a missing one is an OperationError. */
  readonly create?: boolean;
  /** Use a database file or directory that another user owns or may write (see checkDatabaseAccess). */
  readonly insecure?: boolean;
}

export interface OpenedDatabase {
  readonly db: Database.Database;
  readonly path: string;
  readonly migration: MigrationReport;
}

/** Why a database could not be opened, in words that point at the fix rather than at the system call. */
function reason(path: string, error: unknown): string {
  const { code, path: at } = error as { code?: string; path?: string };
  const dir = dirname(path);
  // SQLite says only "unable to open": a read-only mount is the common cause worth naming.
  switch (code === 'SQLITE_CANTOPEN' && writeRefused(dir) === 'EROFS' ? 'EROFS' : code) {
    case 'EEXIST':
    case 'ENOTDIR':
      return `${at ?? dir} is a file, not a directory: choose another path with --db or F2B_STORE_DB`;
    case 'EROFS':
    case 'SQLITE_READONLY':
    case 'SQLITE_READONLY_DIRECTORY':
      return `${dir} cannot be written (a read-only file system?): the database needs its directory writable for its journal; choose another path with --db or F2B_STORE_DB`;
    case 'ENOSPC':
    case 'SQLITE_FULL':
      return `no space left on the device holding ${dir}: free some and try again`;
    case 'EACCES':
    case 'EPERM':
    case 'SQLITE_CANTOPEN':
      return `${messageOf(error)} (run as root, or choose another file with --db or F2B_STORE_DB)`;
    default:
      return messageOf(error);
  }
}

function writeRefused(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

function explain(path: string, error: unknown): OperationError {
  return new OperationError(`cannot open database ${path}: ${reason(path, error)}`, { cause: error });
}

/** Builds a new, migrated database (mode 0600, WAL) at `path`, which must not exist yet. */
export function buildDatabase(path: string): MigrationReport {
  closeSync(openSync(path, 'wx', 0o600));
  const db = openSqlite(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    const migration = migrate(db, path, loadMigrations());
    configure(db);
    return migration;
  } finally {
    // The last connection to close folds the WAL into the file and removes it.
    db.close();
  }
}

/**
 * A name for a file to build beside `path` (`PATH.TAG-PID-RANDOM`), made with O_EXCL. The random
 * part only keeps clear of what a crashed process of the same pid left; node:crypto is not needed
 * for that, and loading it cost 4 ms of every command's start.
 */
export function tempPathBeside(path: string, tag: string): string {
  return `${path}.${tag}-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
}

/**
 * Makes a new database at `path` that nobody ever sees half made: it is built under a temporary
 * name beside it and then linked into place, which fails when another process got there first
 * (theirs is kept). A crash leaves at most that temporary file behind, never an empty file at
 * `path`: so an empty file there is always damage, not a database being created. Returns what
 * was migrated, or undefined when another process's database won.
 */
function createDatabase(path: string): MigrationReport | undefined {
  const temp = tempPathBeside(path, 'new');
  try {
    const migration = buildDatabase(temp);
    try {
      linkSync(temp, path);
      return migration;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return undefined;
    }
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Columns of our `bans` table since the first schema: a table of that name without them is another program's. */
const OUR_BAN_COLUMNS = ['address', 'jail', 'banned_at', 'expires_at', 'lifted_at'];

/**
 * Refuses a SQLite database that is not an f2b-store one (fail2ban's own, or any other program's)
 * before anything writes to it: it is never migrated into ours. A schema version above ours is
 * left to migrate(), which says a newer f2b-store made it.
 */
function checkOurs(db: Database.Database, path: string, latest: number): void {
  const version = schemaVersion(db);
  if (version > latest) return;
  const columns = new Set((db.pragma('table_info(bans)') as { name: string }[]).map((c) => c.name));
  if (version > 0 && OUR_BAN_COLUMNS.every((c) => columns.has(c))) return;
  const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]);
  const holds = tables.length === 0 ? 'no tables' : `tables ${tables.slice(0, 6).join(', ')}${tables.length > 6 ? ', …' : ''}`;
  throw new OperationError(`${path} is not an f2b-store database (it holds ${holds}) and was not changed: `
    + `to bring in fail2ban's bans use f2b-store import fail2ban-db ${path}; for f2b-store's own database choose another --db`);
}

/**
 * Opens (creating on demand: directory 0700, file 0600) and migrates the database at `path`.
 * WAL mode and a busy timeout make it safe to share between the daemon and CLI calls. A file
 * that is empty, not a database, or damaged is refused with a DatabaseDamagedError; one that
 * another user owns or may write (see checkDatabaseAccess), or another program's database, with
 * an OperationError.
 */
export function openDatabase(path: string, options: OpenOptions = {}): OpenedDatabase {
  const { create = true, insecure = false } = options;
  let db: Database.Database;
  let created: MigrationReport | undefined;
  try {
    if (!create && !existsSync(path)) {
      throw new OperationError(`no database at ${path}: check --db, F2B_STORE_DB or [store] dbfile (ban, import and start make a new one)`);
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    checkDatabaseAccess(path, insecure);
    if (!existsSync(path)) created = createDatabase(path);
    if (statSync(path).size === 0) throw new DatabaseDamagedError(path, 'the file is empty');
    db = openSqlite(path, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true });
  } catch (error) {
    if (error instanceof OperationError) throw error;
    throw explain(path, error);
  }
  try {
    const latest = latestVersion();
    checkOurs(db, path, latest);
    const version = schemaVersion(db);
    // migrate() refuses a newer database before anything writes to the file. One at the newest
    // version, as every open but the first after an upgrade finds it, needs no schema file read.
    const migration = version === latest ? { from: version, to: version, applied: [], backup: null } : migrate(db, path, loadMigrations());
    configure(db);
    return { db, path, migration: created ?? migration };
  } catch (error) {
    db.close();
    const damaged = asDamaged(path, error);
    if (damaged instanceof OperationError) throw damaged;
    throw explain(path, error);
  }
}

function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL: a ban acknowledged to the user survives a power cut, not only a crash.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
}

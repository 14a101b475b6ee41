import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OperationError, messageOf } from '../core/index.js';
import { asDamaged, DatabaseDamagedError } from './damage.js';
import { loadMigrations, migrate, type MigrationReport } from './migrations.js';

/** How long a writer waits for another process's transaction before giving up. */
const BUSY_TIMEOUT_MS = 15_000;

export interface OpenedDatabase {
  readonly db: Database.Database;
  readonly path: string;
  readonly migration: MigrationReport;
}

function explain(path: string, error: unknown): OperationError {
  const code = (error as { code?: string }).code;
  const hint = code === 'EACCES' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY'
    ? ' (run as root, or choose another file with --db or F2B_STORE_DB)'
    : '';
  return new OperationError(`cannot open database ${path}: ${messageOf(error)}${hint}`, { cause: error });
}

/** Builds a new, migrated database (mode 0600, WAL) at `path`, which must not exist yet. */
export function buildDatabase(path: string): MigrationReport {
  closeSync(openSync(path, 'wx', 0o600));
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
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
 * Makes a new database at `path` that nobody ever sees half made: it is built under a temporary
 * name beside it and then linked into place, which fails when another process got there first
 * (theirs is kept). A crash leaves at most that temporary file behind, never an empty file at
 * `path`: so an empty file there is always damage, not a database being created. Returns what
 * was migrated, or undefined when another process's database won.
 */
function createDatabase(path: string): MigrationReport | undefined {
  const temp = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
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

/**
 * Opens (creating on demand: directory 0700, file 0600) and migrates the database at `path`.
 * WAL mode and a busy timeout make it safe to share between the daemon and CLI calls. A file
 * that is empty, not a database, or damaged is refused with a DatabaseDamagedError.
 */
export function openDatabase(path: string): OpenedDatabase {
  let db: Database.Database;
  let created: MigrationReport | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (!existsSync(path)) created = createDatabase(path);
    if (statSync(path).size === 0) throw new DatabaseDamagedError(path, 'the file is empty');
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true });
  } catch (error) {
    if (error instanceof DatabaseDamagedError) throw error;
    throw explain(path, error);
  }
  try {
    // migrate() refuses a newer database before anything writes to the file.
    const migration = migrate(db, path, loadMigrations());
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

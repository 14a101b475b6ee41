import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OperationError, messageOf } from '../core/index.js';
import { loadMigrations, migrate, type MigrationReport } from './migrations.js';

/** How long a writer waits for another process's transaction before giving up. */
const BUSY_TIMEOUT_MS = 15_000;

export interface OpenedDatabase {
  readonly db: Database.Database;
  readonly migration: MigrationReport;
}

function explain(path: string, error: unknown): OperationError {
  const code = (error as { code?: string }).code;
  const hint = code === 'EACCES' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY'
    ? ' (run as root, or choose another file with --db or F2B_STORE_DB)'
    : '';
  return new OperationError(`cannot open database ${path}: ${messageOf(error)}${hint}`, { cause: error });
}

/**
 * Opens (creating on demand: directory 0700, file 0600) and migrates the database at `path`.
 * WAL mode and a busy timeout make it safe to share between the daemon and CLI calls.
 */
export function openDatabase(path: string): OpenedDatabase {
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, 'a', 0o600));
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw explain(path, error);
  }
  try {
    // migrate() refuses a newer database before anything writes to the file.
    const migration = migrate(db, path, loadMigrations());
    configure(db);
    return { db, migration };
  } catch (error) {
    db.close();
    if (error instanceof OperationError) throw error;
    throw explain(path, error);
  }
}

function configure(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  // FULL: a ban acknowledged to the user survives a power cut, not only a crash.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
}

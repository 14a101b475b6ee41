import Database from 'better-sqlite3';
import { OperationError } from '../core/index.js';

/**
 * The database file is not a database, or its pages do not hold together. Exit code 1; the
 * message names the file, what SQLite found (`detail`) and what to do.
 */
export class DatabaseDamagedError extends OperationError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(`database ${path} is damaged (${detail}): check it with sqlite3 ${path} 'PRAGMA integrity_check', `
      + 'restore it from a backup, or run f2b-store repair', options);
  }
}

/**
 * The problems of an integrity_check or quick_check result, one line each, without the
 * `*** in database main ***` headings.
 */
export function checkProblems(results: readonly string[]): string[] {
  const lines = results.flatMap((result) => result.split('\n')).map((line) => line.trim());
  return lines.filter((line) => line !== '' && line !== 'ok' && !line.startsWith('***'));
}

/** SQLITE_CORRUPT with its extended codes (SQLITE_CORRUPT_INDEX, …), and SQLITE_NOTADB. */
function damageCode(code: string): boolean {
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_');
}

/** The error in `error`'s cause chain that says the database file is damaged, if any. */
function damageIn(error: unknown): Error | undefined {
  for (let at = error; at instanceof Error; at = at.cause) {
    if (at instanceof DatabaseDamagedError || (at instanceof Database.SqliteError && damageCode(at.code))) return at;
  }
  return undefined;
}

/**
 * True when `error` (or its cause) says the database file is damaged: by SQLite's result code,
 * never by its message.
 */
export function isDamaged(error: unknown): boolean {
  return damageIn(error) !== undefined;
}

/** `error` as a DatabaseDamagedError naming `path` when it says the file is damaged; otherwise `error` itself. */
export function asDamaged(path: string, error: unknown): unknown {
  const found = damageIn(error);
  if (found === undefined || found instanceof DatabaseDamagedError) return found ?? error;
  return new DatabaseDamagedError(path, found.message, { cause: error });
}

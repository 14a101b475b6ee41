import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { OperationError, messageOf } from '../core/index.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The project's `schema/` folder: two levels up from `src/store/` and from the bundle in `dist/cli/`. */
export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

/** The `NNN_name.sql` files of `dir`, in version order. */
function migrationFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
}

/** The newest schema version, from the files' names alone (see loadMigrations). */
export function latestVersion(dir: string = SCHEMA_DIR): number {
  return migrationFiles(dir).length;
}

/** Reads `NNN_name.sql` files in version order; versions must run 1, 2, 3… without gaps. */
export function loadMigrations(dir: string = SCHEMA_DIR): Migration[] {
  return migrationFiles(dir).map((file, index) => {
    const version = Number(file.slice(0, 3));
    if (version !== index + 1) throw new OperationError(`schema ${dir}${file}: expected version ${index + 1}`);
    return { version, name: file, sql: readFileSync(dir + file, 'utf8') };
  });
}

/** What `migrate` did: the version found, the version left, the backup made before upgrading. */
export interface MigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
  readonly backup: string | null;
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database to the newest schema, one transaction per migration. A database that already
 * holds data is first copied to `<path>.v<N>.bak`. Several processes may race here: each migration
 * re-checks the version under the write lock.
 */
export function migrate(db: Database.Database, path: string, migrations: readonly Migration[]): MigrationReport {
  const from = schemaVersion(db);
  const latest = migrations.length;
  if (from > latest) {
    throw new OperationError(
      `database ${path} has schema version ${from}, newer than this f2b-store knows (${latest}): upgrade f2b-store; the database was not modified`,
    );
  }
  let backup: string | null = null;
  if (from > 0 && from < latest) {
    backup = `${path}.v${from}.bak`;
    if (!existsSync(backup)) {
      try {
        db.prepare('VACUUM INTO ?').run(backup);
      } catch (error) {
        // Another process upgrading at the same moment may have written it first.
        if (!existsSync(backup)) {
          throw new OperationError(`cannot back up ${path} to ${backup} before upgrading: ${messageOf(error)}`, { cause: error });
        }
      }
    }
  }
  const applied: string[] = [];
  const apply = (migration: Migration): void => {
    if (schemaVersion(db) >= migration.version) return;
    db.exec(migration.sql);
    db.pragma(`user_version = ${migration.version}`);
    applied.push(migration.name);
  };
  if (from === 0) {
    // A new database is created in one transaction, so no other process ever sees it half made.
    db.transaction(() => migrations.forEach(apply)).immediate();
  } else {
    for (const migration of migrations.slice(from)) db.transaction(() => apply(migration)).immediate();
  }
  return { from, to: schemaVersion(db), applied, backup };
}

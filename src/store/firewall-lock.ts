import { closeSync, constants, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { messageOf, OperationError, type Exclusive } from '../core/index.js';
import { openSqlite } from './sqlite.js';

/** How soon a lock another process holds is tried again: a CLI's firewall change takes tens of milliseconds. */
const RETRY_MS = 5;

/** The lock file of a database: beside it, as the pid file and the control socket are. */
export const firewallLockFile = (dbPath: string): string => `${dbPath}.firewall-lock`;

const isBusy = (error: unknown): boolean => (error as { code?: unknown }).code === 'SQLITE_BUSY';

/**
 * One writer of the firewall at a time among the f2b-store processes of one database (the daemon
 * and every command): each reads the firewall's objects and changes them, and two at once make a
 * rule twice or delete one the other already replaced. Held as a write transaction on a file of
 * its own, which SQLite keeps with an fcntl lock: the kernel releases it when its process ends,
 * however it ends (kill -9 too), so no stale lock outlives its holder; the database itself is not
 * held, so bans are written meanwhile. Waiting polls rather than using SQLite's busy timeout,
 * which would stop the daemon's event loop.
 */
export function firewallLock(dbPath: string): Exclusive {
  const path = firewallLockFile(dbPath);
  let db: Database.Database | undefined;
  // Holders in this process queue here: one connection holds one transaction at a time.
  let queue: Promise<unknown> = Promise.resolve();

  const acquire = async (): Promise<Database.Database> => {
    try {
      // Made 0600 first, as the control socket is: a process of another user that could read it
      // could hold a read lock on it, and keep every f2b-store process from changing the firewall.
      if (!db) {
        closeSync(openSync(path, constants.O_CREAT | constants.O_RDWR | constants.O_NOFOLLOW, 0o600));
        db = openSqlite(path, { timeout: 0 });
        // Nothing is ever written to it; in the default journal mode SQLite still refuses BEGIN
        // IMMEDIATE on a full disk, and a full disk must never stop bans reaching the firewall.
        db.pragma('journal_mode = MEMORY');
      }
    } catch (error) {
      throw new OperationError(`cannot open the firewall lock ${path}: ${messageOf(error)}: its directory must be writable, as the database's is`, { cause: error });
    }
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        return db;
      } catch (error) {
        if (!isBusy(error)) throw new OperationError(`taking the firewall lock ${path}: ${messageOf(error)}`, { cause: error });
      }
      await sleep(RETRY_MS);
    }
  };

  return <T>(work: () => Promise<T>): Promise<T> => {
    const turn = queue.then(async () => {
      const held = await acquire();
      try {
        return await work();
      } finally {
        // Nothing was written: a COMMIT can still fail with SQLITE_BUSY while another process
        // tries its turn (seen with six at once), a ROLLBACK never does.
        held.exec('ROLLBACK');
      }
    });
    queue = turn.catch(() => undefined);
    return turn;
  };
}

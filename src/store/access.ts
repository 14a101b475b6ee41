import { existsSync, realpathSync, statSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { OperationError } from '../core/index.js';

/** The running user as `name (uid N)`, or `uid N` when it has no name. */
function runningUser(uid: number): string {
  try {
    return `${userInfo().username} (uid ${uid})`;
  } catch {
    return `uid ${uid}`;
  }
}

/** What is wrong with `stats` of a file the running user must hold alone, or undefined. */
function problemOf(stats: Stats): string | undefined {
  const uid = process.geteuid?.() ?? 0;
  if (stats.uid !== uid) return `is owned by uid ${stats.uid}, not by ${runningUser(uid)} who runs f2b-store`;
  if ((stats.mode & 0o022) !== 0) {
    const who = (stats.mode & 0o002) !== 0 ? 'everyone' : 'its group';
    return `may be written by ${who} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

/**
 * Refuses a database that someone else could put bans into (they become firewall rules) or swap
 * files beside (its -wal, -shm, the daemon's pid file and socket): the database file, its -wal
 * and -shm, and the directory they are in (through any symlink) must be owned by the running
 * user and not writable by group or others. `insecure` (--insecure-db) skips the check.
 */
export function checkDatabaseAccess(path: string, insecure: boolean): void {
  if (insecure || !existsSync(dirname(path))) return;
  const places: [string, string][] = [['database directory', realpathSync(dirname(path))]];
  if (existsSync(path)) {
    const real = realpathSync(path);
    places.push(['database directory', dirname(real)], ['database', real], ['database WAL', `${real}-wal`], ['database shared memory', `${real}-shm`]);
  }
  for (const [what, at] of places) {
    const stats = statSync(at, { throwIfNoEntry: false });
    const problem = stats && problemOf(stats);
    if (problem !== undefined) {
      throw new OperationError(`${what} ${at} ${problem}: another user could plant bans in it; `
        + 'make it yours and not writable by others (chown, chmod go-w), or pass --insecure-db to use it anyway');
    }
  }
}

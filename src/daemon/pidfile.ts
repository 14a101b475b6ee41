import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OperationError } from '../core/index.js';

/** The daemon's pid file lives beside its database, so each database has at most one daemon. */
export function pidFileFor(dbPath: string): string {
  return join(dirname(dbPath), 'f2b-store.pid');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True while process `pid` has not exited. A zombie (exited, its parent has not collected it
 * yet) has exited: `kill -0` still succeeds on it, its state in /proc says Z.
 */
export function processRunning(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    // `PID (COMMAND) STATE …`; the command may itself hold ') '.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return true;
  }
}

/** True when process `pid` runs f2b-store's daemon: `f2b-store` (or its script `f2b-store.js`) with the command `start`. */
export function isDaemonProcess(pid: number): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const program = args.findIndex((arg) => /^f2b-store(?:\.js)?$/.test(basename(arg)));
  return program !== -1 && args.slice(program + 1).includes('start');
}

/** The pid a pid file names; undefined when it is missing, not a regular file (a symlink is not followed), or holds no pid. */
function readPid(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buffer = Buffer.alloc(32);
    const text = buffer.subarray(0, readSync(fd, buffer)).toString('utf8').trim();
    const pid = Number(text);
    return /^\d+$/.test(text) && pid > 0 ? pid : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The pid of the running daemon the pid file names, or undefined: a pid file from a crash, naming
 * a process that is gone or another program that got its pid since, does not count.
 */
export function runningDaemon(path: string): number | undefined {
  const pid = readPid(path);
  return pid !== undefined && processRunning(pid) && isDaemonProcess(pid) ? pid : undefined;
}

/** Attempts at replacing a stale pid file before giving up (someone keeps putting one back). */
const CLAIM_ATTEMPTS = 3;

/**
 * Claims the pid file for this process; refuses when another daemon holds it. The file is always
 * made anew (O_EXCL): whatever was planted at its name — a symlink to a file of root's, say — is
 * removed, never followed or written through. The returned release removes the file only while
 * it is still the one made here.
 */
export function claimPidFile(path: string): () => void {
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const other = runningDaemon(path);
      if (other !== undefined && other !== process.pid) {
        throw new OperationError(`another f2b-store daemon (pid ${other}) already runs on this database: stop it first (f2b-store stop)`);
      }
      // unlink removes a symlink itself, never what it points to.
      rmSync(path, { force: true });
      continue;
    }
    let made;
    try {
      // Not through open's mode: the umask would change it.
      fchmodSync(fd, 0o644);
      writeSync(fd, `${process.pid}\n`);
      made = fstatSync(fd);
    } finally {
      closeSync(fd);
    }
    const { dev, ino } = made;
    return () => {
      const now = lstatSync(path, { throwIfNoEntry: false });
      if (now?.dev === dev && now.ino === ino) rmSync(path, { force: true });
    };
  }
  throw new OperationError(`cannot claim the pid file ${path}: a file keeps appearing at its name; check who writes to ${dirname(path)}`);
}

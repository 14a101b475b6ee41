import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/** The pid of the running daemon, or undefined (a stale file from a crash does not count). */
export function runningDaemon(path: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/** Claims the pid file for this process; refuses when another daemon holds it. */
export function claimPidFile(path: string): () => void {
  const other = runningDaemon(path);
  if (other !== undefined && other !== process.pid) {
    throw new OperationError(`another f2b-store daemon (pid ${other}) already runs on this database: stop it first (f2b-store stop)`);
  }
  writeFileSync(path, `${process.pid}\n`, { mode: 0o644 });
  return () => {
    if (runningDaemon(path) === process.pid) rmSync(path, { force: true });
  };
}

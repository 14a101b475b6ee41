import { readFileSync, readlinkSync } from 'node:fs';

/**
 * The CPU time of one thread of this process, from Linux's /proc: what the filter worker's line
 * budget counts, so that a thread that was not running (a paused VM, a machine short of cores)
 * is not taken for a line that is stuck.
 */

/** /proc's clock ticks (USER_HZ): 100 a second on every Linux architecture Node runs on. */
const TICK_MS = 10;

/** The calling thread's id (Linux's task id), or 0 where /proc does not tell it. */
export function currentThreadId(): number {
  try {
    // "PID/task/TID"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isSafeInteger(tid) && tid > 0 ? tid : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) thread `tid` of this process has used, in ms; undefined when it cannot be read (the thread ended, no /proc). */
export function threadCpuMs(tid: number): number | undefined {
  if (tid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The name in parentheses may hold spaces and parentheses: the fields are counted from its end.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), utime and stime: the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * TICK_MS : undefined;
}

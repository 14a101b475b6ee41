import { messageOf, type LogEntry } from '../core/index.js';
import { fileLines } from './log-format.js';
import { appendLines } from './log-targets.js';

export type BanLogEvent = { readonly action: 'Ban' | 'Unban'; readonly jail: string; readonly address: string; readonly time: number };

/**
 * One line of f2b-store's own log, in local time, in the stable format the shipped `recidive`
 * filter reads (and fail2ban's own log resembles):
 * `2026-11-23 13:05:01,123 f2b-store[1234]: NOTICE [sshd] Ban 203.0.113.7`.
 */
export function banLogLine(event: BanLogEvent, pid = process.pid): string {
  return banLogLines([event], pid).join('');
}

/** The lines of `events`, each run of one time with its time written once (a commit's bans share theirs). */
function banLogLines(events: readonly BanLogEvent[], pid = process.pid): string[] {
  const lines: string[] = [];
  for (let from = 0; from < events.length;) {
    const time = (events[from] as BanLogEvent).time;
    let to = from + 1;
    while (to < events.length && (events[to] as BanLogEvent).time === time) to++;
    const entries = events.slice(from, to).map((e): LogEntry => ({ level: 'notice', text: `[${e.jail}] ${e.action} ${e.address}` }));
    for (const line of fileLines(entries, time * 1000, pid)) lines.push(line);
    from = to;
  }
  return lines;
}

/**
 * Appends bans and lifts to the log file, a burst in one write. A log that cannot be written is
 * reported through `warn` once per failure streak and never stops the daemon: the database is
 * the record, this log only feeds `recidive`. Its directory is made when missing: a daemon run by
 * hand with the defaults logs too.
 */
export function createBanLog(path: string, warn: (message: string) => void): (events: readonly BanLogEvent[]) => void {
  let failing = false;
  return (events) => {
    if (path === '' || events.length === 0) return;
    try {
      appendLines(path, banLogLines(events));
      failing = false;
    } catch (error) {
      if (!failing) warn(`cannot write the ban log ${path}: ${messageOf(error)}; bans are still recorded in the database`);
      failing = true;
    }
  };
}

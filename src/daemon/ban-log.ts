import { messageOf } from '../core/index.js';
import { fileLines } from './log-format.js';
import { appendLines } from './log-targets.js';

export type BanLogEvent = { readonly action: 'Ban' | 'Unban'; readonly jail: string; readonly address: string; readonly time: number };

/**
 * One line of f2b-store's own log, in local time, in the stable format the shipped `recidive`
 * filter reads (and fail2ban's own log resembles):
 * `2026-11-23 13:05:01,123 f2b-store[1234]: NOTICE [sshd] Ban 203.0.113.7`.
 */
export function banLogLine(event: BanLogEvent, pid = process.pid): string {
  return fileLines([{ level: 'notice', text: `[${event.jail}] ${event.action} ${event.address}` }], event.time * 1000, pid).join('');
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
      appendLines(path, events.map((e) => banLogLine(e)));
      failing = false;
    } catch (error) {
      if (!failing) warn(`cannot write the ban log ${path}: ${messageOf(error)}; bans are still recorded in the database`);
      failing = true;
    }
  };
}

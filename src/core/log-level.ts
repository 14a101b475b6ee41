/** How much a log line matters, most first: fail2ban's level names. */
export const LOG_LEVELS = ['critical', 'error', 'warning', 'notice', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log call: the line, and its level (info when not said). Every layer that logs takes one of these. */
export type Log = (line: string, level?: LogLevel) => void;

/** syslog(3)'s severity of each level: the `<N>` of sd-daemon(3), journald's PRIORITY, syslog's PRI. */
export const SYSLOG_SEVERITY: Readonly<Record<LogLevel, number>> = { critical: 2, error: 3, warning: 4, notice: 5, info: 6, debug: 7 };

/** fail2ban's other spellings of a level (its `loglevel` also takes these, any case). */
const ALIASES: Readonly<Record<string, LogLevel>> = { crit: 'critical', fatal: 'critical', err: 'error', warn: 'warning', heavydebug: 'debug', tracedebug: 'debug' };

/** The level `text` names (`warning`, fail2ban's `WARNING`, `warn`), or undefined. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const word = text.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(word) ? word as LogLevel : ALIASES[word];
}

/** Whether a line at `level` is written when the configured level is `threshold`. */
export function logs(level: LogLevel, threshold: LogLevel): boolean {
  return SYSLOG_SEVERITY[level] <= SYSLOG_SEVERITY[threshold];
}

/**
 * Where the daemon's log goes (`[daemon] logtarget`): standard error or output, a file, syslog
 * (datagrams to a socket, /dev/log by default), or the systemd journal's native socket.
 */
export type LogTarget =
  | { readonly kind: 'stderr' | 'stdout' | 'journal' }
  | { readonly kind: 'syslog'; readonly socket: string }
  | { readonly kind: 'file'; readonly path: string };

/** One line of the daemon's log, before it is formatted for its target. */
export interface LogEntry {
  readonly level: LogLevel;
  readonly text: string;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

/**
 * A message as one line: control characters (a line end in text from a log line or a command's
 * output) become `\xNN`, so no text can start a line of its own that passes for another
 * (a forged `NOTICE [sshd] Ban …` for recidive, a `<0>` priority).
 */
export function oneLine(text: string): string {
  // Tested first: nearly every message has none, and replace() with a callback cost the daemon 1 µs a line (two per ban).
  return CONTROL.test(text) ? text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : text;
}

import { isoTime, oneLine, SYSLOG_SEVERITY, type LogEntry, type LogLevel } from '../core/index.js';

/** The name the daemon's lines carry (syslog tag, journal SYSLOG_IDENTIFIER): what recidive's prefix expects. */
export const IDENTIFIER = 'f2b-store';
/** syslog's facility `daemon`. */
const FACILITY = 3;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

const LEVEL_WORDS: Readonly<Record<LogLevel, string>> = { critical: 'CRITICAL', error: 'ERROR', warning: 'WARNING', notice: 'NOTICE', info: 'INFO', debug: 'DEBUG' };

/** `NOTICE [sshd] Ban 203.0.113.7`: the level in fail2ban's words, then the message. */
export function leveled(entry: LogEntry): string {
  return `${LEVEL_WORDS[entry.level]} ${oneLine(entry.text)}`;
}

/** Lines of a log file, as fail2ban writes its own: `2026-11-23 13:05:01,123 f2b-store[1234]: NOTICE [sshd] Ban 203.0.113.7` (local time). */
export function fileLines(entries: readonly LogEntry[], timeMs: number, pid = process.pid): string[] {
  const d = new Date(timeMs);
  const head = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)} ${IDENTIFIER}[${pid}]: `;
  return entries.map((entry) => `${head}${leveled(entry)}`);
}

/**
 * Lines on standard error: with the time and name when a person or a file reads them; under
 * systemd (the stream is the journal's) with sd-daemon(3)'s `<N>` priority instead, as the
 * journal stamps time and unit itself.
 */
export function streamLines(entries: readonly LogEntry[], timeMs: number, journal: boolean): string[] {
  if (journal) return entries.map((entry) => `<${SYSLOG_SEVERITY[entry.level]}>${leveled(entry)}`);
  const head = `${isoTime(Math.floor(timeMs / 1000))} ${IDENTIFIER}: `;
  return entries.map((entry) => `${head}${leveled(entry)}`);
}

/** An RFC 3164 datagram as syslog(3) sends it to /dev/log: `<29>Nov 23 13:05:01 f2b-store[1234]: NOTICE …` (facility daemon, local time). */
export function syslogDatagram(entry: LogEntry, timeMs: number, pid = process.pid): Buffer {
  const d = new Date(timeMs);
  const stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return Buffer.from(`<${FACILITY * 8 + SYSLOG_SEVERITY[entry.level]}>${stamp} ${IDENTIFIER}[${pid}]: ${leveled(entry)}`);
}

/** A field in the journal's native protocol: its length-prefixed form, which holds any byte. */
function journalField(name: string, value: string): Buffer {
  const bytes = Buffer.from(value);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([Buffer.from(`${name}\n`), size, bytes, Buffer.from('\n')]);
}

/** A datagram of the journal's native protocol (systemd.journal-fields(7)): the message with its priority and identifier. */
export function journalDatagram(entry: LogEntry, pid = process.pid): Buffer {
  return Buffer.concat([
    journalField('MESSAGE', leveled(entry)),
    Buffer.from(`PRIORITY=${SYSLOG_SEVERITY[entry.level]}\nSYSLOG_FACILITY=${FACILITY}\nSYSLOG_IDENTIFIER=${IDENTIFIER}\nSYSLOG_PID=${pid}\n`),
  ]);
}

import { appendFileSync, fstatSync, mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { messageOf, type LogEntry, type LogTarget } from '../core/index.js';
import { fileLines, journalDatagram, streamLines, syslogDatagram } from './log-format.js';

/** The journal's native socket (systemd.journal-fields(7), sd_journal_print(3) write to it). */
export const JOURNAL_SOCKET = '/run/systemd/journal/socket';

/** Writes formatted lines somewhere; a burst in one call. */
export interface LogWriter {
  write(entries: readonly LogEntry[], timeMs: number): void;
  close(): void;
}

/** Appends to a file, making its directory (0750) when missing, as the unit's LogsDirectory= does. Opened for each write: logrotate needs no signal. */
export function appendLines(path: string, lines: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  appendFileSync(path, `${lines.join('\n')}\n`, { mode: 0o640 });
}

/**
 * Whether `fd` is the journal's stream: systemd sets JOURNAL_STREAM to the device and inode of
 * the stream it connects (systemd.exec(5)); a process whose output was redirected elsewhere
 * inherits the variable, but not the stream.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (stream === undefined || stream === '') return false;
  try {
    const stat = fstatSync(fd, { bigint: true });
    return stream === `${stat.dev}:${stat.ino}`;
  } catch {
    return false;
  }
}

function streamWriter(stream: NodeJS.WriteStream, fd: number, env: NodeJS.ProcessEnv): LogWriter {
  const journal = isJournalStream(fd, env);
  return {
    write: (entries, timeMs) => {
      if (entries.length > 0) stream.write(`${streamLines(entries, timeMs, journal).join('\n')}\n`);
    },
    close: () => undefined,
  };
}

/**
 * A writer that falls back to standard error while its own target fails, saying so once per
 * failure streak, and when it works again: a log that cannot be written never stops the daemon.
 */
function withFallback(what: string, send: (entries: readonly LogEntry[], timeMs: number) => void, fallback: LogWriter, close: () => void): LogWriter {
  let failing = false;
  const failed = (entries: readonly LogEntry[], timeMs: number, error: unknown): void => {
    const told = failing ? [] : [{ level: 'error' as const, text: `cannot write the log to ${what}: ${messageOf(error)}; writing it to standard error until that works again` }];
    failing = true;
    fallback.write([...told, ...entries], timeMs);
  };
  return {
    write: (entries, timeMs) => {
      if (entries.length === 0) return;
      try {
        send(entries, timeMs);
      } catch (error) {
        failed(entries, timeMs, error);
        return;
      }
      if (failing) {
        failing = false;
        send([{ level: 'notice', text: `writing the log to ${what} again` }], timeMs);
      }
    },
    close,
  };
}

function sendFailure(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (code === 1) return 'the receiver\'s queue is full';
  const name = typeof code === 'number' ? Object.entries(constants.errno).find(([, n]) => n === -code)?.[0] : undefined;
  return name ?? error.message;
}

/** Datagrams to a unix socket, one per line; a line not taken (no listener, its queue full) goes to standard error. */
async function datagramWriter(what: string, path: string, datagram: (entry: LogEntry, timeMs: number) => Buffer, fallback: LogWriter): Promise<LogWriter> {
  // Loaded only for these targets: a native addon.
  const { createSocket } = await import('unix-dgram');
  const socket = createSocket('unix_dgram');
  // Errors come with each send's callback; an 'error' event would otherwise end the process.
  socket.on('error', () => undefined);
  const send = ([entry]: readonly LogEntry[], timeMs: number): void => {
    if (entry === undefined) return;
    const buf = datagram(entry, timeMs);
    let sendError: Error | undefined;
    socket.send(buf, 0, buf.length, path, (error) => {
      sendError = error;
    });
    // unix-dgram calls back before send() returns, with a negative errno (1: the receiver's queue is full).
    if (sendError) throw new Error(sendFailure(sendError));
  };
  // One line at a time: a line not taken goes to the fallback alone, never the lines sent before it.
  const writer = withFallback(what, send, fallback, () => socket.close());
  return { write: (entries, timeMs) => entries.forEach((entry) => writer.write([entry], timeMs)), close: () => writer.close() };
}

export interface WriterOptions {
  /** The environment (JOURNAL_STREAM). */
  readonly env?: NodeJS.ProcessEnv;
  /** The journal's socket: JOURNAL_SOCKET, unless a test runs its own. */
  readonly journalSocket?: string;
}

/** The writer of a log target. */
export async function openLogWriter(target: LogTarget, options: WriterOptions = {}): Promise<LogWriter> {
  const env = options.env ?? process.env;
  const stderr = streamWriter(process.stderr, 2, env);
  switch (target.kind) {
    case 'stderr':
      return stderr;
    case 'stdout':
      return streamWriter(process.stdout, 1, env);
    case 'file':
      return withFallback(target.path, (entries, timeMs) => appendLines(target.path, fileLines(entries, timeMs)), stderr, () => undefined);
    case 'syslog':
      return datagramWriter(`syslog (${target.socket})`, target.socket, syslogDatagram, stderr);
    case 'journal':
      return datagramWriter('the journal', options.journalSocket ?? JOURNAL_SOCKET, (entry) => journalDatagram(entry), stderr);
  }
}

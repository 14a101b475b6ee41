/**
 * The journal is read by running `journalctl --output=json` (the way sshguard's and Vector's
 * journald sources do), not through a native libsystemd binding: nothing to compile for each
 * Node ABI, no crash of a native module inside the daemon, the same reading code as the
 * administrator's own `journalctl`, and a process that can be ended and restarted on its own.
 * Everything is an argument vector, never a shell; log text never reaches a command line.
 */
import { execFile } from 'node:child_process';
import {
  COMMAND_NOT_FOUND, endedWithParent, InputError, JOURNAL_FLAGS, journalctlMatchArgs, journalMatchFields, type JournalMatch, type JournalSource,
} from '../core/index.js';
import { LINE_FIELDS } from './journal-entry.js';

/** Where reading starts: just after a cursor's entry, or at a time (epoch seconds). */
export type JournalStart = { readonly cursor: string } | { readonly since: number };

const FIELD = /^(?!__)[A-Z0-9_]+$/;

/** fail2ban's default for the system journal: sd_journal_open's SYSTEM flag, all machines' files. */
const DEFAULT_FLAGS = JOURNAL_FLAGS.system;

/** journalctl's options choosing the files fail2ban's `journalpath`, `journalfiles`, `journalflags` and `namespace` choose. */
export function journalSourceArgs(source: JournalSource): string[] {
  const args: string[] = [];
  if (source.path !== undefined) args.push(`--directory=${source.path}`);
  for (const file of source.files ?? []) args.push(`--file=${file}`);
  const chosen = source.path !== undefined || source.files !== undefined;
  // As fail2ban: flags apply when given, and by default only when no path or files are.
  const flags = source.flags ?? (chosen ? undefined : DEFAULT_FLAGS);
  if (flags !== undefined) {
    if (flags & JOURNAL_FLAGS.system) args.push('--system');
    if (flags & JOURNAL_FLAGS.currentUser) args.push('--user');
    if (!chosen) {
      // journalctl reads only this machine's files unless --merge; it has no runtime-only option but the folder.
      if ((flags & JOURNAL_FLAGS.localOnly) === 0) args.push('--merge');
      if (flags & JOURNAL_FLAGS.runtimeOnly) args.push('--directory=/run/log/journal');
    }
  }
  if (source.namespace !== undefined) args.push(`--namespace=${source.namespace}`);
  return args;
}

/** The fields to print: those the line is made of, those the match and the caller read. */
export function outputFields(match: JournalMatch | undefined, extra: readonly string[] = []): string {
  const bad = extra.find((field) => !FIELD.test(field));
  if (bad !== undefined) throw new InputError(`journal field "${bad}": use A-Z, 0-9 and _ (not starting with __)`);
  return [...new Set([...LINE_FIELDS, ...journalMatchFields(match), ...extra])].join(',');
}

export interface JournalctlArgs {
  readonly source: JournalSource;
  readonly match: JournalMatch | undefined;
  /** Fields to print besides the line's and the match's. */
  readonly fields?: readonly string[];
  /** Undefined: from the start of the journal. */
  readonly start?: JournalStart;
  readonly follow: boolean;
}

/**
 * The reading command. A cursor is given with `--cursor` (its entry included, to be skipped by
 * the reader), not `--after-cursor`: journalctl 252 skips one entry too many after a cursor
 * whose entry is gone or does not pass the match. `--all` prints values over 4096 bytes
 * (otherwise null), `--no-tail` every entry from the start point when following.
 */
export function journalctlArgv(journalctl: string, options: JournalctlArgs): string[] {
  const { start } = options;
  const from = start === undefined ? [] : 'cursor' in start ? [`--cursor=${start.cursor}`] : [`--since=@${start.since}`];
  return endedWithParent([
    journalctl, ...journalSourceArgs(options.source), ...from, ...(options.follow ? ['--follow', '--no-tail'] : []),
    '--all', '--output=json', `--output-fields=${outputFields(options.match, options.fields)}`, '--no-pager', '--quiet',
    ...journalctlMatchArgs(options.match),
  ]);
}

/** Why journalctl ended, in one line: its exit or signal and the first line of what it said. */
export function journalctlEnd(journalctl: string, code: number | null, signal: string | null, stderr: string): string {
  if (code === COMMAND_NOT_FOUND) return `${journalctl} not found: install systemd (journalctl)`;
  const said = stderr.trim().split('\n')[0] ?? '';
  return `${journalctl} ended (${signal ?? `exit ${code}`})${said === '' ? '' : `: ${said}`}`;
}

const PROBE_TIMEOUT_MS = 60_000;

function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string; failure?: string }> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(file, args, { timeout: PROBE_TIMEOUT_MS, maxBuffer: 1 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ code: 0, stdout, stderr });
        return;
      }
      const errno = (error as NodeJS.ErrnoException).code;
      const failure = errno === 'ENOENT' ? `${file} not found: install util-linux` : error.killed ? `timed out after ${PROBE_TIMEOUT_MS / 1000} s` : undefined;
      resolve({ code: typeof errno === 'number' ? errno : -1, stdout, stderr, ...(failure === undefined ? {} : { failure }) });
    });
  });
}

/** What the journal says of a cursor: its entry is there, gone (vacuumed, another machine id), or the cursor is no cursor. */
export type CursorState = 'found' | 'gone' | 'invalid';

/**
 * Whether the cursor's entry is still in the journal, asked without the match (a changed match
 * must not make a present entry look gone): journalctl seeks to the cursor's place and prints
 * the first entry from there, which is the cursor's own entry exactly when it is still there.
 * A journalctl that fails with the cursor but works without it was given a malformed cursor;
 * one that fails both ways is broken (missing, bad journalpath), and that is thrown, in one line.
 */
export async function probeCursor(journalctl: string, source: JournalSource, cursor: string): Promise<CursorState> {
  const common = [journalctl, ...journalSourceArgs(source), '--output=json', '--output-fields=__CURSOR', '--no-pager', '--quiet'];
  const seek = await run(endedWithParent([...common, `--cursor=${cursor}`, '--lines=1']));
  if (seek.code === 0) {
    const first = seek.stdout.split('\n', 1)[0] ?? '';
    return first !== '' && (JSON.parse(first) as { __CURSOR?: unknown }).__CURSOR === cursor ? 'found' : 'gone';
  }
  const plain = await run(endedWithParent([...common, '--lines=0']));
  if (plain.code === 0) return 'invalid';
  throw new Error(plain.failure ?? journalctlEnd(journalctl, plain.code, null, plain.stderr));
}

/** The realtime (microseconds) a cursor was taken at, from its `t=` part, when it has one. */
export function cursorRealtime(cursor: string): bigint | undefined {
  const hex = /(?:^|;)t=([0-9a-f]{1,16})(?:;|$)/.exec(cursor)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

import { execFile, spawn, type ChildProcess, type ExecFileException } from 'node:child_process';
import { createInterface } from 'node:readline';
import { endedWithParent, OperationError } from '../core/index.js';
import type { Command } from './types.js';

/** Runs one command and returns its stdout; throws ExecError naming the command and its stderr. */
export type Exec = (command: Command) => Promise<string>;

/**
 * How a command failed: `missing` (the binary, or the network namespace, is not there), `timeout`
 * (killed when its time was up), `exit` (it ran and failed: a non-zero exit, or killed by a signal).
 */
export type ExecFailure = 'missing' | 'timeout' | 'exit';

/** A failed command: its one-line message for people, and for code its kind, stderr and exit code. */
export class ExecError extends OperationError {
  readonly kind: ExecFailure;
  /** Everything the command wrote to stderr. */
  readonly stderr: string;
  /** Its exit status; null when it did not exit by itself (not started, timed out, killed by a signal). */
  readonly code: number | null;

  constructor(message: string, failure: { readonly kind: ExecFailure; readonly stderr?: string; readonly code?: number | null }, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = failure.kind;
    this.stderr = failure.stderr ?? '';
    this.code = failure.code ?? null;
  }
}

/** Whether `error` is a command that ran and failed (so its stderr is the firewall's own word). */
export function isExitError(error: unknown): error is ExecError {
  return error instanceof ExecError && error.kind === 'exit';
}

/** The package of each command, for the "not installed" message: the executor's own, and the backends' (see PACKAGE_HINTS). */
export type PackageHints = Readonly<Record<string, string>>;

const OWN_PACKAGES: PackageHints = { setpriv: 'util-linux', ip: 'iproute2' };

const notFound = (file: string, packages: PackageHints): string => `${file} not found: install ${packages[file] ?? OWN_PACKAGES[file] ?? file}`;

const TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 512 * 1024 * 1024;

/** Shows a command the way a person would type it, for messages only (never executed). */
export function describeCommand(command: Command): string {
  const shown = command.argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  return command.stdin === undefined ? shown : `${shown} < (${command.stdin.split('\n').length} lines)`;
}

/**
 * `ip netns exec` reports a missing command or namespace on its own stderr, as its first line:
 * `exec of "nft" failed: No such file or directory`, `Cannot open network namespace "x": …`.
 */
const NETNS_MISSING = /^(?:exec of "[^"]*" failed|Cannot open network namespace "[^"]*"): No such file or directory/;

function failureOf(error: ExecFileException, stderr: string, inNetns: boolean): ExecFailure {
  if (error.code === 'ENOENT' || (inNetns && NETNS_MISSING.test(stderr))) return 'missing';
  // `killed` alone is also set when output overflowed maxBuffer: only the timer's signal is a timeout.
  return error.killed && error.signal === 'SIGTERM' && error.code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' ? 'timeout' : 'exit';
}

/** A command started by `started`: the child, and its stdout once it exits 0 (else an ExecError). */
interface Started {
  readonly child: ChildProcess;
  readonly done: Promise<string>;
}

/** Starts `command` (its argv; stdin is the caller's) as systemExec and systemStream run it. */
function started(command: Command, netns: string | undefined, packages: PackageHints, defaultTimeoutMs: number): Started {
  let child!: ChildProcess;
  const done = new Promise<string>((resolve, reject) => {
    const timeoutMs = Math.max(defaultTimeoutMs, command.timeoutMs ?? 0);
    const argv = netns === undefined ? command.argv : ['ip', 'netns', 'exec', netns, ...command.argv];
    const [file, ...args] = argv as [string, ...string[]];
    child = execFile(file, args, { timeout: timeoutMs, maxBuffer: MAX_OUTPUT, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) {
        resolve(stdout);
        return;
      }
      const kind = failureOf(error, stderr, netns !== undefined);
      const why = error.code === 'ENOENT'
        ? notFound(file, packages)
        : kind === 'timeout' ? `timed out after ${timeoutMs / 1000} s` : (stderr.trim() || error.message).split('\n').slice(0, 5).join('; ');
      const code = typeof error.code === 'number' ? error.code : null;
      reject(new ExecError(`${describeCommand(command)}: ${why}`, { kind, stderr, code }, { cause: error }));
    });
    // A command that exits before reading its stdin (e.g. a missing namespace) makes the write
    // fail with EPIPE; its exit status already reports the failure above.
    child.stdin?.on('error', () => undefined);
  });
  return { child, done };
}

/**
 * The real executor: argument vectors through execFile, never a shell. With `netns`, every
 * command runs inside that network namespace (`ip netns exec NAME …`). `packages` names what to
 * install when a command is missing; a command still running after `defaultTimeoutMs` (or its
 * own timeoutMs, when longer) is killed.
 */
export function systemExec(netns?: string, packages: PackageHints = {}, defaultTimeoutMs = TIMEOUT_MS): Exec {
  return (command) => {
    const { child, done } = started(command, netns, packages, defaultTimeoutMs);
    if (command.stdin !== undefined) child.stdin?.end(command.stdin);
    return done;
  };
}

/** A command whose stdin is written while it runs (see ExecStream). */
export interface StreamedCommand {
  /** Writes to its stdin; resolves when it may be given more (its pipe drained, or it ended). */
  write(text: string): Promise<void>;
  /** Closes its stdin and waits for it: its stdout, or the ExecError an Exec would throw. */
  end(): Promise<string>;
  /** Kills it before its stdin ends: a command that acts only at the end of its input (`nft -f -`) then does nothing. */
  abort(): void;
}

/**
 * Runs one command whose stdin is made while it runs: a restore's batch as the bans are read, so
 * that a command that acts on each line as it reads it (`ipset restore`) works beside the caller,
 * and no caller holds a whole batch in memory.
 */
export type ExecStream = (command: Omit<Command, 'stdin'>) => StreamedCommand;

/** The real streaming executor: as systemExec (argument vector, namespace, timeouts, errors), stdin written piece by piece. */
export function systemStream(netns?: string, packages: PackageHints = {}, defaultTimeoutMs = TIMEOUT_MS): ExecStream {
  return (command) => {
    const { child, done } = started(command, netns, packages, defaultTimeoutMs);
    const stdin = child.stdin;
    if (!stdin) throw new OperationError(`${describeCommand(command)}: no stdin to write to`);
    // It may fail while the caller is still writing: end() reports it.
    done.catch(() => undefined);
    // A pipe closed early (the command failed) never drains: its end is reported by `done`.
    const drained = (): Promise<void> => new Promise((resolve) => {
      const go = (): void => {
        stdin.off('drain', go);
        stdin.off('close', go);
        resolve();
      };
      stdin.on('drain', go);
      stdin.on('close', go);
    });
    return {
      write: async (text) => {
        if (!stdin.writable) return;
        if (!stdin.write(text)) await drained();
      },
      end: () => {
        stdin.end();
        return done;
      },
      abort: () => {
        child.kill('SIGKILL');
      },
    };
  };
}

/** What a followed command reports: each line of its stdout, and its end (why it ended) unless stopped. */
export interface FollowHandlers {
  readonly onLine: (line: string) => void;
  readonly onExit: (why: string) => void;
}

/** Starts a long-running command (an event stream) and returns the function that ends it. */
export type Follow = (argv: readonly string[], handlers: FollowHandlers) => () => void;

/**
 * The real follower: like systemExec, an argument vector (inside `netns` when given), never a
 * shell. The command is ended when this process dies, even by SIGKILL (util-linux's `setpriv
 * --pdeathsig`): a stream left behind would run for ever, holding its network namespace.
 */
export function systemFollow(netns?: string, packages: PackageHints = {}): Follow {
  return (command, handlers) => {
    const guarded = endedWithParent(command);
    const argv = netns === undefined ? guarded : ['ip', 'netns', 'exec', netns, ...guarded];
    const [file, ...args] = argv as [string, ...string[]];
    let stopped = false;
    let stderr = '';
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: child.stdout }).on('line', (line) => handlers.onLine(line));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
    const ended = (why: string): void => {
      if (stopped) return;
      stopped = true;
      handlers.onExit(why);
    };
    child.on('error', (error: NodeJS.ErrnoException) => ended(error.code === 'ENOENT' ? notFound(file, packages) : error.message));
    child.on('exit', (code, signal) => ended(`${describeCommand({ argv })} ended (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : ''}`));
    return () => {
      stopped = true;
      child.kill();
    };
  };
}

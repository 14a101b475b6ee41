import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { endedWithParent, OperationError } from '../core/index.js';
import type { Command } from './types.js';

/** Runs one command and returns its stdout; throws OperationError naming the command and its stderr. */
export type Exec = (command: Command) => Promise<string>;

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
 * The real executor: argument vectors through execFile, never a shell. With `netns`, every
 * command runs inside that network namespace (`ip netns exec NAME …`). `packages` names what to
 * install when a command is missing.
 */
export function systemExec(netns?: string, packages: PackageHints = {}): Exec {
  return (command) => new Promise((resolve, reject) => {
    const argv = netns === undefined ? command.argv : ['ip', 'netns', 'exec', netns, ...command.argv];
    const [file, ...args] = argv as [string, ...string[]];
    const child = execFile(file, args, { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) {
        resolve(stdout);
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT'
        ? notFound(file, packages)
        : error.killed ? `timed out after ${TIMEOUT_MS / 1000} s` : (stderr.trim() || error.message).split('\n').slice(0, 5).join('; ');
      reject(new OperationError(`${describeCommand(command)}: ${why}`, { cause: error }));
    });
    // A command that exits before reading its stdin (e.g. a missing namespace) makes the write
    // fail with EPIPE; its exit status already reports the failure above.
    child.stdin?.on('error', () => undefined);
    if (command.stdin !== undefined) child.stdin?.end(command.stdin);
  });
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

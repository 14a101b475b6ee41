#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommanderError, type Command } from 'commander';
import { EXIT_BAD_INPUT, EXIT_FAILED, F2bError } from '../core/index.js';
import { buildProgram, commandOf } from './program.js';

/** How long an exit waits for the reader of stderr to take what was written (a stopping daemon's last lines). */
const STDERR_DRAIN_MS = 10_000;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The only place that turns errors into exit codes; everything below throws or returns. */
async function main(argv: readonly string[]): Promise<number> {
  let program: Command | undefined;
  try {
    program = await buildProgram(version(), argv);
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      // Bare `f2b-store`: the help, on stderr, is the message.
      if (error.code === 'commander.help') return EXIT_BAD_INPUT;
      const command = program && commandOf(program, argv);
      console.error(`f2b-store: ${error.message.replace(/^error: /, '')} (see f2b-store ${command === undefined ? '' : `${command} `}--help)`);
      return EXIT_BAD_INPUT;
    }
    if (error instanceof F2bError) {
      console.error(`f2b-store: ${error.message}`);
      return error.exitCode;
    }
    if (isOutputError(error)) return outputFailed(error);
    console.error('f2b-store: unexpected error, please report it:', error);
    return EXIT_FAILED;
  }
}

/** A write to stdout that failed: a full disk (`> /dev/full`), an I/O error, a closed pipe. */
function isOutputError(error: unknown): error is NodeJS.ErrnoException {
  const { syscall, code } = error as NodeJS.ErrnoException;
  return syscall === 'write' && typeof code === 'string';
}

function outputFailed(error: NodeJS.ErrnoException): number {
  // `f2b-store list | head` closes the pipe early: not an error worth a message.
  if (error.code === 'EPIPE') return 0;
  const why = error.code === 'ENOSPC' ? 'no space left on the device' : error.code ?? 'write failed';
  console.error(`f2b-store: cannot write to standard output: ${why}`);
  return EXIT_FAILED;
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  process.exit(outputFailed(error));
});
// A write to stderr that failed has nowhere to be told: its reader went away (a closed pipe, a
// journald restarted without keeping the stream). Unhandled, it ended a running daemon (exit 1);
// its bans go on in the database, the ban log and the firewall.
process.stderr.on('error', () => undefined);

process.exitCode = await main(process.argv);
// Exit once stdout and stderr have taken everything (a write to stdout that failed went to the
// handler above) rather than when the event loop drains: tearing down the heap of a command that
// held 100,000 bans took 0.1 s (0.3 s at 1,000,000). A write to a pipe or socket its reader lags
// behind waits in memory, and exit would drop it: a stopping daemon's last Ban lines, most of them
// after a burst. The store closes on 'exit' (see Context.store).
const stdoutDrained = new Promise<void>((resolve) => process.stdout.write('', (error) => {
  if (!error) resolve();
}));
// A reader of stdout may be a pager, waited for as long as it takes; one of stderr that stopped reading gets a few seconds.
const stderrDrained = Promise.race([new Promise<void>((resolve) => process.stderr.write('', () => resolve())), sleep(STDERR_DRAIN_MS, undefined, { ref: false })]);
// Not awaited: a daemon whose stdout reader went away never sees it drain, and ends when its event loop does.
void Promise.all([stdoutDrained, stderrDrained]).then(() => process.exit());

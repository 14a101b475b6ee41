#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import { EXIT_BAD_INPUT, EXIT_FAILED, F2bError } from '../core/index.js';
import { buildProgram } from './program.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The only place that turns errors into exit codes; everything below throws or returns. */
async function main(argv: readonly string[]): Promise<number> {
  try {
    await (await buildProgram(version(), argv)).parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0;
      console.error(`f2b-store: ${error.message.replace(/^error: /, '')} (see f2b-store --help)`);
      return EXIT_BAD_INPUT;
    }
    if (error instanceof F2bError) {
      console.error(`f2b-store: ${error.message}`);
      return error.exitCode;
    }
    console.error('f2b-store: unexpected error, please report it:', error);
    return EXIT_FAILED;
  }
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  // `f2b-store list | head` closes the pipe early: not an error worth a message.
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv);

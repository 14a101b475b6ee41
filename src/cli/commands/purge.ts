import type { Command } from 'commander';
import { formatDuration, parseDuration } from '../../core/index.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('purge')
    .description('delete history: bans lifted or expired longer ago than the history age')
    .option('--older-than <duration>', 'history age; permanent keeps everything (default: [store] historyage in f2b-store.conf, else 1y)')
    .action(async (options: { olderThan?: string }, command: Command) => {
      const ctx = createContext(command);
      const age = options.olderThan === undefined ? ctx.config().historyAge : parseDuration(options.olderThan);
      const store = await ctx.store();
      const purged = age === null ? 0 : store.purgeHistory(ctx.now - age);
      if (ctx.json) printJson({ purged });
      else if (age === null) process.stdout.write('history age is permanent: nothing purged\n');
      else process.stdout.write(`purged ${purged} ended bans older than ${formatDuration(age)}\n`);
    });
}

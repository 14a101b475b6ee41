import type { Command } from 'commander';
import { createContext, jailOption } from '../context.js';
import { banHeaders, banRow, printBansJson, printTable } from '../output.js';

export function register(program: Command): void {
  program
    .command('list')
    .description('list active bans (with --all, lifted and expired ones too)')
    .option('-j, --jail <jail>', 'only this jail')
    .option('-a, --all', 'include history: lifted and expired bans, oldest first')
    .action(async (options: { jail?: string; all?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const jail = options.jail === undefined ? undefined : jailOption(options.jail, '');
      const store = await ctx.store();
      const bans = options.all ? store.all(jail) : store.active(ctx.now, jail);
      if (ctx.json) {
        printBansJson(bans, ctx.now);
        return;
      }
      const history = options.all === true;
      const count = printTable(banHeaders(history), (function* () {
        for (const ban of bans) yield banRow(ban, ctx.now);
      })());
      if (count === 0) process.stdout.write(history ? 'no bans recorded\n' : 'no active bans\n');
    });
}

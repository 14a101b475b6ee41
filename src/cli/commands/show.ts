import type { Command } from 'commander';
import { parseAddress } from '../../core/index.js';
import { createContext } from '../context.js';
import { banHeaders, banRow, blockedBy, printBansJson, printTable } from '../output.js';

export function register(program: Command): void {
  program
    .command('show')
    .description('every ban of an address, active or lifted, oldest first')
    .argument('<address>', 'address or CIDR network')
    .action(async (text: string, _options: unknown, command: Command) => {
      const ctx = createContext(command);
      const address = parseAddress(text);
      const store = await ctx.store();
      const bans = store.history(address.text);
      if (ctx.json) {
        printBansJson(bans, ctx.now);
        return;
      }
      if (printTable(banHeaders(true), bans.map((ban) => banRow(ban, ctx.now))) === 0) {
        process.stdout.write(`${address.text} has never been banned\n`);
      }
      for (const ban of store.coveringNetworks(address.text, ctx.now)) {
        process.stdout.write(`${blockedBy(ban, ctx.now)}\n`);
      }
    });
}

import type { Command } from 'commander';
import { banToJson, isoTime, oneLine, parseAddress, whyToJson, type BanWhy } from '../../core/index.js';
import { createContext } from '../context.js';
import { banHeaders, banRow, blockedBy, printJson, printNotedTable } from '../output.js';

/** The lines under a ban that say why it was made; log text is shown on one line each, control characters escaped. */
function whyLines(why: BanWhy): string[] {
  const lines: string[] = [];
  if (why.failureTimes.length > 0) lines.push(`failures at ${why.failureTimes.map(isoTime).join(', ')}`);
  const captures = Object.entries(why.captures);
  if (captures.length > 0) lines.push(`captured ${captures.map(([name, value]) => `${name}=${oneLine(value)}`).join(' ')}`);
  for (const match of why.matches) lines.push(`| ${oneLine(match)}`);
  return lines;
}

export function register(program: Command): void {
  program
    .command('show')
    .description('every ban of an address, active or lifted, oldest first, with the failures that caused it')
    .argument('<address>', 'address or CIDR network')
    .action(async (text: string, _options: unknown, command: Command) => {
      const ctx = createContext(command);
      const address = parseAddress(text);
      const store = await ctx.store();
      const bans = store.historyWithWhy(address.text);
      if (ctx.json) {
        printJson(bans.map((ban) => ({ ...banToJson(ban, ctx.now), why: whyToJson(ban) })));
        return;
      }
      if (bans.length === 0) process.stdout.write(`${address.text} has never been banned\n`);
      else printNotedTable(banHeaders(true), bans.map((ban) => ({ cells: banRow(ban, ctx.now), notes: whyLines(ban) })));
      for (const ban of store.coveringNetworks(address.text, ctx.now)) {
        process.stdout.write(`${blockedBy(ban, ctx.now)}\n`);
      }
    });
}

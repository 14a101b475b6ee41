import type { Command } from 'commander';
import { parseAddress } from '../../core/index.js';
import { parseEach } from '../address-args.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('banned')
    .description('which jails ban these addresses now (like fail2ban-client banned); without addresses, every jail\'s banned addresses')
    .argument('[address...]', 'addresses to look up')
    .addHelpText('after', `
An address is banned by a jail that bans it or a network containing it; the network is named.
Exit 0 whether or not an address is banned: read the output (or --json) to tell.

Examples:
  f2b-store banned 203.0.113.7 2001:db8::66
  f2b-store --json banned`)
    .action(async (texts: string[], _options: unknown, command: Command) => {
      const ctx = createContext(command);
      const addresses = await parseEach(texts.map((text, index) => ({ text, from: `argument ${index + 1}` })), parseAddress);
      const store = await ctx.store();
      if (addresses.length === 0) {
        const byJail = new Map<string, string[]>();
        for (const ban of store.active(ctx.now)) {
          const addresses = byJail.get(ban.jail);
          if (addresses) addresses.push(ban.address);
          else byJail.set(ban.jail, [ban.address]);
        }
        if (ctx.json) {
          printJson(Object.fromEntries(byJail));
          return;
        }
        process.stdout.write([...byJail].map(([jail, banned]) => `${jail}: ${banned.join(' ')}\n`).join('') || 'no active bans\n');
        return;
      }
      const found = addresses.map((address) => ({
        address: address.text,
        bans: store.activeTouching(address.text, ctx.now).map((ban) => ({ jail: ban.jail, address: ban.address })),
      }));
      if (ctx.json) {
        printJson(found);
        return;
      }
      const named = (address: string, bans: { jail: string; address: string }[]): string =>
        bans.map((ban) => (ban.address === address ? ban.jail : `${ban.jail} (${ban.address})`)).join(', ') || 'not banned';
      process.stdout.write(found.map(({ address, bans }) => `${address}: ${named(address, bans)}\n`).join(''));
    });
}

import type { Command } from 'commander';
import { InputError, messageOf, OperationError } from '../../core/index.js';
import { hostsDenyBlock, joinHostsDeny, readHostsDeny, representHostsDeny, writeFileAtomic } from '../../backends/index.js';
import { entryOf } from '../../reconcile/index.js';
import { createContext } from '../context.js';

export function register(program: Command): void {
  const command = program
    .command('export')
    .description('write the active bans out in another format');
  command
    .command('hosts-deny')
    .description('the active bans as tcp_wrappers lines (ALL: ADDR, IPv6 in [ ])')
    .option('-f, --file <path>', 'write them into the marked block of this file, keeping the rest of it byte for byte')
    .option('--daemons <list>', 'daemon list of each line (default: [hosts-deny] daemons, ALL)')
    .addHelpText('after', `
Without --file the lines go to stdout. With --file (e.g. /etc/hosts.deny) they replace the block
between "# BEGIN f2b-store" and "# END f2b-store" (appended when missing), written atomically.`)
    .action(async (options: { file?: string; daemons?: string }, sub: Command) => {
      const ctx = createContext(sub);
      const daemons = options.daemons ?? ctx.config().hostsDenyDaemons;
      if (!/^[^:\n#]+$/.test(daemons)) throw new InputError(`bad daemon list "${daemons}": e.g. ALL, or sshd, vsftpd`);
      const store = await ctx.store();
      const block = hostsDenyBlock(representHostsDeny([...store.activeAnyOrder(ctx.now)].map(entryOf)), daemons);
      if (options.file === undefined) {
        process.stdout.write(block.map((line) => `${line}\n`).join(''));
        return;
      }
      try {
        const current = await readHostsDeny(options.file);
        await writeFileAtomic(options.file, joinHostsDeny({ ...current, block }));
      } catch (error) {
        throw new OperationError(`cannot write ${options.file}: ${messageOf(error)}`, { cause: error });
      }
      process.stdout.write(`wrote ${block.length} addresses to ${options.file}\n`);
    });
}

import type { Command } from 'commander';
import { banToJson, OperationError, parseAddress } from '../../core/index.js';
import { askDaemon, controlSocketFor } from '../../daemon/control-socket.js';
import { changeAddress } from '../../reconcile/index.js';
import { createContext, jailOption } from '../context.js';
import { backendTrouble, blockedBy, printJson, tellKept } from '../output.js';

export function register(program: Command): void {
  program
    .command('unban')
    .description('lift the bans of an address (in every jail unless --jail) and remove it from every backend')
    .argument('<address>', 'address or CIDR network, as banned')
    .option('-j, --jail <jail>', 'lift only the ban held by this jail')
    .addHelpText('after', `
Lifted bans stay in the history (see show). An address stays blocked while another jail, or a
banned network containing it, still holds it: unban tells you which.`)
    .action(async (text: string, options: { jail?: string }, command: Command) => {
      const ctx = createContext(command);
      const address = parseAddress(text);
      const jail = options.jail === undefined ? undefined : jailOption(options.jail, '');
      const store = await ctx.store();
      const { backends, options: enforce } = await ctx.enforcement();
      const { result: lifted, reports } = await changeAddress(store, backends, address, ctx.now, () => store.lift(address.text, jail, 'unban', ctx.now), enforce);
      // Unbanned by hand: its failures start afresh, in the database and in a running daemon.
      store.forgetFailures(address.text);
      await askDaemon(controlSocketFor(ctx.dbPath()), { command: 'forget', address: address.text });
      tellKept(reports);
      const trouble = backendTrouble(reports);
      const failed = trouble ? new OperationError(`the unban is recorded, but removing it from the firewall failed: ${trouble}; the next reconcile retries`) : undefined;
      if (ctx.json) {
        printJson({ lifted: lifted.map((ban) => banToJson(ban, ctx.now)), backends: reports });
        if (failed) throw failed;
        return;
      }
      const lines: string[] = [];
      if (lifted.length === 0) {
        lines.push(`${address.text} was not banned${jail === undefined ? '' : ` in jail ${jail}`}`);
      } else {
        lines.push(`unbanned ${address.text} in jail${lifted.length > 1 ? 's' : ''} ${lifted.map((b) => b.jail).join(', ')}`);
      }
      for (const ban of store.activeTouching(address.text, ctx.now)) lines.push(`still ${blockedBy(ban, ctx.now)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      if (failed) throw failed;
    });
}

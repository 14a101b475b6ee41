import type { Command } from 'commander';
import { banToJson, InputError, OperationError, parseAddress, type Ban } from '../../core/index.js';
import { askDaemon, controlSocketFor, FORGET_BATCH } from '../../daemon/control-socket.js';
import { changeAddresses, knownBans, reconcile } from '../reconcile-pass.js';
import type { BackendReport } from '../../reconcile/index.js';
import type { LiftScope } from '../../store/index.js';
import { addressArguments, parseEach } from '../address-args.js';
import { createContext, jailOption, type Context } from '../context.js';
import { backendTrouble, blockedBy, printJson, tellKept } from '../output.js';

interface UnbanOptions {
  jail?: string;
  file?: string;
  all?: boolean;
  local?: boolean;
}

/** Unbanned by hand: their failures start afresh in a running daemon too (the store forgot them with the lift). */
async function forgetInDaemon(ctx: Context, addresses: readonly string[]): Promise<void> {
  for (let i = 0; i < addresses.length; i += FORGET_BATCH) {
    await askDaemon(controlSocketFor(ctx.dbPath()), { command: 'forget', addresses: addresses.slice(i, i + FORGET_BATCH) });
  }
}

/** Every active ban, or those of one jail: unbanned in one transaction, then one reconcile of every backend. */
async function liftEvery(ctx: Context, jail: string | undefined, scope: LiftScope): Promise<{ lifted: Ban[]; reports: BackendReport[] }> {
  const store = await ctx.store();
  const { backends, options: enforce } = await ctx.enforcement();
  const lifted = store.unbanEvery(jail, 'unban', ctx.now, scope);
  if (backends.length === 0) return { lifted, reports: [] };
  return { lifted, reports: await reconcile(store.activeAnyOrder(ctx.now), backends, ctx.now, { ...enforce, known: () => knownBans(store, ctx.now) }) };
}

export function register(program: Command): void {
  program
    .command('unban')
    .description('lift the bans of an address (in every jail unless --jail) and remove it from every backend')
    .argument('[address...]', 'addresses or CIDR networks, as banned')
    .option('-j, --jail <jail>', 'lift only the bans held by this jail')
    .option('--file <path>', 'also the addresses in this file, read as import list reads a list (- for standard input)')
    .option('--all', 'lift every active ban (of --jail only, when given)')
    .option('--local', 'lift on this host only: a fleet ([fleet] in f2b-store.conf) is not told, the other hosts keep the ban')
    .addHelpText('after', `
Lifted bans stay in the history (see show). An address stays blocked while another jail, or a
banned network containing it, still holds it: unban tells you which. Several addresses are
checked first (one bad address changes nothing). The failures counted against an unbanned
address start afresh.

In a fleet, an unban is sent to every host, which lift the address too (a ban a host's own
jails made after the unban stays). With --local it is lifted here only: this host's firewalls
drop it, the other hosts keep it, and a later ban of it from the fleet is taken in again.

Examples:
  f2b-store unban 203.0.113.7
  f2b-store unban 203.0.113.7 2001:db8::66 --jail sshd
  f2b-store unban --all --jail recidive
  f2b-store unban 203.0.113.7 --local`)
    .action(async (texts: string[], options: UnbanOptions, command: Command) => {
      const ctx = createContext(command);
      const jail = options.jail === undefined ? undefined : jailOption(options.jail, '');
      if (options.all && (texts.length > 0 || options.file !== undefined)) {
        throw new InputError(`--all lifts every ban: give it no addresses (got ${texts[0] ?? `--file ${options.file}`})`);
      }
      const scope: LiftScope = options.local ? 'host' : 'fleet';
      let lifted: Ban[];
      let reports: BackendReport[];
      let addresses: string[] = [];
      if (options.all) {
        ({ lifted, reports } = await liftEvery(ctx, jail, scope));
      } else {
        const parsed = await parseEach(addressArguments(texts, options.file, 'unban'), parseAddress);
        addresses = [...new Set(parsed.map((address) => address.text))];
        const store = await ctx.store();
        const { backends, options: enforce } = await ctx.enforcement();
        ({ result: lifted, reports } = await changeAddresses(store, backends, parsed, ctx.now,
          () => store.unban(addresses, jail, 'unban', ctx.now, scope), enforce));
      }
      await forgetInDaemon(ctx, options.all ? [...new Set(lifted.map((ban) => ban.address))] : addresses);
      tellKept(reports);
      const trouble = backendTrouble(reports);
      const failed = trouble ? new OperationError(`the unban is recorded, but removing it from the firewall failed: ${trouble}; the next reconcile retries`) : undefined;
      if (ctx.json) {
        printJson({ lifted: lifted.map((ban) => banToJson(ban, ctx.now)), backends: reports });
        if (failed) throw failed;
        return;
      }
      const store = await ctx.store();
      const lines: string[] = [];
      if (options.all) {
        const jails = new Set(lifted.map((ban) => ban.jail));
        lines.push(lifted.length === 0 ? `no active bans${jail === undefined ? '' : ` in jail ${jail}`}`
          : `unbanned ${lifted.length} ban${lifted.length > 1 ? 's' : ''} in ${jails.size} jail${jails.size > 1 ? 's' : ''}`);
      }
      for (const address of addresses) {
        const own = lifted.filter((ban) => ban.address === address);
        lines.push(own.length === 0 ? `${address} was not banned${jail === undefined ? '' : ` in jail ${jail}`}`
          : `unbanned ${address} in jail${own.length > 1 ? 's' : ''} ${own.map((b) => b.jail).join(', ')}`);
        for (const ban of store.activeTouching(address, ctx.now)) lines.push(`still ${blockedBy(ban, ctx.now)}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      if (failed) throw failed;
    });
}

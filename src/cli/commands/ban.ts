import { Option, type Command } from 'commander';
import { banToJson, checkSource, formatDuration, isoTime, OperationError } from '../../core/index.js';
import { changeAddresses } from '../reconcile-pass.js';
import { tellDaemonChanged } from '../tell-daemon.js';
import { addressArguments, parseEach } from '../address-args.js';
import { banTarget, createContext, expiryOption, jailOption } from '../context.js';
import { backendTrouble, printJson, relativeTime, tellKept } from '../output.js';

/** A manual ban with neither --for nor --permanent lasts this long. */
const DEFAULT_MANUAL_BANTIME = 86400;

interface BanOptions {
  jail?: string;
  for?: string;
  permanent?: boolean;
  reason?: string;
  source: string;
  force?: boolean;
  file?: string;
}

export function register(program: Command): void {
  program
    .command('ban')
    .description('record a ban and apply it to every enabled backend')
    .argument('[address...]', 'IPv4 or IPv6 addresses, or CIDR networks such as 198.51.100.0/24')
    .option('--file <path>', 'also the addresses in this file, read as import list reads a list (- for standard input)')
    .option('-j, --jail <jail>', 'jail to hold the ban', 'manual')
    .option('--for <duration>', `how long: 600, 10m, 1h, 7d, 4w, 1y, "1d 12h", at most 100y (default ${formatDuration(DEFAULT_MANUAL_BANTIME)})`)
    .addOption(new Option('--permanent', 'never expires').conflicts('for'))
    .option('--reason <text>', 'why, kept with the ban')
    .option('--source <source>', 'who decided: filter, manual, import, fail2ban', 'manual')
    .option('--force', 'allow bans that could lock you out: loopback, this host, networks wider than /8 or /32')
    .addHelpText('after', `
Banning an address already banned in the jail extends it: the later expiry wins, permanent
always wins. A duration is at most 100 years (100y); a ban meant to never end is --permanent.
Refused without --force: loopback, this host's own addresses (with --netns, the namespace's
too), networks wider than /8 (IPv4) or /32 (IPv6), and what [lockout] in f2b-store.conf
protects. A ban made with --force is marked so, and the daemon applies it all the same.
Several addresses are checked first (one bad address changes nothing), then each is banned and
applied. For a large list, import list stores it in one transaction.

Examples:
  f2b-store ban 203.0.113.7
  f2b-store ban 198.51.100.0/24 --jail sshd --for 7d --reason "scanner"
  f2b-store ban 2001:db8::66 --permanent
  f2b-store ban 203.0.113.7 203.0.113.8 --jail sshd
  grep -h offender /var/log/*.log | cut -d' ' -f3 | f2b-store ban --file -`)
    .action(async (texts: string[], options: BanOptions, command: Command) => {
      const ctx = createContext(command);
      const given = addressArguments(texts, options.file, 'ban');
      const lockout = await ctx.lockout();
      const targets = await parseEach(given, (text) => banTarget(text, options.force === true, () => Promise.resolve(lockout)));
      const common = {
        jail: jailOption(options.jail, 'manual'),
        expiresAt: expiryOption(options, DEFAULT_MANUAL_BANTIME, ctx.now),
        source: checkSource(options.source),
        reason: options.reason ?? null,
      };
      const store = await ctx.store({ create: true });
      const { backends, options: enforce } = await ctx.enforcement();
      const { result: banned, reports } = await changeAddresses(store, backends, targets.map((t) => t.address), ctx.now,
        () => targets.map(({ address, forced }) => store.ban({ ...common, address: address.text, forced }, ctx.now)), enforce);
      if (banned.some(({ change }) => change !== 'kept')) await tellDaemonChanged(ctx.dbPath());
      if (ctx.json) {
        const results = banned.map(({ ban, change }) => ({ ban: banToJson(ban, ctx.now), change }));
        printJson(results.length === 1 ? { ...results[0], backends: reports } : { bans: results, backends: reports });
      } else {
        for (const { ban, change } of banned) {
          const until = ban.expiresAt === null ? 'permanently' : `until ${isoTime(ban.expiresAt)} (${relativeTime(ban.expiresAt, ctx.now)})`;
          const verb = { new: 'banned', extended: 'extended ban of', kept: 'already banned:' }[change];
          process.stdout.write(`${verb} ${ban.address} in jail ${ban.jail} ${until}\n`);
        }
      }
      tellKept(reports);
      const trouble = backendTrouble(reports);
      if (trouble) throw new OperationError(`${banned.length > 1 ? 'the bans are recorded, but applying them' : 'the ban is recorded, but applying it'} failed: ${trouble}; the next reconcile retries`);
    });
}

import { Option, type Command } from 'commander';
import { readAddressList, type BanRequest } from '../../core/index.js';
import { createContext, expiryOption, jailOption } from '../context.js';
import { listLines } from '../list-input.js';
import { printJson } from '../output.js';
import { tellDaemonChanged } from '../tell-daemon.js';
import { registerFail2banDb } from './import-fail2ban-db.js';

/** Bad lines reported one by one before the rest are only counted. */
const REPORT_LIMIT = 50;

interface ImportListOptions {
  jail?: string;
  for?: string;
  permanent?: boolean;
  force?: boolean;
}

/** Lines not taken: the first REPORT_LIMIT kept to be shown, all counted. */
class Skipped {
  readonly shown: string[] = [];
  count = 0;

  add(message: string): void {
    if (this.shown.length < REPORT_LIMIT) this.shown.push(message);
    this.count++;
  }
}

export function register(program: Command): void {
  const command = program
    .command('import')
    .description('bring bans in from elsewhere');
  command
    .command('list')
    .description('import a list of addresses: plain, ip.deny, hosts.deny or Apache deny lines, in one transaction')
    .argument('<path>', 'the list file, or - for standard input')
    .option('-j, --jail <jail>', 'jail to hold the bans', 'import')
    .option('--for <duration>', 'how long each ban lasts, at most 100y (default: permanent)')
    .addOption(new Option('--permanent', 'never expire (the default)').conflicts('for'))
    .option('--force', 'also import addresses that could lock you out (loopback, this host, wide networks): marked forced, applied like ban --force')
    .addHelpText('after', `
Lines: an address or network (203.0.113.7, 198.51.100.0/24, 198.51.100.0/255.255.255.0,
2001:db8::/32, [2001:db8::1]); hosts.deny lines (ALL: ADDR, sshd: ADDR, ADDR2, ALL: 203.0.113.
for a /24), Apache lines (deny from ADDR…, Require not ip ADDR…). '#' starts a comment, and ';'
after a blank; blank lines are ignored. Bad lines (and hosts.deny lines with EXCEPT or an allow
option) are reported with their line number and skipped; the rest are stored all at once, with
a progress bar on a terminal for large files. An address already banned at least as long is
skipped, so importing the same list twice adds nothing.`)
    .action(async (path: string, options: ImportListOptions, sub: Command) => {
      const ctx = createContext(sub);
      const jail = jailOption(options.jail, 'import');
      const expiresAt = expiryOption(options, null, ctx.now);
      const lines = listLines(path, 'importing');
      const lockout = await ctx.lockout();
      const bad = new Skipped();
      const refusals = new Skipped();
      // Taken line by line as banMany writes: no list of a million requests is held.
      function* requests(): Generator<BanRequest> {
        for (const item of readAddressList(lines)) {
          if (!('address' in item)) {
            bad.add(`${path}:${item.lineno}: ${item.problem}: "${item.text}"`);
            continue;
          }
          const refused = lockout(item.address);
          if (refused && !options.force) refusals.add(`${path}:${item.lineno}: refused: ${refused} (use --force to import it)`);
          else yield { address: item.address.text, jail, expiresAt, source: 'import', forced: refused !== undefined };
        }
      }
      const store = await ctx.store({ create: true });
      const report = store.banMany(requests(), ctx.now);
      const imported = report.new + report.extended;
      if (imported > 0) await tellDaemonChanged(ctx.dbPath());
      const notTaken = bad.count + refusals.count;
      const skipped = notTaken + report.kept;
      // Bad lines first, then refused ones, as each kind was found.
      for (const message of [...bad.shown, ...refusals.shown].slice(0, REPORT_LIMIT)) console.error(message);
      if (notTaken > REPORT_LIMIT) console.error(`${path}: ${notTaken - REPORT_LIMIT} more bad lines not shown`);
      if (ctx.json) {
        printJson({ imported, skipped });
        return;
      }
      process.stdout.write(
        `imported ${imported} into jail ${jail} (${report.new} new, ${report.extended} extended); ` +
        `skipped ${skipped} (${notTaken} bad or refused, ${report.kept} already banned)\n`,
      );
    });
  registerFail2banDb(command);
}

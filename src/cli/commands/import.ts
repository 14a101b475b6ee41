import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { InputError, messageOf, parseAddressList, type BanRequest } from '../../core/index.js';
import { createContext, expiryOption, jailOption } from '../context.js';
import { printJson } from '../output.js';
import { withProgress } from '../progress.js';
import { registerFail2banDb } from './import-fail2ban-db.js';

/** Bad lines reported one by one before the rest are only counted. */
const REPORT_LIMIT = 50;

interface ImportListOptions {
  jail?: string;
  for?: string;
  permanent?: boolean;
  force?: boolean;
}

function readInput(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ban list ${path}: ${messageOf(error)}`, { cause: error });
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
      const { entries, problems } = parseAddressList(readInput(path));
      const messages = problems.map((p) => `${path}:${p.lineno}: ${p.reason}: "${p.text}"`);
      const lockout = await ctx.lockout();
      const requests: BanRequest[] = [];
      for (const entry of entries) {
        const refused = lockout(entry.address);
        if (refused && !options.force) messages.push(`${path}:${entry.lineno}: refused: ${refused} (use --force to import it)`);
        else requests.push({ address: entry.address.text, jail, expiresAt, source: 'import', forced: refused !== undefined });
      }
      const store = await ctx.store({ create: true });
      const report = store.banMany(withProgress(requests, 'importing'), ctx.now);
      const imported = report.new + report.extended;
      const skipped = messages.length + report.kept;
      for (const message of messages.slice(0, REPORT_LIMIT)) console.error(message);
      if (messages.length > REPORT_LIMIT) console.error(`${path}: ${messages.length - REPORT_LIMIT} more bad lines not shown`);
      if (ctx.json) {
        printJson({ imported, skipped });
        return;
      }
      process.stdout.write(
        `imported ${imported} into jail ${jail} (${report.new} new, ${report.extended} extended); ` +
        `skipped ${skipped} (${messages.length} bad or refused, ${report.kept} already banned)\n`,
      );
    });
  registerFail2banDb(command);
}

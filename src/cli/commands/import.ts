import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { hostAddresses, InputError, lockoutReason, messageOf, parseAddressList, type BanRequest } from '../../core/index.js';
import { createContext, expiryOption, jailOption } from '../context.js';
import { printJson } from '../output.js';

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
    .description('import a plain list: one address or CIDR per line (an ip.deny file), in one transaction')
    .argument('<path>', 'the list file, or - for standard input')
    .option('-j, --jail <jail>', 'jail to hold the bans', 'import')
    .option('--for <duration>', 'how long each ban lasts (default: permanent)')
    .addOption(new Option('--permanent', 'never expire (the default)').conflicts('for'))
    .option('--force', 'also import addresses that could lock you out (loopback, this host, wide networks)')
    .addHelpText('after', `
Lines: an address or network per line; '#' starts a comment; blank lines are ignored. Bad lines
are reported with their line number and skipped; the rest are stored all at once. An address
already banned at least as long is skipped, so importing the same list twice adds nothing.`)
    .action(async (path: string, options: ImportListOptions, sub: Command) => {
      const ctx = createContext(sub);
      const jail = jailOption(options.jail, 'import');
      const expiresAt = expiryOption(options, null, ctx.now);
      const { entries, problems } = parseAddressList(readInput(path));
      const messages = problems.map((p) => `${path}:${p.lineno}: not an IP address or CIDR: "${p.text}"`);
      const local = options.force ? [] : hostAddresses();
      const requests: BanRequest[] = [];
      for (const entry of entries) {
        const refused = options.force ? undefined : lockoutReason(entry.address, local);
        if (refused) messages.push(`${path}:${entry.lineno}: refused: ${refused} (use --force to import it)`);
        else requests.push({ address: entry.address.text, jail, expiresAt, source: 'import' });
      }
      const store = await ctx.store();
      const report = store.banMany(requests, ctx.now);
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
}

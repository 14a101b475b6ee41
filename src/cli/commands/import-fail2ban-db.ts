import type { Command } from 'commander';
import { parseAddress } from '../../core/index.js';
import { readFail2banDb, type BanRecord } from '../../store/index.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';
import { tellDaemonChanged } from '../tell-daemon.js';

/** Bad rows reported one by one before the rest are only counted. */
const REPORT_LIMIT = 50;

/** `import fail2ban-db PATH`: registered under `import` (see import.ts). */
export function registerFail2banDb(importCommand: Command): void {
  importCommand
    .command('fail2ban-db')
    .description("import fail2ban's bans from its SQLite database, with their original time, length and count")
    .argument('<path>', "fail2ban's database, usually /var/lib/fail2ban/fail2ban.sqlite3 (opened read-only)")
    .option('--force', 'also import addresses that could lock you out (loopback, this host, wide networks): marked forced, applied like ban --force')
    .addHelpText('after', `
Active bans (fail2ban's bips table) keep their jail, time of ban, length (bantime -1 stays
permanent), ban count, failures and matched lines; expired ones become history where f2b-store
has none for that address and jail. Rows that are not bans of an IP address or network are
reported and skipped. A ban already here is left as it is, so importing twice adds nothing.
fail2ban may keep running meanwhile.`)
    .action(async (path: string, options: { force?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const { records, problems } = readFail2banDb(path);
      const messages = problems.map((p) => `${path}: ${p.table} row ${p.rowid}: ${p.message}`);
      const lockout = await ctx.lockout();
      const accepted: BanRecord[] = [];
      for (const record of records) {
        // Only an active ban can lock anyone out; history is kept whatever it names.
        const active = record.expiresAt === null || record.expiresAt > ctx.now;
        const refused = active ? lockout(parseAddress(record.address)) : undefined;
        if (refused && !options.force) messages.push(`${path}: ${record.address} in jail ${record.jail}: refused: ${refused} (use --force to import it)`);
        else accepted.push({ ...record, forced: refused !== undefined });
      }
      const store = await ctx.store({ create: true });
      const report = store.importBans(accepted, ctx.now);
      const imported = report.new + report.extended;
      if (imported > 0) await tellDaemonChanged(ctx.dbPath());
      const skipped = messages.length + report.kept;
      for (const message of messages.slice(0, REPORT_LIMIT)) console.error(message);
      if (messages.length > REPORT_LIMIT) console.error(`${path}: ${messages.length - REPORT_LIMIT} more bad or refused rows not shown`);
      if (ctx.json) {
        printJson({ imported, skipped });
        return;
      }
      process.stdout.write(
        `imported ${imported} active bans from fail2ban (${report.new} new, ${report.extended} extended), ` +
        `${report.history} expired as history; skipped ${skipped} (${messages.length} bad or refused, ${report.kept} already here)\n`,
      );
    });
}

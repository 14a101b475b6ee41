import type { Command } from 'commander';
import { InputError, isoTime } from '../../core/index.js';
import type { BanStats, BanStore } from '../../store/index.js';
import { createContext, jailOption, type Context } from '../context.js';
import { printJson } from '../output.js';
import { sinceOption } from '../since-option.js';
import { statsPicture } from '../stats-picture.js';

/** A jail to count: one the store has bans of, or one the configuration names (which may have none yet). */
async function knownJail(jail: string, store: BanStore, ctx: Context): Promise<string> {
  const stored = store.jailsWithBans();
  if (stored.includes(jail)) return jail;
  const configured = (await ctx.jails()).map((j) => j.name);
  if (configured.includes(jail)) return jail;
  const names = [...new Set([...stored, ...configured])].sort();
  throw new InputError(`no jail "${jail}" in the database or the configuration (jails: ${names.join(', ') || 'none'})`);
}

function toJson(stats: BanStats): unknown {
  return {
    since: isoTime(stats.since),
    until: isoTime(stats.until),
    bans: stats.bans,
    hours: stats.hours.map(isoTime),
    days: stats.days.map(isoTime),
    jails: stats.jails,
    sources: Object.fromEntries(stats.sources),
    networks: stats.networks,
    offenders: stats.offenders.map((o) => ({ ...o, lastBannedAt: isoTime(o.lastBannedAt) })),
  };
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('bans per hour and per day for each jail, by source, top networks and repeat offenders, as pictures')
    .option('--since <when>', 'count bans made since then: a duration ago (12h, 7d) or an ISO date (2026-05-01); default: the last 30 days')
    .option('-j, --jail <jail>', 'only this jail')
    .addHelpText('after', `
A ban is one ban of an address in a jail, active or lifted since (history counts until purged).
Hours and days are UTC; per hour covers the last 24 hours, per day the last 30 days (from --since,
if later). Networks are the /24 (IPv4) or /48 (IPv6) holding the banned addresses, or a banned
network wider than that; repeat offenders are addresses banned more than once in the period.
Colours only on a terminal, and not with NO_COLOR set.

Examples:
  f2b-store stats
  f2b-store stats --since 7d --jail sshd
  f2b-store --json stats --since 2026-11-01`)
    .action(async (options: { since?: string; jail?: string }, command: Command) => {
      const ctx = createContext(command);
      const since = options.since === undefined ? undefined : sinceOption(options.since, ctx.now);
      if (since !== undefined && since > ctx.now) throw new InputError(`bad --since "${options.since}": it is in the future (${isoTime(since)})`);
      const asked = options.jail === undefined ? undefined : jailOption(options.jail, '');
      const store = await ctx.store();
      const jail = asked === undefined ? undefined : await knownJail(asked, store, ctx);
      const stats = store.stats({ now: ctx.now, ...(since === undefined ? {} : { since }), ...(jail === undefined ? {} : { jail }) });
      if (ctx.json) {
        printJson(toJson(stats));
        return;
      }
      if (stats.bans === 0) {
        process.stdout.write(`no bans${jail === undefined ? '' : ` in jail ${jail}`} since ${isoTime(stats.since)}\n`);
        return;
      }
      process.stdout.write(statsPicture(stats, ctx.now));
    });
}

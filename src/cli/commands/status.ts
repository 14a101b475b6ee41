import type { Command } from 'commander';
import { describeJournalMatch, InputError, isoTime, journalSourceName } from '../../core/index.js';
import { bansJailSelection, isLogJail, type BansJail } from '../../config/index.js';
import { askDaemon, controlSocketFor } from '../../daemon/control-socket.js';
import type { DaemonStatus, JailStatus } from '../../daemon/index.js';
import { createContext } from '../context.js';
import { printJson, printTable, relativeTime } from '../output.js';

interface JailLine {
  name: string;
  enabled: boolean;
  currentlyFailed: number;
  /** Since the daemon started; null when no daemon runs. */
  totalFailed: number | null;
  currentlyBanned: number;
  totalBanned: number;
  files: string[];
  /** Log lines over the length limit dropped unmatched since the daemon started; null when no daemon runs. */
  droppedLines: number | null;
  /** With a `logformat`: lines of its files that were no record of it, skipped since the daemon started; null without one or without a daemon. */
  notRecords: number | null;
  /** A journal jail's source and match, and with a daemon how its reader does; null for a file jail. */
  journal: JailStatus['journal'] | { source: string; match: string } | null;
  /** With `status JAIL` only: the addresses it bans now, as fail2ban-client status JAIL lists them. */
  banned?: string[];
}

/** fail2ban-client's layout for one jail, which scripts and fingers know. */
function jailBlock(j: JailLine): string {
  const files = j.journal ? `journal ${j.journal.source}: ${j.journal.match}` : j.files.join(' ');
  return [
    `Status for the jail: ${j.name}`,
    '|- Filter',
    `|  |- Currently failed:\t${j.currentlyFailed}`,
    `|  |- Total failed:\t${j.totalFailed ?? '-'}`,
    `|  \`- ${j.journal ? 'Journal matches' : 'File list'}:\t${files}`,
    '`- Actions',
    `   |- Currently banned:\t${j.currentlyBanned}`,
    `   |- Total banned:\t${j.totalBanned}`,
    `   \`- Banned IP list:\t${(j.banned ?? []).join(' ')}`,
  ].join('\n');
}

interface BackendLine {
  name: string;
  inSync: boolean;
  /** Active bans the backend lacks, and entries it holds that no active ban wants. */
  missing: number;
  extra: number;
  /** Of the extra entries, those a reconcile keeps: the database has held fewer bans than that (reconcile --yes removes them). */
  kept: number;
  error: string | null;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('jails and their counters (like fail2ban-client status), and whether every backend is in sync')
    .argument('[jail]', 'only this jail')
    .addHelpText('after', `
With a daemon running, the failure counters and watched files come from it (its control socket
beside the database); without one, from the database and the configuration. Whether each
backend is in sync is checked now, by reading it back and comparing it with the active bans.
Every page of the database is read too: a damaged one makes status fail (exit code 1).`)
    .action(async (only: string | undefined, _options: unknown, command: Command) => {
      const ctx = createContext(command);
      const store = await ctx.store();
      // status vouches for the database too: a damaged page is found even where no count below reads.
      store.checkPages();
      const live = await askDaemon(controlSocketFor(ctx.dbPath()), { command: 'status' }) as DaemonStatus | undefined;
      const configured = await ctx.jails();
      const counts = store.jailCounts(ctx.now);
      const counters = store.failureCounterCounts();
      const bansJails = configured.filter((j): j is BansJail => j.enabled && !isLogJail(j));
      const names = new Set([...configured.map((j) => j.name), ...counts.keys()]);
      if (only !== undefined && !names.has(only)) throw new InputError(`no jail "${only}" (jails: ${[...names].sort().join(', ') || 'none'})`);
      const jails: JailLine[] = [...names].filter((name) => only === undefined || name === only).sort().map((name) => {
        const running = live?.jails.find((j) => j.name === name);
        const definition = configured.find((j) => j.name === name);
        return {
          name,
          enabled: definition?.enabled ?? false,
          currentlyFailed: running?.currentlyFailed ?? (definition?.enabled && !isLogJail(definition)
            ? store.offenders(name, bansJailSelection(definition, bansJails), ctx.now - definition.findtime, ctx.now)
            : counters.get(name) ?? 0),
          totalFailed: running?.totalFailed ?? null,
          currentlyBanned: counts.get(name)?.active ?? 0,
          totalBanned: counts.get(name)?.total ?? 0,
          files: running ? [...running.files] : (definition?.enabled ? definition.logpaths.map((p) => p.pattern) : []),
          droppedLines: running?.droppedLines ?? null,
          notRecords: running?.notRecords ?? null,
          journal: running?.journal
            ?? (definition?.enabled && definition.journal ? { source: journalSourceName(definition.journal), match: describeJournalMatch(definition.journalMatch) } : null),
          ...(only === undefined ? {} : { banned: [...store.active(ctx.now, name)].map((ban) => ban.address) }),
        };
      });
      // This host's side of the fleet, from the database alone (fleet status asks PostgreSQL); pg is loaded only with [fleet].
      const fleetConfig = ctx.config().fleet;
      const fleet = fleetConfig && await import('../../fleet/index.js').then(({ fleetName, pushBacklog }) => ({
        node: fleetConfig.node, pushBacklog: pushBacklog(store, fleetConfig.share, ctx.now), pulledUpTo: store.fleetCursor(fleetName(fleetConfig)) ?? null,
      }));
      const { backends: enabled, options: enforce } = await ctx.enforcement();
      let refused = 0;
      // No backend, no lockout floor: nothing to compare, and no ban to read.
      const reports = enabled.length === 0 ? [] : await import('../reconcile-pass.js').then(({ knownBans, reconcile }) => reconcile(
        store.activeAnyOrder(ctx.now), enabled, ctx.now, { ...enforce, dryRun: true, known: () => knownBans(store, ctx.now), refused: () => refused++ }));
      const backends: BackendLine[] = reports.map((r) => ({
        name: r.name, inSync: r.error === null && r.added === 0 && r.removed === 0 && r.kept === 0,
        missing: r.added, extra: r.removed + r.kept, kept: r.kept, error: r.error,
      }));
      if (ctx.json) {
        const iso = (at: number | null): string | null => (at === null ? null : isoTime(at));
        const daemon = live ? {
          running: true, pid: live.pid,
          lastReconcile: live.reconcile && { ...live.reconcile, at: isoTime(live.reconcile.at) },
          store: { ...live.store, failingSince: iso(live.store.failingSince) },
        } : { running: false };
        printJson({ daemon, jails, backends, refused, ...(fleet ? { fleet } : {}) });
        return;
      }
      if (only !== undefined) {
        process.stdout.write(jails.map((j) => `${jailBlock(j)}\n`).join(''));
      } else {
        printTable(['JAIL', 'ENABLED', 'FAILED', 'TOTAL FAILED', 'BANNED', 'TOTAL BANNED', 'FILES'], jails.map((j) => [
          j.name, j.enabled ? 'yes' : 'no', String(j.currentlyFailed), j.totalFailed === null ? '-' : String(j.totalFailed),
          String(j.currentlyBanned), String(j.totalBanned), j.journal ? `journal ${j.journal.source}: ${j.journal.match}` : j.files.join(', ') || '-',
        ]));
      }
      const lines = [''];
      lines.push(live
        ? `daemon: running (pid ${live.pid})${live.reconcile ? `, last full reconcile ${relativeTime(live.reconcile.at, ctx.now)} (${live.reconcile.reason})` : ''}`
        : 'daemon: not running (failure counts from the database; TOTAL FAILED needs the daemon)');
      if (live && !live.store.writable) {
        lines.push(`database: cannot be written since ${relativeTime(live.store.failingSince ?? ctx.now, ctx.now)} (${live.store.error}): `
          + `${live.store.heldBans} bans held in memory (in the firewall, not yet in the database), retrying`);
      }
      for (const j of jails) {
        if (j.journal && 'reading' in j.journal) {
          const { error, lagSeconds } = j.journal;
          if (error !== null) lines.push(`${j.name}: reading the journal fails: ${error} (retrying)`);
          else if (lagSeconds > 5) lines.push(`${j.name}: ${Math.round(lagSeconds)} s behind the journal`);
        }
        if (j.droppedLines) lines.push(`${j.name}: ${j.droppedLines} log lines over the length limit dropped unmatched`);
        if (j.notRecords) lines.push(`${j.name}: ${j.notRecords} log lines that are no record of its logformat skipped unmatched (check logformat)`);
      }
      for (const b of backends) {
        const kept = b.kept > 0 ? `; ${b.kept} of the extra kept, as the database has held fewer bans (f2b-store reconcile --yes removes them)` : '';
        lines.push(`${b.name}: ${b.error !== null ? `cannot be read: ${b.error}` : b.inSync ? 'in sync' : `out of sync: ${b.missing} missing, ${b.extra} extra (f2b-store reconcile repairs it)${kept}`}`);
      }
      if (refused > 0) {
        lines.push(`lockout floor: ${refused} active ban${refused === 1 ? '' : 's'} in no firewall (loopback, this host, or too wide: f2b-store reconcile names them)`);
      }
      if (backends.length === 0) lines.push('backends: none enabled');
      if (fleet) {
        lines.push(`fleet: node ${fleet.node}, ${fleet.pushBacklog} change${fleet.pushBacklog === 1 ? '' : 's'} waiting to be pushed, `
          + `${fleet.pulledUpTo === null ? 'never pulled' : `pulled up to event #${fleet.pulledUpTo}`} (f2b-store fleet status asks PostgreSQL)`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

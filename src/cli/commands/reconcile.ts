import type { Command } from 'commander';
import { OperationError } from '../../core/index.js';
import { describeCommand } from '../../backends/exec.js';
import { GUARD_MIN, knownBans, reconcile } from '../reconcile-pass.js';
import type { BackendReport, RefusedBan } from '../../reconcile/index.js';
import { createContext } from '../context.js';
import { backendTrouble, printJson, printTable, tellRefused } from '../output.js';

function status(report: BackendReport): string {
  if (report.error !== null) return 'error';
  const problems = [
    ...(report.skipped?.length ? [`${report.skipped.length} jail${report.skipped.length > 1 ? 's' : ''} skipped`] : []),
    ...(report.failed.length ? [`${report.failed.length} failed`] : []),
    ...(report.kept > 0 ? [`${report.kept} kept: needs --yes`] : []),
  ];
  return problems.join(', ') || 'ok';
}

export function register(program: Command): void {
  program
    .command('reconcile')
    .description('bring every enabled backend to exactly the active bans, or with --dry-run only report the difference')
    .option('-n, --dry-run', 'change nothing; print what would be added and removed, and the commands')
    .option('-y, --yes', 'remove even when the database holds fewer bans than a backend would lose (see below)')
    .addHelpText('after', `
Each backend's own objects are created if missing, its real state is read back and compared
with the database, and only the difference is applied, in one batch. Running it twice changes
nothing the second time. Nothing outside f2b-store's own tables, chains and sets is touched.

A reconcile that would remove more than half of what a backend holds (at least ${GUARD_MIN} entries)
while the database has held fewer bans, active and ended, than that is refused (exit code 1)
unless --yes: the database is new, empty or not the one meant (a typo in --db). The daemon keeps
such entries in place by the same rule, and says so in its log.

Active bans that the lockout floor refuses (loopback, this host's addresses, networks wider than
[lockout] allows: rows that an import, a hand-written row or a change of this host's addresses
brought in) reach no backend and leave any that holds them; each is named on stderr, and in
"refused" with --json. Bans made with ban --force are applied.`)
    .action(async (options: { dryRun?: boolean; yes?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const store = await ctx.store();
      const { backends, options: enforce } = await ctx.enforcement();
      const guard = options.yes ? {} : { known: () => knownBans(store, ctx.now) };
      const refused: RefusedBan[] = [];
      // Nothing changes unless every backend may go all the way.
      const allOrNothing = !options.dryRun && !options.yes;
      const reports = await reconcile(store.activeEnforced(ctx.now), backends, ctx.now, {
        ...enforce, ...guard, dryRun: options.dryRun === true, allOrNothing, refused: (refusal) => refused.push(refusal),
        reread: () => store.activeEnforced(ctx.now),
      });
      const held = allOrNothing ? reports.find((r) => r.error === null && r.kept > 0) : undefined;
      if (held) {
        throw new OperationError(`refusing to remove ${held.kept} of the ${held.kept + held.unchanged} entries ${held.name} holds: the database `
          + `${ctx.dbPath()} knows only ${knownBans(store, ctx.now)} bans (is --db right?); nothing was changed: pass --yes to reconcile anyway`);
      }
      if (ctx.json) {
        printJson({ backends: reports, refused: refused.map(({ ban, why }) => ({ address: ban.address, jail: ban.jail, why })) });
      } else if (reports.length === 0) {
        process.stdout.write('no backends enabled: nothing to reconcile (see [reconcile] backends, or --backend)\n');
      } else {
        tellRefused(refused);
        printTable(['BACKEND', options.dryRun ? 'WOULD ADD' : 'ADDED', options.dryRun ? 'WOULD REMOVE' : 'REMOVED', 'UNCHANGED', 'STATUS'],
          reports.map((r) => [r.name, String(r.added), String(r.removed), String(r.unchanged), status(r)]));
        for (const report of reports) {
          for (const note of report.notes ?? []) process.stderr.write(`f2b-store: ${note}\n`);
          for (const planned of report.plan ?? []) {
            process.stdout.write(`\n${report.name}: ${describeCommand({ argv: planned.argv })}\n${planned.stdin ?? ''}`);
          }
        }
      }
      const trouble = backendTrouble(reports);
      if (trouble) throw new OperationError(`reconcile incomplete: ${trouble}; the database is unchanged and the next run retries`);
    });
}

import type { Command } from 'commander';
import { OperationError } from '../../core/index.js';
import { describeCommand, type Backend } from '../../backends/index.js';
import { reconcile, type BackendReport } from '../../reconcile/index.js';
import type { BanStore } from '../../store/index.js';
import { createContext, type Context } from '../context.js';
import { backendTrouble, printJson, printTable } from '../output.js';

/** A backend losing more than this share of what it holds, and at least GUARD_MIN entries, … */
const GUARD_SHARE = 0.5;
const GUARD_MIN = 10;

/**
 * … to a database holding fewer bans (active and ended) than that: the database cannot account
 * for what the firewall holds, so it is new, empty or the wrong one (a typo in --db). Such a
 * reconcile needs --yes.
 */
async function checkRemovals(ctx: Context, store: BanStore, backends: readonly Backend[]): Promise<void> {
  const preview = await reconcile(store.activeAnyOrder(ctx.now), backends, ctx.now, { dryRun: true });
  const known = [...store.jailCounts(ctx.now).values()].reduce((sum, counts) => sum + counts.total, 0);
  const holds = (r: BackendReport): number => r.removed + r.unchanged;
  const risky = preview.find((r) => r.error === null && r.removed >= GUARD_MIN && r.removed > holds(r) * GUARD_SHARE && r.removed > known);
  if (risky) {
    throw new OperationError(`refusing to remove ${risky.removed} of the ${holds(risky)} entries ${risky.name} holds: the database `
      + `${ctx.dbPath()} knows only ${known} bans (is --db right?); nothing was changed: pass --yes to reconcile anyway`);
  }
}

function status(report: BackendReport): string {
  if (report.error !== null) return 'error';
  const problems = [
    ...(report.skipped?.length ? [`${report.skipped.length} jail${report.skipped.length > 1 ? 's' : ''} skipped`] : []),
    ...(report.failed.length ? [`${report.failed.length} failed`] : []),
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
while the database holds fewer bans, active and ended, than that is refused (exit code 1)
unless --yes: the database is new, empty or not the one meant (a typo in --db).`)
    .action(async (options: { dryRun?: boolean; yes?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const store = await ctx.store();
      const backends = await ctx.backends();
      if (!options.dryRun && !options.yes) await checkRemovals(ctx, store, backends);
      const reports = await reconcile(store.activeAnyOrder(ctx.now), backends, ctx.now, { dryRun: options.dryRun === true });
      if (ctx.json) {
        printJson({ backends: reports });
      } else if (reports.length === 0) {
        process.stdout.write('no backends enabled: nothing to reconcile (see [reconcile] backends, or --backend)\n');
      } else {
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

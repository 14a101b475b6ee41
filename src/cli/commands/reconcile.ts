import type { Command } from 'commander';
import { OperationError } from '../../core/index.js';
import { describeCommand } from '../../backends/index.js';
import { reconcile } from '../../reconcile/index.js';
import { createContext } from '../context.js';
import { backendTrouble, printJson, printTable } from '../output.js';

export function register(program: Command): void {
  program
    .command('reconcile')
    .description('bring every enabled backend to exactly the active bans, or with --dry-run only report the difference')
    .option('-n, --dry-run', 'change nothing; print what would be added and removed, and the commands')
    .addHelpText('after', `
Each backend's own objects are created if missing, its real state is read back and compared
with the database, and only the difference is applied, in one batch. Running it twice changes
nothing the second time. Nothing outside f2b-store's own tables, chains and sets is touched.`)
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const store = await ctx.store();
      const backends = await ctx.backends();
      const reports = await reconcile(store.activeAnyOrder(ctx.now), backends, ctx.now, { dryRun: options.dryRun === true });
      if (ctx.json) {
        printJson({ backends: reports });
      } else if (reports.length === 0) {
        process.stdout.write('no backends enabled: nothing to reconcile (see [reconcile] backends, or --backend)\n');
      } else {
        printTable(['BACKEND', options.dryRun ? 'WOULD ADD' : 'ADDED', options.dryRun ? 'WOULD REMOVE' : 'REMOVED', 'UNCHANGED', 'STATUS'],
          reports.map((r) => [r.name, String(r.added), String(r.removed), String(r.unchanged), r.error === null ? (r.failed.length ? `${r.failed.length} failed` : 'ok') : 'error']));
        for (const report of reports) {
          for (const planned of report.plan ?? []) {
            process.stdout.write(`\n${report.name}: ${describeCommand({ argv: planned.argv })}\n${planned.stdin ?? ''}`);
          }
        }
      }
      const trouble = backendTrouble(reports);
      if (trouble) throw new OperationError(`reconcile incomplete: ${trouble}; the database is unchanged and the next run retries`);
    });
}

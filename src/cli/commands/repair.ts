import type { Command } from 'commander';
import { OperationError } from '../../core/index.js';
import { controlSocketFor, daemonPid } from '../../daemon/control-socket.js';
import { pidFileFor, runningDaemon } from '../../daemon/pidfile.js';
import { checkDatabaseAccess, repairDatabase, type RepairReport } from '../../store/index.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';

function repairLines(path: string, report: RepairReport): string[] {
  const lines = [`database ${path} was damaged (${report.problems[0] ?? 'unknown'}): kept it as ${report.kept}, and put a new one in its place`];
  for (const [table, saved] of Object.entries(report.saved)) {
    const lost = report.lost[table];
    lines.push(`${table}: ${saved} rows saved, ${lost ?? 'an unknown number'} lost`);
  }
  const lostBans = report.lost.bans;
  if (lostBans !== 0) {
    lines.push('bans that could not be read are lifted from the firewall at the next reconcile: ban them again (f2b-store import list) to keep them');
  }
  return lines;
}

export function register(program: Command): void {
  program
    .command('repair')
    .description('check the database and, when it is damaged, rebuild it from every row that can still be read')
    .addHelpText('after', `
Runs SQLite's integrity_check. A sound database is left as it is. A damaged (or empty) one is
kept aside as FILE.damaged-<time> (with its -wal and -shm, mode 0600), and a new database takes
its place holding every ban, log position and failure counter that can still be read; what was
saved and lost is reported per table. Stop the daemon first: repair refuses while it runs.
Exit code 0 when the database is sound or was rebuilt, 1 when nothing could be done.`)
    .action(async (_options: unknown, command: Command) => {
      const ctx = createContext(command);
      const path = ctx.dbPath();
      const daemon = (await daemonPid(controlSocketFor(path))) ?? runningDaemon(pidFileFor(path));
      if (daemon !== undefined) {
        throw new OperationError(`the daemon (pid ${daemon}) is using ${path}: stop it first (f2b-store stop), then run repair again; nothing was changed`);
      }
      // What repair saves becomes firewall rules: a file someone else may write is refused here too.
      checkDatabaseAccess(path, ctx.insecureDb);
      const report = repairDatabase(path);
      if (ctx.json) {
        printJson({ ok: true, ...report });
        return;
      }
      const lines = report.fine ? [`database ${path} is sound (integrity_check: ok): nothing to repair`] : repairLines(path, report);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf, OperationError } from '../../core/index.js';
import { pidFileFor, processRunning, runningDaemon } from '../../daemon/pidfile.js';
import { createContext } from '../context.js';

/** How long a daemon gets to finish its current reconcile and exit. */
const STOP_WAIT_MS = 30_000;

export function register(program: Command): void {
  program
    .command('stop')
    .description('stop the running daemon; the bans stay in the firewall unless --flush')
    .option('--flush', 'also remove every f2b-store object from every enabled backend (the database keeps the bans)')
    .action(async (options: { flush?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const pidFile = pidFileFor(ctx.dbPath());
      const pid = runningDaemon(pidFile);
      if (pid === undefined) {
        process.stdout.write('no daemon running\n');
      } else {
        process.kill(pid, 'SIGTERM');
        const deadline = Date.now() + STOP_WAIT_MS;
        // The pid file goes first, the process a moment later: "stopped" means both.
        const stopping = (): boolean => runningDaemon(pidFile) === pid || processRunning(pid);
        while (stopping() && Date.now() < deadline) await sleep(100);
        if (stopping()) throw new OperationError(`daemon pid ${pid} did not stop within ${STOP_WAIT_MS / 1000} s`);
        process.stdout.write(`stopped daemon pid ${pid}\n`);
      }
      if (!options.flush) return;
      const failures: string[] = [];
      for (const backend of await ctx.backends()) {
        try {
          await backend.flush();
          process.stdout.write(`flushed ${backend.name}\n`);
        } catch (error) {
          failures.push(`${backend.name}: ${messageOf(error)}`);
        }
      }
      if (failures.length) throw new OperationError(`flush incomplete: ${failures.join('; ')}`);
    });
}

import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf, OperationError } from '../../core/index.js';
import { controlSocketFor, daemonPid } from '../../daemon/control-socket.js';
import { isDaemonProcess, pidFileFor, processRunning, runningDaemon } from '../../daemon/pidfile.js';
import { createContext } from '../context.js';

/** How long a daemon gets to finish its current reconcile and exit. */
const STOP_WAIT_MS = 30_000;

export function register(program: Command): void {
  program
    .command('stop')
    .description('stop the running daemon; the bans stay in the firewall unless --flush')
    .option('--flush', 'also remove every f2b-store object from every enabled backend (the database keeps the bans)')
    .addHelpText('after', `
Only a daemon that answers on the control socket beside the database is stopped: a process the
pid file names is never signalled on the pid file's word alone.`)
    .action(async (options: { flush?: boolean }, command: Command) => {
      const ctx = createContext(command);
      const dbPath = ctx.dbPath();
      // The socket's answer, not the pid file, says which process to stop: a stale pid file may name anything.
      const socket = controlSocketFor(dbPath);
      const pid = await daemonPid(socket);
      if (pid !== undefined && !isDaemonProcess(pid)) {
        throw new OperationError(`the control socket ${socket} answered with pid ${pid}, which does not run f2b-store start: left it alone`);
      }
      if (pid === undefined) {
        const named = runningDaemon(pidFileFor(dbPath));
        process.stdout.write(named === undefined ? 'no daemon running\n'
          : `no daemon answers on ${socket}; pid ${named} (named by ${pidFileFor(dbPath)}) was left alone\n`);
      } else {
        process.kill(pid, 'SIGTERM');
        const deadline = Date.now() + STOP_WAIT_MS;
        while (processRunning(pid) && Date.now() < deadline) await sleep(100);
        if (processRunning(pid)) throw new OperationError(`daemon pid ${pid} did not stop within ${STOP_WAIT_MS / 1000} s`);
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

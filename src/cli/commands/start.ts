import type { Command } from 'commander';
import { isoTime, nowSeconds } from '../../core/index.js';
import { pidFileFor, runDaemon } from '../../daemon/index.js';
import { createContext } from '../context.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('run the daemon in the foreground: keep every backend equal to the database')
    .addHelpText('after', `
At start, on the [reconcile] schedule (default every 10 s) and whenever a ban expires, each
backend is compared with the active bans and repaired: a flushed ruleset or a firewall reload
is undone within one interval. SIGTERM stops it and leaves the bans in the firewall.`)
    .action(async (_options: unknown, command: Command) => {
      const ctx = createContext(command);
      const store = await ctx.store();
      const backends = await ctx.backends();
      await runDaemon({
        store,
        backends,
        schedule: ctx.config().schedule,
        fullCheck: ctx.config().fullCheck,
        pidFile: pidFileFor(ctx.dbPath()),
        log: (line) => console.error(`${isoTime(nowSeconds())} f2b-store: ${line}`),
      });
    });
}

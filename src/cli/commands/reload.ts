import type { Command } from 'commander';
import { InputError, OperationError } from '../../core/index.js';
import { askDaemon, controlSocketFor } from '../../daemon/control-socket.js';
import type { ReloadResult } from '../../daemon/index.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';

/** Reloading stops and starts every log reader: give it time on a loaded machine. */
const RELOAD_WAIT_MS = 60_000;

export function register(program: Command): void {
  program
    .command('reload')
    .description('make the running daemon read its configuration and jails again (like fail2ban-client reload)')
    .argument('[jail]', 'a jail that must be running after the reload')
    .addHelpText('after', `
The daemon reloads the whole configuration, as on SIGHUP (systemctl reload f2b-store); with a
jail named, the reload fails unless that jail is enabled afterwards. A configuration with a
problem is refused (exit 2, the problem named) and the daemon keeps running the one it had.
Bans are not touched: the next reconcile brings the backends of a changed jail along.`)
    .action(async (jail: string | undefined, _options: unknown, command: Command) => {
      const ctx = createContext(command);
      const socket = controlSocketFor(ctx.dbPath());
      const result = await askDaemon(socket, { command: 'reload' }, RELOAD_WAIT_MS) as ReloadResult | undefined;
      if (result === undefined) throw new OperationError(`no daemon answers on ${socket}: nothing to reload (start it with f2b-store start or systemctl start f2b-store)`);
      if (!result.reloaded) throw new InputError(`the configuration has a problem, so the daemon keeps the running one: ${result.error}`);
      if (ctx.json) printJson(result);
      else process.stdout.write(`reloaded; jails: ${result.jails.join(', ') || 'none'}\n`);
      if (jail !== undefined && !result.jails.includes(jail)) {
        throw new InputError(`no enabled jail "${jail}" after the reload (running: ${result.jails.join(', ') || 'none'}): check its section and enabled = true`);
      }
    });
}

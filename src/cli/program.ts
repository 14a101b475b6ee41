import { Command, Option } from 'commander';
import { DEFAULT_CONFIG_DIR, DEFAULT_DB_PATH } from '../config/index.js';
import { register as ban } from './commands/ban.js';
import { register as banned } from './commands/banned.js';
import { register as check } from './commands/check.js';
import { register as completion } from './commands/completion.js';
import { register as exportCommand } from './commands/export.js';
import { register as importCommand } from './commands/import.js';
import { register as list } from './commands/list.js';
import { register as purge } from './commands/purge.js';
import { register as reconcile } from './commands/reconcile.js';
import { register as reload } from './commands/reload.js';
import { register as repair } from './commands/repair.js';
import { register as show } from './commands/show.js';
import { register as start } from './commands/start.js';
import { register as status } from './commands/status.js';
import { register as stop } from './commands/stop.js';
import { register as testFilter } from './commands/test-filter.js';
import { register as unban } from './commands/unban.js';

/** The whole command-line interface; main.ts runs it. */
export function buildProgram(version: string): Command {
  const program = new Command('f2b-store')
    .description('Persistent ban store and firewall reconciler: bans in SQLite, firewalls kept equal to it.')
    .version(version)
    .addOption(new Option('--db <path>', 'ban database').env('F2B_STORE_DB').default(undefined, DEFAULT_DB_PATH))
    .addOption(new Option('--config <dir>', 'configuration directory').env('F2B_STORE_CONFIG').default(undefined, DEFAULT_CONFIG_DIR))
    .option('--backend <list>', 'backends for this call, comma separated; none records without touching any firewall')
    .option('--netns <name>', 'run every firewall command inside this network namespace')
    .option('--json', 'print machine-readable JSON')
    .option('--insecure-db', 'use a database file or directory that another user owns or may write (refused otherwise)')
    // main.ts prints usage errors itself, as one line with exit code 2.
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', `
Exit codes: 0 done; 1 could not be done (the message says what was kept); 2 bad input.`);
  for (const register of [ban, unban, banned, list, show, reconcile, exportCommand, importCommand, purge, repair, testFilter, status, check, start, stop, reload, completion]) register(program);
  return program;
}

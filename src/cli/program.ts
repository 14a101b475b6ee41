import { Command, Option } from 'commander';
// store-config alone: the rest of config (jails, filters, actions) is for the commands that read them.
import { DEFAULT_CONFIG_DIR, DEFAULT_DB_PATH } from '../config/store-config.js';

type Register = (program: Command) => void;

/**
 * Every command, in the order help lists them. Each is loaded only when run: a command's module
 * brings its dependencies (the store's native SQLite binding, the backends, the daemon), and
 * loading them all made every call, `test-filter` on one line as much as a ban, start slowly.
 */
const COMMANDS: Readonly<Record<string, () => Promise<{ register: Register }>>> = {
  ban: () => import('./commands/ban.js'),
  unban: () => import('./commands/unban.js'),
  banned: () => import('./commands/banned.js'),
  list: () => import('./commands/list.js'),
  show: () => import('./commands/show.js'),
  stats: () => import('./commands/stats.js'),
  reconcile: () => import('./commands/reconcile.js'),
  export: () => import('./commands/export.js'),
  import: () => import('./commands/import.js'),
  purge: () => import('./commands/purge.js'),
  repair: () => import('./commands/repair.js'),
  'test-filter': () => import('./commands/test-filter.js'),
  status: () => import('./commands/status.js'),
  check: () => import('./commands/check.js'),
  start: () => import('./commands/start.js'),
  stop: () => import('./commands/stop.js'),
  reload: () => import('./commands/reload.js'),
  fleet: () => import('./commands/fleet.js'),
  completion: () => import('./commands/completion.js'),
};

/** Commands that need every other one registered: completion writes its script from the whole tree. */
const WHOLE_TREE = new Set(['completion']);

/** The global options that take a value (`--db PATH`); the others are flags. */
const VALUE_OPTIONS = new Set(['--db', '--config', '--backend', '--netns']);
const FLAG_OPTIONS = new Set(['--json', '--insecure-db']);

/** Commander prints the version before it looks at any command: none is loaded for it. */
const VERSION_FLAGS = new Set(['-V', '--version']);

/** Where the command stands in `args` (the arguments after the script), past the global options; -1 when nothing follows them. */
function commandIndex(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (FLAG_OPTIONS.has(arg) || (arg.includes('=') && VALUE_OPTIONS.has(arg.slice(0, arg.indexOf('='))))) continue;
    return i;
  }
  return -1;
}

/**
 * The commands to load for `args` (the arguments after the script): the one they run, found past
 * the global options; none for the version; every one for anything else (help, a mistake).
 */
function commandsFor(args: readonly string[]): readonly string[] {
  const all = Object.keys(COMMANDS);
  const arg = args[commandIndex(args)];
  if (arg === undefined) return all;
  if (VERSION_FLAGS.has(arg)) return [];
  return Object.hasOwn(COMMANDS, arg) && !WHOLE_TREE.has(arg) ? [arg] : all;
}

/**
 * The command `argv` (as process.argv) runs, when it names one, with its subcommand (`fleet
 * init`): its help is the one a usage error points to.
 */
export function commandOf(program: Command, argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  const at = commandIndex(args);
  const command = program.commands.find((c) => c.name() === args[at]);
  if (command === undefined) return undefined;
  const next = args.slice(at + 1).find((arg) => !arg.startsWith('-'));
  const sub = command.commands.find((c) => c.name() === next);
  return sub === undefined ? command.name() : `${command.name()} ${sub.name()}`;
}

/** The whole command-line interface for `argv` (as process.argv), with the command it runs loaded; main.ts runs it. */
export async function buildProgram(version: string, argv: readonly string[]): Promise<Command> {
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
  const modules = await Promise.all(commandsFor(argv.slice(2)).map((name) => (COMMANDS[name] as () => Promise<{ register: Register }>)()));
  for (const { register } of modules) register(program);
  return program;
}

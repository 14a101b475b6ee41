import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import type { Log } from '../../core/index.js';
import type { FleetConfig } from '../../config/index.js';
import { BACKEND_CATALOG } from '../../backends/catalog.js';
import { BanStore } from '../../store/index.js';
import type { RunningFleet } from '../../daemon/index.js';
import { createContext } from '../context.js';

/**
 * How far V8 lets the daemon's old generation grow past what its last full collection kept, in
 * percent. Left to itself under a burst of log lines it grew to about three times what was alive
 * (110 MB held for 35–40 MB alive), so garbage promoted between collections was a third of the
 * peak RSS; twice what is alive took about 60 MiB off the bench's 1,000,000-line burst for no
 * more CPU (a full collection of a heap this size costs a few tens of milliseconds). 1.6 times:
 * about 13 MiB less again (median 196 against 209 MiB), for about 4% more CPU and no slower. With
 * the unit's --single-threaded-gc (its marking no longer concurrent, the heap grows more while a
 * collection is under way) 1.6 times peaked at 199-203 MiB, 1.5 times at 190-195 and as fast.
 */
const HEAP_GROWING_PERCENT = 50;

/** How long the fleet's own store connection waits for another writer before trying again at its next round. */
const FLEET_BUSY_TIMEOUT_MS = 100;

/**
 * The daemon's fleet starter: the fleet's modules (and pg) are loaded only here, with [fleet]
 * configured. The fleet pushes from the daemon's connection and pulls into one of its own.
 */
function startFleet(config: FleetConfig, store: BanStore, dbPath: string, insecure: boolean, log: Log) {
  return async (changed: () => void): Promise<RunningFleet> => {
    const fleet = await import('../../fleet/index.js');
    const inbox = BanStore.open(dbPath, { insecure });
    inbox.setChangeWriter('fleet');
    inbox.setBusyTimeout(FLEET_BUSY_TIMEOUT_MS);
    const running = fleet.startFleet({ config, outbox: store, inbox, changed, log });
    return {
      pushNow: () => running.pushNow(),
      stop: async () => {
        await running.stop();
        inbox.close();
      },
    };
  };
}

export function register(program: Command): void {
  program
    .command('start')
    .description('run the daemon in the foreground: follow the jails\' logs, ban, keep every backend equal to the database')
    .addHelpText('after', `
Jails come from jail.conf, jail.d/ and jail.local in the config dir (or, when that dir does not
exist, the ones shipped in config/: sshd on /var/log/auth.log). Each enabled jail's logs are
followed across rotation; an address reaching maxretry failures within findtime is banned in the
database and in every backend at once. Positions and failure counters are kept in the database,
so a restart (even kill -9) resumes without losing or doubling a line.

At start, on the [reconcile] schedule (default every 10 s) and whenever a ban expires, each
backend is compared with the active bans and repaired: a flushed ruleset or a firewall reload
is undone within one interval. SIGHUP reloads the jails; SIGTERM stops and leaves the bans in
the firewall.

Never banned, nor applied from the database unless made with ban --force: what the lockout
floor refuses ([lockout] in f2b-store.conf; this host's addresses, with --netns the namespace's
too, read again every 30 s). On a database that has held fewer bans than a backend would lose,
those entries are kept and the daemon says so once: f2b-store reconcile --yes removes them.`)
    .action(async (_options: unknown, command: Command) => {
      const ctx = createContext(command);
      // A one-shot command ends on a failed write to stdout (see main.ts); the daemon's stdout is at most its log, whose reader
      // going away must not stop it (its bans go on in the database, the ban log and the firewall).
      process.stdout.removeAllListeners('error').on('error', () => undefined);
      // The daemon's process alone: read by V8 at each full collection, for both threads.
      setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
      // The unit's --max-semi-space-size (contrib/f2b-store.service) sized the main thread's young generation; V8 reads the
      // flag again for each thread made after, where it would override the filter worker's resourceLimits: 0 gives them back.
      setFlagsFromString('--max-semi-space-size=0');
      // Loaded only here: the daemon's modules (watching, engine, filters) would slow every other command's start.
      const [
        { controlSocketFor, createLogger, pidFileFor, runDaemon }, { compileJailFilters },
        { enabledJails, isLogJail, jailConfigDir, jailWarnings, journalInsteadNotice, loadAction }, { actionStateFile }, { journalInsteadOfFiles },
        { logFormatWarnings },
      ] = await Promise.all([
        import('../../daemon/index.js'), import('../jail-filters.js'), import('../../config/index.js'), import('../../backends/index.js'),
        import('../../watch/journal-instead.js'), import('../log-format-probe.js'),
      ]);
      const logger = await createLogger({ level: ctx.config().logLevel, target: ctx.config().logTarget });
      const { log, logLines } = logger;
      const store = await ctx.store({ create: true }).catch((error: unknown) => {
        logger.close();
        throw error;
      });
      const backendsFor = await ctx.backendsFor();
      await runDaemon({
        store,
        backends: (jails) => backendsFor(jails.map((jail) => ({
          name: jail.name,
          backends: jail.backends,
          // f2b-store's own action (fail2ban delegating to it) would only call f2b-store back.
          actions: jail.actions.filter((action) => action.name !== 'f2b-store').map((action) => loadAction(action, jail)),
        })), {
          stateFile: (jail, actname) => actionStateFile(ctx.dbPath(), jail, actname),
          details: (name, address) => store.banDetails(address, name),
        }),
        schedule: ctx.config().schedule,
        fullCheck: ctx.config().fullCheck,
        pidFile: pidFileFor(ctx.dbPath()),
        socketPath: controlSocketFor(ctx.dbPath()),
        banLogFile: ctx.config().logFile,
        lockout: ctx.config().lockout,
        hostAddresses: () => ctx.hostAddresses(),
        // Filters are compiled here: a bad regex stops start (or a reload) naming its file and line;
        // misspelt options and actions that cannot run here are told at each load, as check tells them.
        loadJails: () => {
          const jails = enabledJails(ctx.configDir, BACKEND_CATALOG, { journalInstead: journalInsteadOfFiles });
          const logJails = jails.filter(isLogJail);
          for (const warning of [...compileJailFilters(logJails), ...logFormatWarnings(logJails), ...jailWarnings(jailConfigDir(ctx.configDir), jails)]) {
            log(warning, 'warning');
          }
          for (const jail of jails) if (jail.journalInsteadOf) log(journalInsteadNotice(jail.name, jail.journalInsteadOf), 'notice');
          return jails;
        },
        log,
        logLines,
        ...(ctx.config().fleet ? { fleet: startFleet(ctx.config().fleet as FleetConfig, store, ctx.dbPath(), ctx.insecureDb, log) } : {}),
        ...(ctx.config().metrics ? { metrics: ctx.config().metrics } : {}),
      }).finally(() => logger.close());
    });
}

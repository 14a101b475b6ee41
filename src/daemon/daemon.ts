import type { Server } from 'node:net';
import {
  isoTime, journalSourceName, messageOf, nowSeconds, OperationError, type Address, type JournalSource, type ListenAddress, type LockoutFloor, type Log, type LogEntry,
} from '../core/index.js';
import { isLogJail, watchesNothingHint, type AnyEnabledJail, type EnabledJail } from '../config/index.js';
import type { Backend } from '../backends/index.js';
import { DAEMON, ReconcileLoop, checkSchedule, jailRulesOf, type BackendJailCount } from '../reconcile/index.js';
import type { DaemonMetrics } from '../metrics/index.js';
import { isDamaged, type BanStore } from '../store/index.js';
import { JournalReader, journalSelection, LogTailer } from '../watch/index.js';
import { createBanLog } from './ban-log.js';
import { BansJails } from './bans-jails.js';
import { daemonPid, ForeignSocketError, serveControl, type ControlRequest } from './control-socket.js';
import { LogJails } from './log-jails.js';
import { LockoutWatch } from './lockout-watch.js';
import { bytesBehind } from './log-lag.js';
import { claimPidFile } from './pidfile.js';
import { DAEMON_BUSY_TIMEOUT_MS, StoreWriter, type WriterStatus } from './store-writer.js';

/** How often each file backend's file is checked to be still the one everyone sees (see Backend.replaced). */
const REPLACED_CHECK_MS = 2000;
/** How often a jail that watches no file is warned of again. */
const UNWATCHED_WARNING_MS = 3_600_000;

export interface DaemonOptions {
  readonly store: BanStore;
  /** The backends of these jails (native and action.d); chosen again when SIGHUP reloads the jails. */
  readonly backends: (jails: readonly AnyEnabledJail[]) => Backend[];
  readonly schedule: string;
  readonly fullCheck: number;
  readonly pidFile: string;
  readonly socketPath: string;
  /** The ban log `recidive` reads; '' for none. */
  readonly banLogFile: string;
  /** Loads the enabled jails; called at start and on SIGHUP (a broken configuration keeps the running one). */
  readonly loadJails: () => readonly AnyEnabledJail[];
  /** The configured lockout floor, applied by the jails and again by the reconciler. */
  readonly lockout: LockoutFloor;
  /** Reads this host's addresses (the namespace's with --netns), for the lockout floor. */
  readonly hostAddresses: () => Promise<Address[]>;
  readonly log: Log;
  /** Several lines at once, in one write (a burst's Ban lines); each through `log` when not given. */
  readonly logLines?: (entries: readonly LogEntry[]) => void;
  /**
   * Starts the fleet when one is configured (src/fleet/, loaded only then); `changed` has the
   * changes it pulled into the store taken in at once. Told to push after each of the daemon's
   * own writes (and a CLI unban's, which says so through the control socket). Stopped before the
   * daemon ends.
   */
  readonly fleet?: (changed: () => void) => Promise<RunningFleet>;
  /** Where to serve /metrics for Prometheus ([metrics] listen); none when absent. */
  readonly metrics?: ListenAddress;
}

/** The fleet beside a running daemon (src/fleet/'s Fleet). */
export interface RunningFleet {
  pushNow(): void;
  stop(): Promise<void>;
}

/** What `status` gets from a running daemon. */
/** What a reload did: the jails now running, or why the running configuration was kept. */
export type ReloadResult = { readonly reloaded: true; readonly jails: readonly string[] } | { readonly reloaded: false; readonly error: string };

export interface DaemonStatus {
  readonly pid: number;
  readonly jails: ReturnType<LogJails['status']>;
  readonly store: WriterStatus;
  readonly reconcile: {
    readonly at: number;
    readonly reason: string;
    /** Active bans the lockout floor kept out of every backend. */
    readonly refused: number;
    readonly backends: readonly { name: string; error: string | null; failed: number; kept: number }[];
  } | null;
}

/** The journal jails by the journal they read (journalSourceName): one reader each. */
function journalGroups(jails: readonly EnabledJail[]): Map<string, { journal: JournalSource; group: EnabledJail[] }> {
  const groups = new Map<string, { journal: JournalSource; group: EnabledJail[] }>();
  for (const jail of jails) {
    if (jail.journal === undefined) continue;
    const source = journalSourceName(jail.journal);
    const known = groups.get(source);
    if (known) known.group.push(jail);
    else groups.set(source, { journal: jail.journal, group: [jail] });
  }
  return groups;
}

/** A journal source as a metrics label: beside the files' paths, it says what it is. */
const journalLabel = (source: string): string => `journal:${source}`;

/** One tailer per log encoding and watch mode: jails sharing a file share its reading. */
function tailerGroups(jails: readonly EnabledJail[]): Map<string, { encoding: string; polling: boolean; paths: Map<string, boolean> }> {
  const groups = new Map<string, { encoding: string; polling: boolean; paths: Map<string, boolean> }>();
  for (const jail of jails) {
    const polling = jail.backend === 'polling';
    const key = `${jail.logencoding} ${polling}`;
    let group = groups.get(key);
    if (!group) groups.set(key, group = { encoding: jail.logencoding, polling, paths: new Map() });
    for (const path of jail.logpaths) group.paths.set(path.pattern, (group.paths.get(path.pattern) ?? true) && path.tail);
  }
  return groups;
}

/**
 * Runs until SIGTERM/SIGINT: reconciles at start, then follows every enabled jail's logs, bans
 * (store first, then every backend at once), and keeps the backends equal to the store on
 * schedule and at each expiry. SIGHUP reloads the jails. Stopping leaves every ban in the
 * firewall (they are the point); `stop --flush` removes them explicitly.
 */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { store, log } = options;
  checkSchedule(options.schedule, '[reconcile] schedule');
  let jails = options.loadJails();
  let rules = jailRulesOf(jails);
  // One list shared by the loop and the jails, updated in place when a reload changes them.
  const backends: Backend[] = [];
  const setBackends = (chosen: readonly Backend[]): void => {
    backends.splice(0, backends.length, ...chosen);
  };
  setBackends(options.backends(jails));
  // Loaded only when configured, as the fleet is. Its sources are read at scrapes, once everything below runs.
  const metricsModule = options.metrics === undefined ? undefined : await import('../metrics/index.js');
  const metrics: DaemonMetrics | undefined = metricsModule && new metricsModule.DaemonMetrics({
    bans: () => store.banTotals(nowSeconds()),
    entries: (): BackendJailCount[] => loop.entryCounts(),
    jails: () => logJails.status([], () => undefined),
    logs: () => [
      ...tailers.flatMap((tailer) => tailer.positions()).flatMap((at) => {
        const behindBytes = bytesBehind(at);
        return behindBytes === undefined ? [] : [{ source: at.path, behindBytes }];
      }),
      ...[...readers].map(([source, reader]) => ({ source: journalLabel(source), lagSeconds: reader.status().lagSeconds })),
    ],
    databaseBytes: () => store.databaseBytes(),
    problem: (what, error) => {
      if (!isDamaged(error)) log(`metrics: reading ${what} failed: ${messageOf(error)}`, 'warning');
    },
  });
  // The fleet is started below; until then what is written waits in the change log for its first push.
  // A ban written may complete the count of a jail with source = bans (made below).
  const writer = new StoreWriter({
    store, log,
    written: () => {
      fleet?.pushNow();
      void bansJails.check();
    },
    ...(metrics ? { timed: (seconds: number) => metrics.transaction(seconds) } : {}),
  });
  const lockout = new LockoutWatch({
    floor: options.lockout, read: options.hostAddresses, log,
    // The loop is made below; the addresses are read again only after it started.
    changed: () => void loop.run('this host\'s addresses changed'),
  });
  const logJails = new LogJails({
    store, writer, backends, now: nowSeconds, log, logLines: options.logLines ?? ((entries) => entries.forEach((e) => log(e.text, e.level))), rules: (name) => rules(name),
    banLog: createBanLog(options.banLogFile, (message) => log(message, 'warning')),
    lockout: () => lockout.lockout(), floor: () => lockout.banFloor(),
    // The loop is made below; a change is applied only once lines come, after it exists.
    mark: (): number => loop.mark(),
    applied: (before, after, reports, committed) => {
      loop.applied(before, after, reports, committed);
      metrics?.applied(reports);
    },
  }, jails.filter(isLogJail));
  const bansJails = new BansJails({
    store, writer, now: nowSeconds, log, lockout: () => lockout.lockout(), ban: (decisions) => logJails.decided(decisions),
  }, jails);
  // Damage met from here on is said once (a damaged store met above ends the start with the error
  // itself): every later tick, batch and reload meeting it stays quiet about it.
  store.onDamage((error) => log(`${error.message}; until then the firewall keeps every ban it has, and new bans go to it held in memory (stop f2b-store first)`, 'error'));
  // One daemon per database: one answering on the socket (its pid file lost) counts as much as the pid file.
  const answering = await daemonPid(options.socketPath).catch((error: unknown) => {
    // Something planted at the socket's name is no daemon: serveControl replaces it.
    if (error instanceof ForeignSocketError) return undefined;
    throw error;
  });
  if (answering !== undefined) {
    throw new OperationError(`another f2b-store daemon (pid ${answering}) already runs on this database: stop it first (f2b-store stop)`);
  }
  const release = claimPidFile(options.pidFile);
  store.setBusyTimeout(DAEMON_BUSY_TIMEOUT_MS);
  // Its own changes are in the backends as it makes them: the loop follows only the others'.
  store.setChangeWriter(DAEMON);
  const loop = new ReconcileLoop({
    store, backends, schedule: options.schedule, fullCheck: options.fullCheck, clock: nowSeconds, log,
    rules: (name) => rules(name),
    jails: () => jails.map((jail) => jail.name),
    active: (now) => logJails.active(now),
    floor: () => lockout.banFloor(),
    ...(metrics ? { observer: metrics } : {}),
    tookIn: () => void bansJails.check(),
  });
  let tailers: LogTailer[] = [];
  let readers = new Map<string, JournalReader>();
  let control: Server | undefined;
  let metricsServer: Server | undefined;
  let fleet: RunningFleet | undefined;

  const startJournals = (): void => {
    for (const [source, { journal, group }] of journalGroups(jails.filter(isLogJail))) {
      for (const jail of group) {
        if (jail.journalMatch === undefined) {
          log(`[${jail.name}] started without 'journalmatch' set: its regexes are checked against every journal entry, which is not advised for performance reasons`, 'warning');
        }
      }
      const { match, fields } = journalSelection(group.map((jail) => jail.journalMatch));
      // A cursor held in memory (the database cannot be written) is newer than the stored one.
      let after = writer.heldCursor(source)?.cursor;
      try {
        after ??= store.journalCursor(source)?.cursor;
      } catch (error) {
        if (!isDamaged(error)) log(`journal (${source}): reading its saved cursor failed: ${messageOf(error)}`, 'warning');
      }
      const reader = new JournalReader({
        source: journal, match, fields, encoding: group[0]?.logencoding ?? 'auto',
        ...(after === undefined ? {} : { after }),
        since: nowSeconds() - Math.max(...group.map((jail) => jail.findtime)),
        onEntries: (batch) => {
          metrics?.linesRead(journalLabel(source), batch.entries.length);
          return logJails.handleJournal(source, batch);
        },
        onStart: (start) => {
          if (start.kind !== 'since') return;
          if (start.lostCursor === undefined) log(`journal (${source}): no saved cursor, reading from ${isoTime(Math.floor(start.since))} (now − findtime)`);
          else log(`journal (${source}): the saved cursor is no longer in the journal (rotated or vacuumed), reading from ${isoTime(Math.floor(start.since))}`, 'warning');
        },
        onError: (message) => log(`journal (${source}): ${message}; retrying with back-off, the rest of the daemon goes on`, 'error'),
        onRecovered: () => log(`journal (${source}): reading again`, 'notice'),
      });
      reader.start();
      readers.set(source, reader);
    }
  };

  const startTailers = async (): Promise<void> => {
    startJournals();
    // A group with nothing to follow (journal jails only) would never report ready.
    tailers = [...tailerGroups(jails.filter(isLogJail)).values()].filter((group) => group.paths.size > 0).map((group) => new LogTailer({
      paths: [...group.paths].map(([pattern, tail]) => ({ pattern, tail })),
      // A position held in memory (the database cannot be written) is newer than the stored one.
      stored: (path) => writer.heldPosition(path) ?? store.logPosition(path),
      prepare: (batch) => logJails.prepare(batch),
      // The filter worker reads each batch's lines from the file itself: the bytes never cross threads.
      ranges: true,
      onLines: (batch) => {
        metrics?.linesRead(batch.path, batch.lineCount);
        return logJails.handle(batch);
      },
      encoding: group.encoding,
      polling: group.polling,
      onError: (error, path) => {
        if (!isDamaged(error)) log(`reading ${path ?? 'logs'}: ${messageOf(error)}`, 'error');
      },
    }));
    await Promise.all(tailers.map((tailer) => tailer.start()));
  };
  const stopTailers = async (): Promise<void> => {
    await Promise.all([...tailers.map((tailer) => tailer.close()), ...[...readers.values()].map((reader) => reader.close())]);
    tailers = [];
    readers = new Map();
  };
  const watched = (): string[] => tailers.flatMap((tailer) => tailer.watched()).sort();

  /** Reloads the jails (`by`: SIGHUP or the reload command); a broken configuration keeps the running one and is told. */
  const reload = async (by: string): Promise<ReloadResult> => {
    let next: readonly AnyEnabledJail[];
    let chosen: Backend[];
    try {
      next = options.loadJails();
      chosen = options.backends(next);
      const useBansJails = bansJails.prepare(next);
      logJails.replace(next.filter(isLogJail));
      useBansJails();
    } catch (error) {
      log(`${by}: the configuration has a problem, keeping the running one: ${messageOf(error)}`, 'error');
      return { reloaded: false, error: messageOf(error) };
    }
    await stopTailers();
    jails = next;
    rules = jailRulesOf(jails);
    setBackends(chosen);
    await startTailers();
    log(`${by}: reloaded; jails: ${jails.map((j) => j.name).join(', ') || 'none'}`, 'notice');
    void loop.run('reload');
    return { reloaded: true, jails: jails.map((j) => j.name) };
  };
  let reloading: Promise<unknown> = Promise.resolve();
  /** One reload at a time, in the order asked. */
  const queueReload = (by: string): Promise<ReloadResult> => {
    const next = reloading.then(() => reload(by));
    reloading = next.catch((error: unknown) => {
      if (!isDamaged(error)) log(`${by}: reloading failed: ${messageOf(error)}`, 'error');
    });
    return next;
  };

  const answer = async (request: ControlRequest): Promise<unknown> => {
    if (request.command === 'pid') return { pid: process.pid };
    if (request.command === 'reload') return queueReload('reload');
    if (request.command === 'changed') {
      loop.takeInChanges();
      fleet?.pushNow();
      return { taken: true };
    }
    if (request.command === 'forget') {
      for (const address of request.addresses) logJails.forget(address);
      fleet?.pushNow();
      return { forgotten: request.addresses.length };
    }
    const last = loop.last();
    const status: DaemonStatus = {
      pid: process.pid,
      jails: [...logJails.status(watched(), (source) => readers.get(source)?.status()), ...bansJails.status()],
      store: writer.status(),
      reconcile: last ? {
        at: last.at, reason: last.reason, refused: last.refused,
        backends: last.reports.map((r) => ({ name: r.name, error: r.error, failed: r.failed.length, kept: r.kept })),
      } : null,
    };
    return status;
  };

  let checkFiles: NodeJS.Timeout | undefined;
  // Why it stops: a signal, or a file backend that can only reach its file again from a new start.
  const stopped = new Promise<{ readonly signal: string } | { readonly failure: string }>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve({ signal }));
    checkFiles = setInterval(() => {
      for (const backend of backends) {
        const why = backend.replaced?.();
        if (why !== undefined) resolve({ failure: `${backend.name}: ${why}` });
      }
    }, REPLACED_CHECK_MS);
  });
  // A jail watching no file protects nothing (no /var/log/auth.log on a journal-only system): said at start and every hour while it lasts.
  const warnUnwatched = (): void => {
    for (const jail of logJails.status(watched(), () => undefined)) {
      const definition = jails.find((j) => j.name === jail.name);
      if (jail.journal !== null || jail.files.length > 0 || definition === undefined) continue;
      log(`jail ${jail.name} watches no log file: nothing matches ${definition.logpaths.map((p) => p.pattern).join(', ')} `
        + watchesNothingHint(definition.logformat), 'warning');
    }
  };
  const unwatchedCheck = setInterval(warnUnwatched, UNWATCHED_WARNING_MS);
  unwatchedCheck.unref();
  let failure: string | undefined;
  const onHup = (): void => {
    void queueReload('SIGHUP').catch(() => undefined);
  };
  try {
    control = await serveControl(options.socketPath, answer);
    // Said once the control socket answers: a script that waits for this line may run `stop` or `status` at once.
    log(`started (pid ${process.pid}); backends: ${backends.map((b) => b.name).join(', ') || 'none'}; jails: ${jails.map((j) => j.name).join(', ') || 'none'}; `
      + `drift check: ${options.schedule}, full check every ${options.fullCheck} s`, 'notice');
    if (metricsModule && metrics && options.metrics) {
      // The first read counts the active bans; the counters count from here.
      try {
        store.banTotals(nowSeconds());
      } catch (error) {
        if (!isDamaged(error)) log(`metrics: counting the active bans failed: ${messageOf(error)}`, 'warning');
      }
      metricsServer = await metricsModule.serveMetrics(options.metrics, metrics, log);
    }
    await lockout.start();
    await loop.start();
    fleet = await options.fleet?.(() => loop.takeInChanges());
    await startTailers();
    process.on('SIGHUP', onHup);
    log(`watching ${watched().length} log files: ${watched().join(', ') || 'none yet'}${readers.size > 0 ? `; the journal: ${[...readers.keys()].join(', ')}` : ''}`);
    warnUnwatched();
    const end = await stopped;
    // A failure is said by the caller (the CLI prints it), after everything is closed.
    if ('signal' in end) log(`${end.signal}: stopping; bans stay in the firewall`, 'notice');
    else failure = `${end.failure}: stopped with a failure, for the service manager to start f2b-store again on the new file (the unit's Restart=on-failure); bans stay in the firewall`;
  } finally {
    await fleet?.stop();
    clearInterval(checkFiles);
    clearInterval(unwatchedCheck);
    process.off('SIGHUP', onHup);
    await reloading;
    await stopTailers();
    await logJails.close();
    writer.close();
    lockout.stop();
    loop.stop();
    control?.close();
    metricsServer?.close();
    release();
  }
  if (failure !== undefined) throw new OperationError(failure);
}

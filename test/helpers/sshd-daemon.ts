import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress } from '../../src/core/index.js';
import { askDaemon, controlSocketFor, type DaemonStatus, type JailStatus } from '../../src/daemon/index.js';
import { runCli, tempDir, type CliResult } from './cli.js';
import { startDaemon, waitFor, type DaemonProcess } from './daemon.js';
import { createNetns, type Netns } from './netns.js';
import { storeBansJson } from './store.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A syslog date in local time, as sshd's lines carry it; now unless `at` is given. */
export function syslogDate(at = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[at.getMonth()]} ${String(at.getDate()).padStart(2, ' ')} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** One sshd failure line for `address`, dated now (or `at`). */
export function sshdFailure(address: string, at?: Date): string {
  return `${syslogDate(at)} web1 sshd[4242]: Failed password for root from ${address} port 52144 ssh2\n`;
}

export interface BanJson {
  address: string;
  jail: string;
  bannedAt: string;
  expiresAt: string | null;
  source: string;
  failures: number;
  banCount: number;
  liftedAt: string | null;
}

export interface StatusJson {
  daemon: { running: boolean; pid?: number; store?: { writable: boolean; error: string | null; heldBans: number } };
  jails: {
    name: string; enabled: boolean; currentlyFailed: number; totalFailed: number | null; currentlyBanned: number; totalBanned: number; files: string[];
    droppedLines: number | null; notRecords: number | null;
  }[];
  backends: { name: string; inSync: boolean; missing: number; extra: number; kept: number; error: string | null }[];
}

/**
 * A temp config dir with an sshd jail on a temp auth.log (maxretry 3, findtime 10m, bantime 1h),
 * nftables as the backend inside a namespace of our own, and the real daemon on them.
 */
export interface SshdDaemon {
  readonly dir: string;
  readonly config: string;
  readonly authLog: string;
  readonly banLog: string;
  readonly db: string;
  readonly ns: Netns;
  readonly args: readonly string[];
  daemon: DaemonProcess | undefined;
  cli(...rest: string[]): CliResult;
  /** `nft list table inet f2b-store`, or '' without the table. */
  table(): string;
  /** Whether the table holds `address`; in `listing` (a table() read once to look up several) when given. */
  inTable(address: string, listing?: string): boolean;
  list(): BanJson[];
  /** The active bans of `address` (every jail). */
  activeBans(address: string): BanJson[];
  status(): StatusJson;
  sshd(): StatusJson['jails'][number];
  /**
   * The sshd jail's live numbers, asked of the running daemon on its control socket as `status`
   * asks them: for polls, where a `status` process (which reads every backend back too) per look
   * would take the CPU the daemon needs.
   */
  counts(): Promise<JailStatus>;
  /** Appends `count` failure lines for `address` to auth.log, in one write. */
  fail(address: string, count?: number): void;
  /** Starts the daemon and waits until it follows its log files. */
  start(): Promise<DaemonProcess>;
  /** Stops the daemon (SIGTERM) and returns its exit code. */
  stop(): Promise<number | null>;
  cleanup(): Promise<void>;
}

/** The sshd jail on `authLog`; a key set in `extra` (before any section of its own) replaces the default's. */
export function JAIL(authLog: string, extra = ''): string {
  const own = extra.split(/^\[/m)[0] ?? '';
  const set = new Set(own.split('\n').map((line) => line.split('=')[0]?.trim()));
  const defaults = ['maxretry = 3', 'findtime = 10m', 'bantime = 1h'].filter((line) => !set.has(line.split('=')[0]?.trim()));
  return `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${authLog}\n${defaults.map((line) => `${line}\n`).join('')}${extra}`;
}

export interface SshdDaemonOptions {
  /** Where the database (and the pid file and socket beside it) live; the temp dir by default. */
  readonly stateDir?: string;
  /** Environment of the daemon process (e.g. libfaketime's). */
  readonly env?: NodeJS.ProcessEnv;
}

export function sshdDaemon(jailExtra = '', options: SshdDaemonOptions = {}): SshdDaemon {
  const { dir, cleanup } = tempDir();
  const ns = createNetns();
  const config = join(dir, 'etc');
  const authLog = join(dir, 'auth.log');
  const banLog = join(dir, 'f2b-store.log');
  const db = join(options.stateDir ?? dir, 'bans.sqlite3');
  mkdirSync(config);
  writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = nftables\nschedule = * * * * * *\n[daemon]\nlogfile = ${banLog}\n`);
  writeFileSync(join(config, 'jail.local'), JAIL(authLog, jailExtra));
  writeFileSync(authLog, '');
  const args = ['--db', db, '--config', config, '--netns', ns.name];
  const cli = (...rest: string[]): CliResult => runCli([...args, ...rest]);
  const json = <T>(...rest: string[]): T => {
    const result = cli('--json', ...rest);
    if (result.code !== 0) throw new Error(`f2b-store ${rest.join(' ')}: exit ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };
  const table = (): string => {
    try {
      return ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']);
    } catch {
      return '';
    }
  };
  const setup: SshdDaemon = {
    dir, config, authLog, banLog, db, ns, args, daemon: undefined, cli, table,
    // Whole words only: 203.0.113.7 must not match 203.0.113.70.
    inTable: (address, listing = table()) => new RegExp(`(^|[\\s{,])${address.replace(/[.:]/g, '\\$&')}([\\s},]|$)`, 'm').test(listing),
    // Read in this process, as `list` and `show` read the store: tests poll them.
    list: () => storeBansJson<BanJson>(db, (store, now) => store.active(now)),
    activeBans: (address) => storeBansJson<BanJson>(db, (store) => store.history(parseAddress(address).text)).filter((ban) => ban.liftedAt === null),
    status: () => json<StatusJson>('status'),
    sshd: () => {
      const jail = setup.status().jails.find((j) => j.name === 'sshd');
      if (!jail) throw new Error('no sshd jail in status');
      return jail;
    },
    async counts() {
      const live = await askDaemon(controlSocketFor(db), { command: 'status' }) as DaemonStatus | undefined;
      const jail = live?.jails.find((j) => j.name === 'sshd');
      if (!jail) throw new Error(`no sshd jail in the daemon's status: ${JSON.stringify(live)}`);
      return jail;
    },
    fail: (address, count = 1) => appendFileSync(authLog, sshdFailure(address).repeat(count)),
    async start() {
      const daemon = startDaemon(args, options.env);
      setup.daemon = daemon;
      // Room for start-up on a loaded 2-core machine (three daemons starting at once took > 15 s at load 20).
      await waitFor('the daemon following its log', () => {
        if (daemon.child.exitCode !== null) throw new Error(`the daemon exited (${daemon.child.exitCode}):\n${daemon.log()}`);
        return /watching \d+ log files/.test(daemon.log());
      }, 45_000);
      return daemon;
    },
    async stop() {
      const code = await setup.daemon?.stop();
      setup.daemon = undefined;
      return code ?? null;
    },
    async cleanup() {
      await setup.stop();
      ns.remove();
      cleanup();
    },
  };
  return setup;
}

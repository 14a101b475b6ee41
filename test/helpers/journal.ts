/**
 * Real systemd journals for tests, without systemd as PID 1:
 *
 * - journalFile(): a journal file holding entries with any fields (trusted ones like
 *   `_SYSTEMD_UNIT` included), written by systemd-journal-remote from journal export format; more
 *   entries can be appended while a reader follows the file.
 * - privateJournald(): a systemd-journald of its own in a private mount namespace (tmpfs over
 *   /run/systemd, /run/log/journal and /var/log/journal), with a machine id of its own; commands
 *   (systemd-cat, journalctl --rotate, the daemon) run inside that namespace through nsenter.
 *
 * Everything runs from argument vectors, never a shell. Needs systemd (journald, journalctl,
 * systemd-cat), systemd-journal-remote and util-linux (unshare, nsenter, setpriv).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { scaled } from './slowness.js';

export const JOURNAL_REMOTE = '/lib/systemd/systemd-journal-remote';
const JOURNALD = '/lib/systemd/systemd-journald';

/** One field value: text, or bytes (written in export format's binary form: any byte allowed). */
export type ExportValue = string | Uint8Array;

/**
 * An entry to write. Each key is a field (a value list writes the field several times);
 * `__REALTIME_TIMESTAMP` etc. are filled in when missing: `time` (epoch seconds, fractions kept
 * to the microsecond) gives the realtime.
 */
export interface ExportEntry {
  readonly time?: number;
  readonly fields: Readonly<Record<string, ExportValue | readonly ExportValue[]>>;
}

/** Fixed boot id of the entries written here (journal-remote needs one). */
export const TEST_BOOT_ID = '0123456789abcdef0123456789abcdef';

let monotonic = 1_000_000;

/** Journal export format: `FIELD=value` lines, or `FIELD\n<le64 length><bytes>\n` for values with a new line or bytes; a blank line after each entry. */
export function exportFormat(entries: readonly ExportEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const fields: Record<string, ExportValue | readonly ExportValue[]> = {
      __REALTIME_TIMESTAMP: String(Math.round((entry.time ?? Date.now() / 1000) * 1e6)),
      __MONOTONIC_TIMESTAMP: String(monotonic += 1000),
      _BOOT_ID: TEST_BOOT_ID,
      ...entry.fields,
    };
    for (const [field, value] of Object.entries(fields)) {
      for (const one of Array.isArray(value) ? value as readonly ExportValue[] : [value as ExportValue]) {
        if (typeof one === 'string' && !one.includes('\n')) {
          parts.push(Buffer.from(`${field}=${one}\n`));
          continue;
        }
        const bytes = Buffer.from(one);
        const size = Buffer.alloc(8);
        size.writeBigUInt64LE(BigInt(bytes.length));
        parts.push(Buffer.from(`${field}\n`), size, bytes, Buffer.from('\n'));
      }
    }
    parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** A journal file of the test's; `append` adds entries (a follower sees them), `remove` deletes its folder. */
export interface JournalFile {
  readonly dir: string;
  readonly path: string;
  append(entries: readonly ExportEntry[]): void;
  remove(): void;
}

/**
 * Writes `entries` into a new journal file `NAME.journal` in a fresh temporary folder. Past some
 * 40 MB (about 150,000 short entries) journal-remote archives the file beside it and starts a
 * new one: read the folder (`journalpath`) then, not the file.
 */
export function journalFile(entries: readonly ExportEntry[] = [], name = 'test'): JournalFile {
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-journal-'));
  const path = join(dir, `${name}.journal`);
  const append = (more: readonly ExportEntry[]): void => {
    const result = spawnSync(JOURNAL_REMOTE, [`--output=${path}`, '-'], { input: exportFormat(more), encoding: 'utf8' });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`systemd-journal-remote failed (${result.status}): ${result.stderr}`);
  };
  append(entries);
  return { dir, path, append, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A journald of its own in a private mount namespace. */
export interface PrivateJournald {
  /** The process holding the mount namespace. */
  readonly holder: number;
  /** The running journald's pid. */
  journald(): number;
  /** The machine id journald and journalctl see in the namespace. */
  machineId(): string;
  /** `command` as an argument vector that runs inside the namespace (in `cwd`, default /). */
  argv(command: readonly string[], cwd?: string): string[];
  /** Runs a command inside the namespace and waits for it. */
  run(command: readonly string[], input?: string | Buffer): RunResult;
  /** Starts a long-running command inside the namespace (the daemon), ended with this process; `options.cwd` is kept. */
  spawn(command: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Writes lines as `systemd-cat -t IDENTIFIER` does (journald adds _PID, _COMM, _SYSTEMD_UNIT, …). */
  log(identifier: string, lines: readonly string[]): void;
  /** Stops journald and starts it again, with another machine id when given. */
  restart(machineId?: string): Promise<void>;
  /** Stops journald and the namespace (its mounts go with it). */
  stop(): Promise<void>;
}

/** Ends a child we started and waits for it. */
async function end(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const killer = setTimeout(() => child.kill('SIGKILL'), scaled(5000));
  await exited;
  clearTimeout(killer);
}

export interface PrivateJournaldOptions {
  /**
   * journald.conf `[Journal]` settings (`RateLimitBurst: '0'`, `SystemMaxUse: '1G'`), written as a
   * drop-in in the namespace's own /run/systemd/journald.conf.d, so they hold over the host's
   * journald.conf and last across restart().
   */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * Starts a private journald. The mount points are made on the host when missing (an empty
 * /run/log/journal, which systemd makes at every boot anyway) and left there: another test's
 * namespace may be using them as mount points at the same time.
 */
export async function privateJournald(options: PrivateJournaldOptions = {}): Promise<PrivateJournald> {
  const temp = mkdtempSync(join(tmpdir(), 'f2bt-journald-'));
  for (const dir of ['/run/systemd', '/run/log/journal', '/var/log/journal']) mkdirSync(dir, { recursive: true });
  // setpriv --pdeathsig: the namespace and journald end with the test process, even when it is killed.
  const holderChild = spawn('unshare', ['-m', '--propagation', 'private', '--', 'setpriv', '--pdeathsig', 'KILL', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
  const holder = holderChild.pid;
  if (holder === undefined) throw new Error('unshare did not start');
  const argv = (command: readonly string[], cwd?: string): string[] =>
    ['nsenter', '-t', String(holder), '-m', ...(cwd === undefined ? [] : [`--wd=${cwd}`]), '--', ...command];
  const run = (command: readonly string[], input?: string | Buffer): RunResult => {
    const [file, ...args] = argv(command) as [string, ...string[]];
    const result = spawnSync(file, args, { input, encoding: 'utf8' });
    if (result.error) throw result.error;
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
  let journald: ChildProcess | undefined;
  let machineId = '';

  const startJournald = async (id: string): Promise<void> => {
    machineId = id;
    writeFileSync(join(temp, 'machine-id'), `${id}\n`);
    const [file, ...args] = argv(['setpriv', '--pdeathsig', 'KILL', '--', JOURNALD]) as [string, ...string[]];
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    journald = child;
    // /proc/PID/root shows the files as the process sees them, in its mount namespace.
    const socket = `/proc/${child.pid}/root/run/systemd/journal/stdout`;
    const deadline = Date.now() + scaled(15_000);
    while (!existsSync(socket)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`systemd-journald did not start: ${stderr}`);
      await sleep(20);
    }
  };

  const runChecked = (command: readonly string[]): void => {
    const result = run(command);
    if (result.code !== 0) throw new Error(`${command.join(' ')} failed (${result.code}): ${result.stderr}`);
  };
  try {
    // unshare makes the namespace, then becomes sleep: until then, the holder is in ours.
    const ours = readlinkSync('/proc/self/ns/mnt');
    const deadline = Date.now() + scaled(10_000);
    while (readlinkSync(`/proc/${holder}/ns/mnt`) === ours) {
      if (Date.now() > deadline) throw new Error('the mount namespace was not made');
      await sleep(20);
    }
    for (const dir of ['/run/systemd', '/run/log/journal', '/var/log/journal']) runChecked(['mount', '-t', 'tmpfs', 'tmpfs', dir]);
    writeFileSync(join(temp, 'machine-id'), '');
    runChecked(['mount', '--bind', join(temp, 'machine-id'), '/etc/machine-id']);
    const settings = Object.entries(options.settings ?? {});
    if (settings.length > 0) {
      // /proc/PID/root resolves paths in the holder's mount namespace: this is its tmpfs, not the host's /run/systemd.
      const dropIns = `/proc/${holder}/root/run/systemd/journald.conf.d`;
      mkdirSync(dropIns);
      writeFileSync(join(dropIns, 'zz-f2b-test.conf'), `[Journal]\n${settings.map(([key, value]) => `${key}=${value}\n`).join('')}`);
    }
    await startJournald(randomBytes(16).toString('hex'));
  } catch (error) {
    if (journald) await end(journald);
    await end(holderChild, 'SIGKILL');
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }

  return {
    holder,
    journald: () => journald?.pid ?? -1,
    machineId: () => machineId,
    argv,
    run,
    spawn: (command, options = {}) => {
      // nsenter starts the command in / of the namespace unless told the directory.
      const cwd = options.cwd === undefined ? undefined : String(options.cwd);
      const [file, ...args] = argv(['setpriv', '--pdeathsig', 'TERM', '--', ...command], cwd) as [string, ...string[]];
      return spawn(file, args, options);
    },
    log: (identifier, lines) => {
      const result = run(['systemd-cat', '-t', identifier], lines.map((l) => `${l}\n`).join(''));
      if (result.code !== 0) throw new Error(`systemd-cat failed (${result.code}): ${result.stderr}`);
    },
    restart: async (id) => {
      if (journald) await end(journald);
      await startJournald(id ?? machineId);
    },
    stop: async () => {
      if (journald) await end(journald);
      await end(holderChild, 'SIGKILL');
      rmSync(temp, { recursive: true, force: true });
    },
  };
}

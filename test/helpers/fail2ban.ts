import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Netns } from './netns.js';
import { scaled } from './slowness.js';

/**
 * The real fail2ban (Debian's fail2ban-server) in a sandbox: it runs under `ip netns exec` in a
 * namespace the test created, with a config dir, socket, pid file, log and database of its own in
 * a temp dir. The host's fail2ban, its config and its firewall are never used.
 */
export interface PrivateFail2ban {
  readonly dir: string;
  /** The config dir (`-c`): fail2ban.conf, jail.conf and the files the test gave. */
  readonly conf: string;
  /** fail2ban's SQLite database. */
  readonly db: string;
  /** Starts fail2ban-server and waits until every jail of `jails` answers `status`. */
  start(jails: readonly string[]): Promise<void>;
  /** `fail2ban-client stop`, then SIGTERM, then SIGKILL, by PID. Safe when not running. */
  stop(): Promise<void>;
  /** Runs `fail2ban-client ARGS` on the private socket, in the namespace; returns stdout, throws with the output. */
  client(args: readonly string[]): string;
  /** fail2ban's log and the server's output, for failure messages. */
  log(): string;
  /** Stops the server and removes the temp dir (the namespace stays the caller's). */
  remove(): Promise<void>;
}

const SERVER = '/usr/bin/fail2ban-server';
const CLIENT = '/usr/bin/fail2ban-client';
const START_TIMEOUT_MS = scaled(20_000);
const STOP_TIMEOUT_MS = scaled(15_000);

function alive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (!alive(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * A fail2ban sandbox in `ns`. `files` are written into the config dir (relative path → text), e.g.
 * `jail.local`, `filter.d/x.conf`, `action.d/x.conf`; a minimal fail2ban.conf and jail.conf point
 * everything at the temp dir.
 */
export function privateFail2ban(ns: Netns, files: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = {}): PrivateFail2ban {
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-fail2ban-'));
  const conf = join(dir, 'etc');
  const paths = { log: join(dir, 'fail2ban.log'), socket: join(dir, 'fail2ban.sock'), pid: join(dir, 'fail2ban.pid'), db: join(dir, 'fail2ban.sqlite3') };
  const output = join(dir, 'server.out');
  const config: Record<string, string> = {
    'fail2ban.conf': [
      '[Definition]',
      'loglevel = INFO',
      `logtarget = ${paths.log}`,
      `socket = ${paths.socket}`,
      `pidfile = ${paths.pid}`,
      `dbfile = ${paths.db}`,
      'dbpurgeage = 1d',
      'dbmaxmatches = 10',
      'syslogsocket = auto',
      'allowipv6 = auto',
      '[Thread]',
      '',
    ].join('\n'),
    'jail.conf': '[DEFAULT]\nbackend = polling\nusedns = no\nignoreself = false\n',
    ...files,
  };
  for (const [name, text] of Object.entries(config)) {
    mkdirSync(dirname(join(conf, name)), { recursive: true });
    writeFileSync(join(conf, name), text);
  }
  let server: ChildProcess | undefined;

  const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const log = (): string => `--- ${paths.log} ---\n${read(paths.log).trimEnd()}\n--- fail2ban-server output ---\n${read(output).trimEnd()}`;
  const client = (args: readonly string[]): string => {
    try {
      return ns.run([CLIENT, '-c', conf, '-s', paths.socket, ...args]);
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`fail2ban-client ${args.join(' ')}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: error });
    }
  };

  const stop = async (): Promise<void> => {
    const child = server;
    if (!child || !alive(child)) return;
    try {
      client(['stop']);
    } catch {
      // It may be gone already; the signals below make sure.
    }
    if (await exited(child, STOP_TIMEOUT_MS)) return;
    child.kill('SIGTERM');
    if (await exited(child, 5_000)) return;
    child.kill('SIGKILL');
    await exited(child, 5_000);
  };

  const start = async (jails: readonly string[]): Promise<void> => {
    if (alive(server)) throw new Error('fail2ban-server is already running');
    const fd = openSync(output, 'a');
    try {
      // -f: foreground, so the PID we hold is the server's; -x: take over a stale socket.
      server = spawn('ip', ['netns', 'exec', ns.name, SERVER, '-f', '-x', '-c', conf, '-s', paths.socket, '-p', paths.pid],
        { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    } finally {
      closeSync(fd);
    }
    const child = server;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last: string | undefined;
    // The global status lists the jails: `status JAIL` asked too early is an ERROR in fail2ban's log, which tests assert has none.
    for (;;) {
      if (!alive(child)) throw new Error(`fail2ban-server exited (${child.exitCode ?? child.signalCode})\n${log()}`);
      try {
        const listed = /Jail list:\s*(.*)$/m.exec(client(['status']))?.[1]?.split(/,\s*/) ?? [];
        if (jails.every((jail) => listed.includes(jail))) break;
        last = `jails running: ${listed.join(', ') || 'none'}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`fail2ban jails ${jails.join(', ')} not running after ${START_TIMEOUT_MS / 1000} s: ${last}\n${log()}`);
      }
      await sleep(200);
    }
  };

  return {
    dir,
    conf,
    db: paths.db,
    start,
    stop,
    client,
    log,
    async remove() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs python3 with fail2ban's modules on the path; `input` goes to stdin, stdout comes back. */
export function python(script: string, input = ''): string {
  return execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', input });
}

/** fail2ban's current bans (`bips`) as it stored them, read with Python's sqlite3, not with our code. */
export interface Fail2banBip {
  readonly ip: string;
  readonly jail: string;
  readonly timeofban: number;
  readonly bantime: number;
  readonly bancount: number;
}

export function fail2banBips(db: string): Fail2banBip[] {
  const script = [
    'import json, sqlite3, sys',
    'con = sqlite3.connect(sys.stdin.read())',
    'rows = con.execute("SELECT ip, jail, timeofban, bantime, bancount FROM bips ORDER BY jail, ip").fetchall()',
    'print(json.dumps([dict(zip(["ip", "jail", "timeofban", "bantime", "bancount"], r)) for r in rows]))',
  ].join('\n');
  return JSON.parse(python(script, db)) as Fail2banBip[];
}

/**
 * The anchor for "restore N bans into an empty firewall": how long fail2ban itself (Debian's
 * fail2ban 1.0.2, as installed) takes to put `count` saved bans back into its ipset after a start.
 *
 * Everything happens in a private sandbox:
 * - a network namespace `f2bt-<random>` of our own: fail2ban-server runs under `ip netns exec`, so
 *   every iptables/ipset command it runs lands in that namespace, never in the host's firewall;
 * - a temp dir holding a copy of /etc/fail2ban (with a jail.local and fail2ban.local of ours),
 *   the socket, pid file, log and the SQLite database — the system paths are never used.
 * The database is created by fail2ban's own python module (its real schema), then filled with
 * `count` active bans of the jail. The clock runs from spawning fail2ban-server until
 * `ipset list f2b-sshd` inside the namespace holds all of them. Cleanup (stop by PID, delete the
 * namespace, remove the temp dir) happens in `finally`, also on failure or Ctrl-C.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Fail2banRestoreResult {
  /** Bans saved in fail2ban's database before the start. */
  readonly count: number;
  /** Seconds from spawning fail2ban-server until the ipset held all of them (or until the timeout). */
  readonly seconds: number;
  /** Entries in the jail's ipset at that moment: `count` unless the timeout hit. */
  readonly restored: number;
  /** `fail2ban-server -V`, e.g. `1.0.2`. */
  readonly fail2banVersion: string;
}

export interface Fail2banRestoreOptions {
  /** Overall limit for the restore; default max(60 s, 90 ms per ban) — 15 min for 10,000. */
  readonly timeoutSeconds?: number;
  /** How often the ipset is read; default 500 ms. */
  readonly pollMs?: number;
  /** Called after each poll with the entries seen so far. */
  readonly onProgress?: (entries: number, seconds: number) => void;
  /** Called with one line per step (namespace name, temp dir, start, stop, cleanup). */
  readonly log?: (line: string) => void;
}

const FAIL2BAN_SERVER = '/usr/bin/fail2ban-server';
const FAIL2BAN_CLIENT = '/usr/bin/fail2ban-client';
const PYTHON = '/usr/bin/python3';
const SYSTEM_CONFIG = '/etc/fail2ban';
const JAIL = 'sshd';
/** fail2ban's iptables-ipset actions name the IPv4 set `f2b-<jail>` (`ipmset` in iptables-ipset.conf). */
const IPSET = `f2b-${JAIL}`;
const BANTIME = 86_400;
/** Debian ships the old name; both name the same ipset action (type=multiport). */
const BANACTIONS = ['iptables-ipset-proto6', 'iptables-ipset'] as const;

/**
 * Creates fail2ban's own schema through its python module (`Fail2BanDb` creates the tables on
 * first open), then inserts the bans in one transaction the way `Fail2BanDb.addBan` lays out a row
 * — into `bans` (the log) and `bips` (current ban per ip+jail) — with `data` passed as a dict so
 * fail2ban's registered sqlite3 adapter encodes it exactly as fail2ban does. Reads a JSON job on
 * stdin, prints a JSON summary.
 */
const PYTHON_FILL_DB = String.raw`
import json, sqlite3, sys
from fail2ban.server.database import Fail2BanDb
job = json.load(sys.stdin)
Fail2BanDb(job["db"]).close()
con = sqlite3.connect(job["db"])
con.execute("PRAGMA foreign_keys = ON")
jail, now, bantime = job["jail"], job["now"], job["bantime"]
def data(ip):
    matches = [job["line"] % (i, ip) for i in range(job["failures"])]
    return {"matches": matches, "failures": job["failures"]}
rows = [(jail, ip, now, bantime, 1, data(ip)) for ip in job["ips"]]
with con:
    con.execute("INSERT OR IGNORE INTO jails(name, enabled) VALUES(?, 1)", (jail,))
    con.executemany("INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data) VALUES(?, ?, ?, ?, ?, ?)", rows)
    con.executemany("INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES(?, ?, ?, ?, ?, ?)", [(r[1], r[0]) + r[2:] for r in rows])
version = con.execute("SELECT version FROM fail2banDb").fetchone()[0]
active = con.execute("SELECT count(*) FROM bips WHERE jail = ? AND timeofban + bantime > ?", (jail, now)).fetchone()[0]
con.close()
print(json.dumps({"version": version, "active": active}))
`;

interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** execFile without a shell; resolves with the exit code instead of throwing on a non-zero one. */
function run(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { encoding: 'utf8', timeout: options.timeoutMs ?? 30_000, maxBuffer: 1 << 26, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          // Could not start, or killed by the timeout.
          reject(new Error(`${file} ${args.join(' ')}: ${error.message}${stderr ? `: ${stderr.trim()}` : ''}`));
          return;
        }
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
    // A command that exits without reading its stdin must not take us down with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

async function mustRun(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')}: exit ${result.code}: ${(result.stderr || result.stdout).trim()}`);
  }
  return result.stdout;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` distinct addresses 10.0.0.1, 10.0.0.2, … — only set entries in the namespace, no traffic. */
export function restoreAddresses(count: number): string[] {
  const base = 0x0a_00_00_01;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = base + i;
    out.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  }
  return out;
}

function pickBanaction(): string {
  for (const name of BANACTIONS) {
    if (existsSync(join(SYSTEM_CONFIG, 'action.d', `${name}.conf`))) return name;
  }
  throw new Error(`none of ${BANACTIONS.map((n) => `${n}.conf`).join(', ')} in ${SYSTEM_CONFIG}/action.d`);
}

/**
 * A private copy of /etc/fail2ban: jail.d/ and fail2ban.d/ emptied and the host's top-level
 * `.local` overrides dropped, so exactly one jail runs with our paths.
 */
function writeConfig(paths: { conf: string; log: string; authLog: string; socket: string; pid: string; db: string }): void {
  cpSync(SYSTEM_CONFIG, paths.conf, { recursive: true, dereference: true });
  for (const sub of ['jail.d', 'fail2ban.d']) {
    const d = join(paths.conf, sub);
    if (existsSync(d)) for (const f of readdirSync(d)) rmSync(join(d, f), { recursive: true, force: true });
  }
  for (const f of readdirSync(paths.conf)) if (f.endsWith('.local')) rmSync(join(paths.conf, f), { force: true });
  for (const p of Object.values(paths)) {
    if (/[%\s;#]/.test(p)) throw new Error(`temp path unusable in a fail2ban config: ${p}`);
  }
  writeFileSync(
    join(paths.conf, 'fail2ban.local'),
    [
      '# written by bench/fail2ban-restore.ts: everything in the temp dir, nothing in /var/run or /var/lib',
      '[Definition]',
      'loglevel = INFO',
      `logtarget = ${paths.log}`,
      `socket = ${paths.socket}`,
      `pidfile = ${paths.pid}`,
      `dbfile = ${paths.db}`,
      'dbpurgeage = 1d',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(paths.conf, 'jail.local'),
    [
      '# written by bench/fail2ban-restore.ts: one jail, ipset action, empty private log',
      '[DEFAULT]',
      `banaction = ${pickBanaction()}`,
      `bantime = ${BANTIME}`,
      'backend = polling',
      '',
      `[${JAIL}]`,
      'enabled = true',
      'port = ssh',
      'backend = polling',
      `logpath = ${paths.authLog}`,
      '',
    ].join('\n'),
  );
  writeFileSync(paths.authLog, '');
}

async function fillDatabase(db: string, count: number, now: number): Promise<void> {
  const job = {
    db,
    jail: JAIL,
    now,
    bantime: BANTIME,
    failures: 5,
    line: 'Nov 23 09:%02d:00 vm sshd[4242]: Failed password for invalid user admin from %s port 50022 ssh2',
    ips: restoreAddresses(count),
  };
  const out = await mustRun(PYTHON, ['-c', PYTHON_FILL_DB], { input: JSON.stringify(job), timeoutMs: 300_000 });
  const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { version?: number; active?: number };
  if (summary.active !== count) throw new Error(`fail2ban database holds ${summary.active} active bans, expected ${count}`);
}

/** Entries in the jail's ipset inside the namespace; 0 while the set does not exist yet. */
async function ipsetEntries(ns: string): Promise<number> {
  const r = await run('ip', ['netns', 'exec', ns, 'ipset', 'list', '-t', IPSET], { timeoutMs: 20_000 });
  if (r.code !== 0) return 0;
  const m = /^Number of entries:\s*(\d+)/m.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Server {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitCode: number | null | undefined;
}

async function waitExit(server: Server, ms: number): Promise<boolean> {
  if (server.exitCode !== undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([server.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** fail2ban-client stop over the private socket, then SIGTERM, then SIGKILL — by PID only. */
async function stopServer(server: Server, ns: string, conf: string, socket: string, log: (line: string) => void): Promise<void> {
  if (server.exitCode !== undefined) return;
  const pid = server.child.pid;
  try {
    const r = await run('ip', ['netns', 'exec', ns, FAIL2BAN_CLIENT, '-c', conf, '-s', socket, 'stop'], { timeoutMs: 60_000 });
    log(`fail2ban-client stop: exit ${r.code} ${(r.stdout + r.stderr).trim()}`);
  } catch (error) {
    log(`fail2ban-client stop failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (await waitExit(server, 30_000)) return;
  log(`fail2ban-server PID ${pid} still running: SIGTERM`);
  server.child.kill('SIGTERM');
  if (await waitExit(server, 10_000)) return;
  log(`fail2ban-server PID ${pid} still running: SIGKILL`);
  server.child.kill('SIGKILL');
  await waitExit(server, 5_000);
}

/** Kills, by PID, whatever still runs inside our own namespace (only we started anything there). */
async function killNamespacePids(ns: string): Promise<void> {
  const r = await run('ip', ['netns', 'pids', ns], { timeoutMs: 10_000 }).catch(() => undefined);
  for (const pid of (r?.stdout ?? '').split(/\s+/).filter(Boolean).map(Number)) {
    if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export async function measureFail2banRestore(count: number, options: Fail2banRestoreOptions = {}): Promise<Fail2banRestoreResult> {
  if (!Number.isInteger(count) || count < 1 || count > 0xff_ff_fe) throw new Error(`count must be an integer 1..16777214, got ${count}`);
  const timeoutMs = (options.timeoutSeconds ?? Math.max(60, count * 0.09)) * 1000;
  const pollMs = options.pollMs ?? 500;
  const log = options.log ?? ((): void => undefined);
  const fail2banVersion = (await mustRun(FAIL2BAN_SERVER, ['-V'])).trim();

  const dir = mkdtempSync(join(tmpdir(), 'f2b-restore-'));
  const paths = {
    conf: join(dir, 'etc'),
    log: join(dir, 'fail2ban.log'),
    authLog: join(dir, 'auth.log'),
    socket: join(dir, 'fail2ban.sock'),
    pid: join(dir, 'fail2ban.pid'),
    db: join(dir, 'fail2ban.sqlite3'),
  };
  const stdoutFile = join(dir, 'server.out');
  let ns: string | undefined;
  let server: Server | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkInterrupted = (): void => {
    if (interrupted) throw new Error(`interrupted by ${interrupted}`);
  };

  try {
    log(`temp dir ${dir}`);
    writeConfig(paths);
    const fillStart = performance.now();
    await fillDatabase(paths.db, count, Math.floor(Date.now() / 1000));
    log(`fail2ban database with ${count} active bans written in ${((performance.now() - fillStart) / 1000).toFixed(2)} s`);
    checkInterrupted();

    const name = `f2bt-${randomBytes(4).toString('hex')}`;
    await mustRun('ip', ['netns', 'add', name]);
    ns = name;
    log(`namespace ${ns}`);
    await mustRun('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    if ((await ipsetEntries(ns)) !== 0) throw new Error(`ipset ${IPSET} already exists in the new namespace ${ns}`);

    // `-f`: foreground (no fork, so the PID we hold is the server); `-x`: take over a stale socket.
    const out = openSync(stdoutFile, 'w');
    const started = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(
        'ip',
        ['netns', 'exec', ns, FAIL2BAN_SERVER, '-f', '-x', '-c', paths.conf, '-s', paths.socket, '-p', paths.pid, '--logtarget', paths.log, '--loglevel', 'INFO'],
        { stdio: ['ignore', out, out] },
      );
    } finally {
      closeSync(out);
    }
    const s: Server = {
      child,
      exitCode: undefined,
      exited: new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          s.exitCode = code ?? (signal ? -1 : null);
          resolve();
        });
        child.once('error', () => {
          s.exitCode = -1;
          resolve();
        });
      }),
    };
    server = s;
    const failure = (why: string): Error =>
      new Error(`fail2ban-server ${why}\n--- ${paths.log} ---\n${tail(paths.log)}\n--- stdout/stderr ---\n${tail(stdoutFile)}`);

    // Guard: the process we hold must really be inside our namespace (ip netns exec does setns, then exec).
    const identifyUntil = performance.now() + 10_000;
    for (;;) {
      if (s.exitCode !== undefined) throw failure(`exited (${s.exitCode}) before it started`);
      const id = await run('ip', ['netns', 'identify', String(child.pid)], { timeoutMs: 5_000 });
      if (id.stdout.trim() === ns) {
        log(`fail2ban-server PID ${child.pid} runs in namespace ${ns}`);
        break;
      }
      if (performance.now() > identifyUntil) throw failure(`PID ${child.pid} is not in namespace ${ns}`);
      await sleep(50);
    }

    let entries = 0;
    let seconds = 0;
    for (;;) {
      checkInterrupted();
      const before = entries;
      entries = await ipsetEntries(ns);
      seconds = (performance.now() - started) / 1000;
      if (before === 0 && entries > 0) log(`first bans in the ipset ${seconds.toFixed(2)} s after start (${entries} entries)`);
      options.onProgress?.(entries, seconds);
      if (entries >= count) break;
      if (s.exitCode !== undefined) throw failure(`exited (${s.exitCode}) after ${seconds.toFixed(1)} s with ${entries} of ${count} restored`);
      if (seconds * 1000 >= timeoutMs) break; // report what was reached
      await sleep(pollMs);
    }
    return { count, seconds, restored: entries, fail2banVersion };
  } finally {
    try {
      const stopStart = performance.now();
      if (server && ns) {
        await stopServer(server, ns, paths.conf, paths.socket, log);
        log(`fail2ban-server stopped (exit ${server.exitCode}) in ${((performance.now() - stopStart) / 1000).toFixed(2)} s`);
      }
      if (ns) {
        await killNamespacePids(ns);
        const r = await run('ip', ['netns', 'delete', ns]).catch((error: unknown) => ({ code: -1, stdout: '', stderr: String(error) }));
        log(r.code === 0 ? `namespace ${ns} deleted` : `could not delete namespace ${ns}: ${r.stderr.trim()}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      log(`temp dir ${dir} removed`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

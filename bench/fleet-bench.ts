/**
 * Fleet benchmark: one throw-away PostgreSQL 15 cluster (test/helpers/postgres.ts: initdb into a
 * temp dir as `postgres`, a unix socket only) and five real built daemons (`f2b-store start`),
 * each with its own SQLite store and its own network namespace `f2bt-<random>` with nftables
 * (deleted afterwards), all in one fleet. Measured:
 * 1. 100,000 bans made across the five hosts at once (`import list` of 20,000 on each) → time
 *    until every host's nftables holds all 100,000 (elements counted in each namespace);
 * 2. single bans (`ban ADDR`) on rotating hosts, one at a time → time from the CLI's return until
 *    the element is in every other host's nftables (`nft get element`, polled);
 * 3. PostgreSQL's CPU (the postmaster and its backends, from /proc) and the rows in events;
 * 4. a sixth host joining the fleet of 100,000 active bans → time until its nftables holds them all.
 * Env: F2B_BENCH_FLEET_BANS=N (default 100,000), F2B_BENCH_FLEET_SINGLE=N (default 200).
 */
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { createNetns, type Netns } from '../test/helpers/netns.js';
import { createPostgres, type PostgresCluster } from '../test/helpers/postgres.js';
import { BIN, runNode } from './cli.js';
import { cpuSeconds, startDaemon, writeDaemonConfig, type Daemon, type DaemonFiles } from './daemon-process.js';
import { firewallEntries } from './firewall-bench.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import { summarize, type Samples } from './stats.js';
import type { Row } from './table.js';

const run = promisify(execFile);

const HOSTS = 5;
const SCHEMA = 'fleet';
const TARGET_MS = 2000;
/** How often the stores, then the firewalls, are counted while bans spread. */
const COUNT_MS = 250;
const WAIT_MS = 600_000;
/** A single ban not everywhere after this long fails the run (a host's daemon stalled). */
const SINGLE_WAIT_MS = 120_000;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const sec = (s: number): string => `${s.toFixed(2)} s`;
const ms = (v: number): string => `${v.toFixed(0)} ms`;

/** The n-th address of 198.18.0.0/15, the benchmarking range (131,072 addresses). */
function address(n: number): string {
  const value = 0xc612_0000 + n;
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

interface Host {
  readonly node: string;
  readonly ns: Netns;
  readonly files: DaemonFiles;
  readonly daemon: Daemon;
  /** When the daemon's line saying it loaded the fleet's active bans came (performance.now()), if it did. */
  readonly joined: () => number | undefined;
  activeBans(): number;
  close(): Promise<void>;
}

function cliArgs(host: Pick<Host, 'ns' | 'files'>, args: readonly string[]): string[] {
  return [BIN, '--db', host.files.db, '--config', host.files.config, '--netns', host.ns.name, ...args];
}

/** A daemon of the fleet on its own store and namespace; resolves once it follows the fleet. */
async function startHost(dir: string, node: string, cluster: PostgresCluster): Promise<Host> {
  const home = join(dir, node);
  mkdirSync(home);
  const authLog = join(home, 'auth.log');
  writeFileSync(authLog, '');
  const files = writeDaemonConfig(home, `logpath = ${authLog}`, 'nftables');
  appendFileSync(join(files.config, 'f2b-store.conf'), `[fleet]\nurl = ${cluster.url()}\nnode = ${node}\nschema = ${SCHEMA}\n`);
  const ns = createNetns();
  let joined: number | undefined;
  let connected: () => void = () => undefined;
  const following = new Promise<void>((resolve) => { connected = resolve; });
  const daemon = startDaemon(files, undefined, {
    options: ['--netns', ns.name],
    onLine: (line) => {
      if (/ fleet: connected to /.test(line)) connected();
      else if (/ fleet: took in \d+ events? \(the fleet's active bans, joining\)/.test(line)) joined = performance.now();
    },
  });
  let db: Database.Database | undefined;
  const close = async (): Promise<void> => {
    db?.close();
    const code = await daemon.stop();
    ns.remove();
    if (code !== 0) console.error(`fleet bench: ${node}'s daemon exited ${code}: ${daemon.tail()}`);
  };
  try {
    await daemon.watching;
    await Promise.race([following, sleep(60_000).then(() => { throw new Error(`${node} did not connect to the fleet: ${daemon.tail()}`); })]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    node, ns, files, daemon, joined: () => joined, close,
    activeBans: () => {
      db ??= new Database(files.db, { readonly: true, fileMustExist: true });
      return db.prepare<[], number>('SELECT count(*) FROM bans WHERE lifted_at IS NULL').pluck().get()!;
    },
  };
}

/** user + sys CPU seconds of process `pid` and of the children it reaped (cutime + cstime: a daemon's nft calls). */
function cpuWithChildren(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100 + cpuSeconds(pid);
}

/** user + sys CPU seconds of the cluster: the postmaster with what it reaped, and its live backends. */
function postgresCpu(cluster: PostgresCluster): number {
  const pid = cluster.pid();
  let total = cpuWithChildren(pid);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) {
      try {
        total += cpuSeconds(Number(child));
      } catch {
        // Exited since the list was read: its time is in the postmaster's cutime from now on.
      }
    }
  }
  return total;
}

interface Spread {
  /** Per host: ms from the start until its store, then its nftables, held every ban. */
  readonly store: number[];
  readonly firewall: number[];
}

/** Waits until every host's store, then its nftables, holds `bans` bans; the times are from `start`. */
async function spread(hosts: readonly Host[], bans: number, start: number): Promise<Spread> {
  const store: (number | undefined)[] = hosts.map(() => undefined);
  const firewall: (number | undefined)[] = hosts.map(() => undefined);
  while (firewall.some((t) => t === undefined)) {
    if (performance.now() - start > WAIT_MS) {
      throw new Error(`after ${WAIT_MS / 1000} s: ${hosts.map((h, i) => `${h.node} store ${int(h.activeBans())}${firewall[i] ? ', firewall done' : ''}`).join('; ')}`);
    }
    hosts.forEach((host, i) => {
      if (firewall[i] !== undefined) return;
      if (store[i] === undefined && host.activeBans() >= bans) store[i] = performance.now() - start;
      // Counting 100,000 elements costs nft about a second of CPU: only once the store has them all.
      if (store[i] !== undefined && firewallEntries(host.ns, 'nftables') >= bans) firewall[i] = performance.now() - start;
    });
    await sleep(COUNT_MS);
  }
  return { store: store as number[], firewall: firewall as number[] };
}

/**
 * `nft monitor new elements` in a host's namespace: when each element was added to its nftables,
 * told by the kernel as it happens (one line per element), so nothing polls while bans spread.
 */
interface ElementWatch {
  /** Resolves with performance.now() of the moment `addr` was added. */
  added(addr: string): Promise<number>;
  stop(): void;
}

function watchElements(host: Host): ElementWatch {
  const child = spawn('ip', ['netns', 'exec', host.ns.name, 'nft', 'monitor', 'new', 'elements'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const seen = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const element = /^add element inet f2b-store \S+ \{ (\S+)/.exec(line)?.[1];
    if (element === undefined) return;
    const at = performance.now();
    seen.set(element, at);
    waiting.get(element)?.(at);
    waiting.delete(element);
  });
  return {
    added: (addr) => {
      const at = seen.get(addr);
      return at === undefined ? new Promise((resolve) => waiting.set(addr, resolve)) : Promise.resolve(at);
    },
    stop: () => child.kill(),
  };
}

interface Figures {
  readonly bans: number;
  readonly burst: Spread & { readonly imports: number[]; readonly pgCpu: number; readonly daemonCpu: number[] };
  readonly single: { readonly everywhere: Samples; readonly p99: number; readonly each: Samples; readonly pgCpu: number; readonly seconds: number };
  readonly join: { readonly snapshot: number; readonly store: number; readonly firewall: number; readonly pgCpu: number; readonly daemonCpu: number; readonly bans: number };
  readonly events: number;
  readonly eventsBytes: number;
  readonly pgCpu: number;
  readonly seconds: number;
}

async function measure(dir: string, cluster: PostgresCluster, bans: number, single: number, hosts: Host[]): Promise<Figures> {
  const started = performance.now();
  const pgAtStart = postgresCpu(cluster);
  for (let i = 0; i < HOSTS; i++) hosts.push(await startHost(dir, `host${i + 1}`, cluster));

  console.error(`fleet bench: ${int(bans)} bans across ${HOSTS} hosts…`);
  const per = Math.ceil(bans / HOSTS);
  const lists = hosts.map((host, i) => {
    const file = join(dir, `${host.node}.list`);
    const addresses = Array.from({ length: Math.min(per, bans - i * per) }, (_, k) => address(i * per + k));
    writeFileSync(file, `${addresses.join('\n')}\n`);
    return file;
  });
  const pgBefore = postgresCpu(cluster);
  const daemonBefore = hosts.map((host) => cpuWithChildren(host.daemon.pid));
  const start = performance.now();
  const imports = await Promise.all(hosts.map(async (host, i) => {
    await run(process.execPath, cliArgs(host, ['import', 'list', lists[i]!, '--for', '1d']));
    return performance.now() - start;
  }));
  const burstSpread = await spread(hosts, bans, start);
  const burst = {
    ...burstSpread, imports, pgCpu: postgresCpu(cluster) - pgBefore,
    daemonCpu: hosts.map((host, i) => cpuWithChildren(host.daemon.pid) - daemonBefore[i]!),
  };

  console.error(`fleet bench: ${single} single bans, one at a time…`);
  const pgSingle = postgresCpu(cluster);
  const singleStart = performance.now();
  const everywhere: number[] = [];
  const each: number[] = [];
  const watches = hosts.map(watchElements);
  try {
    // The monitors are listening before the first ban.
    await sleep(1000);
    for (let n = 0; n < single; n++) {
      const origin = n % HOSTS;
      const addr = address(bans + n);
      runNode(cliArgs(hosts[origin]!, ['ban', addr, '--for', '1d']));
      const returned = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${addr}, banned on ${hosts[origin]!.node}, not in every other host's nftables after `
          + `${SINGLE_WAIT_MS / 1000} s: ${hosts.map((host) => `${host.node}: ${host.daemon.tail().split('\n').slice(-3).join(' | ')}`).join('; ')}`)), SINGLE_WAIT_MS);
      });
      const times = await Promise.race([late, Promise.all(watches.filter((_, i) => i !== origin).map(async (watch) => (await watch.added(addr)) - returned))]);
      clearTimeout(timer);
      each.push(...times);
      everywhere.push(Math.max(...times));
    }
  } finally {
    for (const watch of watches) watch.stop();
  }
  const singles = {
    everywhere: summarize(everywhere), p99: [...everywhere].sort((a, b) => a - b)[Math.ceil(0.99 * everywhere.length) - 1]!, each: summarize(each), pgCpu: postgresCpu(cluster) - pgSingle, seconds: (performance.now() - singleStart) / 1000,
  };

  const total = bans + single;
  console.error(`fleet bench: a host joining a fleet of ${int(total)} active bans…`);
  const pgJoin = postgresCpu(cluster);
  const joinStart = performance.now();
  const joiner = await startHost(dir, `host${HOSTS + 1}`, cluster);
  hosts.push(joiner);
  const joined = await spread([joiner], total, joinStart);
  const joining = {
    snapshot: (joiner.joined() ?? Number.NaN) - joinStart, store: joined.store[0]!, firewall: joined.firewall[0]!,
    pgCpu: postgresCpu(cluster) - pgJoin, daemonCpu: cpuWithChildren(joiner.daemon.pid), bans: total,
  };

  const [events, eventsBytes] = cluster.psql(`SELECT count(*), pg_total_relation_size('${SCHEMA}.events') FROM ${SCHEMA}.events`).trim().split('|').map(Number);
  return {
    bans, burst, single: singles, join: joining, events: events!, eventsBytes: eventsBytes!,
    pgCpu: postgresCpu(cluster) - pgAtStart, seconds: (performance.now() - started) / 1000,
  };
}

function rows(f: Figures): Row[] {
  const last = (values: readonly number[]): number => Math.max(...values);
  const met = (value: number): string => (value <= TARGET_MS ? 'met' : 'NOT met');
  return [
    [`${int(f.bans)} bans made across ${HOSTS} hosts at once (\`import list\` of ${int(f.bans / HOSTS)} on each)`,
      `every host's nftables holds all ${int(f.bans)} after ${sec(last(f.burst.firewall) / 1000)} (stores: ${sec(last(f.burst.store) / 1000)}; `
      + `imports returned after ${sec(Math.min(...f.burst.imports) / 1000)}–${sec(last(f.burst.imports) / 1000)}); per host, firewall: `
      + `${f.burst.firewall.map((t) => sec(t / 1000)).join(', ')}`, '', ''],
    ['… CPU for it', `PostgreSQL ${sec(f.burst.pgCpu)}; each daemon ${f.burst.daemonCpu.map((s) => sec(s)).join(', ')}`, '', ''],
    [`single bans, one at a time on rotating hosts (${f.single.everywhere.runs}): CLI's return → in every other host's nftables`,
      `p50 ${ms(f.single.everywhere.median)}, p90 ${ms(f.single.everywhere.p90)}, p99 ${ms(f.single.p99)}, max ${ms(f.single.everywhere.max)}`,
      `p99 ≤ ${TARGET_MS / 1000} s`, met(f.single.p99)],
    ['… per host (each of the 4 others)', `p50 ${ms(f.single.each.median)}, p90 ${ms(f.single.each.p90)}, max ${ms(f.single.each.max)}`, '', ''],
    ['… PostgreSQL CPU for them', `${sec(f.single.pgCpu)} over ${sec(f.single.seconds)}`, '', ''],
    [`a 6th host joins a fleet of ${int(f.join.bans)} active bans`,
      `its nftables holds them all ${sec(f.join.firewall / 1000)} after its daemon was started (snapshot taken in: ${sec(f.join.snapshot / 1000)}; `
      + `store: ${sec(f.join.store / 1000)}); its CPU ${sec(f.join.daemonCpu)}, PostgreSQL's ${sec(f.join.pgCpu)}`, '', ''],
    ['PostgreSQL over the whole run', `CPU ${sec(f.pgCpu)} over ${sec(f.seconds)}; events table: ${int(f.events)} rows, `
      + `${(f.eventsBytes / 2 ** 20).toFixed(0)} MiB with its indexes`, '', ''],
  ];
}

export async function runFleetBench(): Promise<void> {
  const bans = Number(process.env['F2B_BENCH_FLEET_BANS'] ?? 100_000);
  const single = Number(process.env['F2B_BENCH_FLEET_SINGLE'] ?? 200);
  if (!(Number.isInteger(bans) && bans >= HOSTS && bans <= 130_000)) throw new Error(`F2B_BENCH_FLEET_BANS: not a whole number from ${HOSTS} to 130,000: ${bans}`);
  if (!(Number.isInteger(single) && single >= 1 && single <= 1000)) throw new Error(`F2B_BENCH_FLEET_SINGLE: not a whole number from 1 to 1,000: ${single}`);
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-fleet-'));
  const cluster = createPostgres();
  const hosts: Host[] = [];
  let figures: Figures;
  try {
    figures = await measure(dir, cluster, bans, single, hosts);
  } finally {
    await Promise.all(hosts.map((host) => host.close()));
    cluster.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  const remarks = [
    `${HOSTS} real daemons (\`f2b-store --netns NS start\`, \`backends = nftables\`, one sshd jail on an empty log), each with its own SQLite `
      + 'store and network namespace, `[fleet]` on one throw-away PostgreSQL 15 cluster (initdb in a temp dir, unix socket, fsync off, '
      + 'every daemon connecting as the superuser), all on this one machine: the five daemons, PostgreSQL, the CLI calls and the probes '
      + `share its ${machine.cores} cores.`,
    `Spreading: the stores are counted (read-only) every ${COUNT_MS} ms, and once a store holds every ban, its nftables (\`nft -j list table\`, `
      + 'elements counted) on each round after: a count of 100,000 elements costs nft about a second, so the firewall times are late by up to that.',
    `Single bans: \`f2b-store ban ADDR --for 1d\` (jail manual) on host 1, 2, … in turn, the next one only after the last was everywhere; from `
      + 'the CLI\'s return until `nft monitor new elements`, running in each other host\'s namespace, prints the element\'s addition (the kernel tells '
      + 'it as it commits; nothing polls). The latency of a ban is its slowest host\'s.',
    `Joining: from spawning the sixth daemon (a new store) until its nftables holds every active ban of the fleet; "snapshot taken in" is its log line `
      + 'saying it took in the fleet\'s active bans.',
    'CPU: user+sys from /proc, 10 ms ticks; PostgreSQL\'s is the postmaster\'s, its live backends\' and its reaped children\'s (cutime+cstime); '
      + 'a daemon\'s includes the nft calls it made (cutime+cstime).',
    `1-minute load average at start / end: ${loadAtStart.toFixed(2)} / ${loadavg()[0]!.toFixed(2)}${loadAtStart > 1 ? ': other work was running, times are inflated' : ''}.`,
  ];
  report('fleet', `Fleet benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt }, ['what', 'result', 'target', 'status'], rows(figures), remarks);
}

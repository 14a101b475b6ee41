/**
 * Daemon benchmark: the real built daemon (`f2b-store start`) follows a temp auth.log with an
 * sshd jail (maxretry 3, findtime 1h, bantime 1h, `backends = none`) while this process appends
 * 1,000,000 sshd-format lines dated now: 30% failures from 50,000 distinct attackers
 * (198.18.0.0/15 and 2001:db8::/32), 70% noise. Measured: the writer's rate, the daemon's backlog
 * while writing, its lag behind the last write (its log position in the database reaching the
 * file size, read read-only every POLL_MS), the bans in the store against the addresses written
 * with ≥ maxretry failures (they must be the same set, else the run fails), its CPU for the run,
 * its peak RSS (VmHWM) and its CPU over IDLE_SECONDS without writes.
 * Env: F2B_BENCH_DAEMON_LINES=N changes the log length (attackers scale with it);
 * F2B_BENCH_DAEMON_RATE=N writes N lines/s instead of as fast as the disk allows;
 * F2B_BENCH_DAEMON_PROF=DIR runs the daemon with `node --cpu-prof` writing its profile into DIR.
 * bench/cpu-timeline.ts shows such a profile over time.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  cpuSeconds, driftSchedule, IDLE_SECONDS, IDLE_TARGET_PERCENT, idleCpuShares, loadRemark, memory, POLL_MS, STALL_MS, startDaemon, stopAndCheckBanLines, threadCpuSeconds, threadShares,
  openProgress, unitNodeOptions, writeDaemonConfig, type Daemon, type DaemonProgress,
} from './daemon-process.js';
import { networkOf, parseAddress } from '../src/core/index.js';
import { describeMachine } from './machine.js';
import { report } from './results.js';
import { summarize } from './stats.js';
import { BATCH_LINES, checkBans, MAXRETRY, sshdBatches, sshdWorkload, WORKLOAD_REMARK, type Workload } from './sshd-workload.js';
import type { Row } from './table.js';

/** Issue 14's targets for the burst read as fast as the disk allows: the daemon at filter speed, in bounded memory. */
const THROUGHPUT_TARGET = 250_000;
const PEAK_TARGET_MIB = 200;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Local time, as sshd's syslog lines carry it (the filter reads them as local time). */
function syslogDate(at: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[at.getMonth()]} ${String(at.getDate()).padStart(2, ' ')} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** The workload as auth.log bytes, a batch at a time, each dated when it is produced. */
function* logBatches(w: Workload, failuresOf: Uint32Array): Generator<Buffer> {
  for (const batch of sshdBatches(w, failuresOf)) {
    const date = syslogDate(new Date());
    yield Buffer.from(batch.map(({ pid, message }) => `${date} web1 sshd[${pid}]: ${message}\n`).join(''));
  }
}

export interface Figures {
  readonly bytes: number;
  readonly writeSeconds: number;
  readonly writerRate: number;
  readonly maxBacklogBytes: number;
  readonly lagSeconds: number;
  readonly totalSeconds: number;
  readonly bans: number;
  readonly runCpu: number;
  readonly threads: { readonly main: number; readonly worker: number; readonly rest: number };
  readonly startRss: number;
  readonly peakRss: number;
  readonly endRss: number;
  /** CPU share over each IDLE_SECONDS of the first two right after the burst (V8 shrinks the heap in them). */
  readonly afterBurstCpu: readonly number[];
  /** CPU share over the IDLE_SECONDS after those: the daemon at rest. */
  readonly idleCpu: number;
  /** CPU share over the IDLE_SECONDS after that, while another file in the log's directory is written (BUSY_DIR_*). */
  readonly busyDirCpu: number;
  readonly started: string;
}

/**
 * Appends the workload in batches while sampling the daemon's position, then waits until it has
 * read the whole file. Returns the writer's figures and when the daemon was done.
 */
async function appendAndFollow(path: string, w: Workload, failuresOf: Uint32Array, rate: number, progress: DaemonProgress, daemon: Daemon) {
  // As fast as the disk allows, the batches are made (and dated) before the clock starts: only their writes share the
  // cores with the daemon (making them costs 0.5 to 1 s of CPU). Paced, each is made when it is written.
  const batches = rate > 0 ? logBatches(w, failuresOf) : [...logBatches(w, failuresOf)];
  const file = await open(path, 'a');
  let bytes = 0;
  let maxBacklogBytes = 0;
  const sample = (): number => {
    const offset = progress.offset(path);
    maxBacklogBytes = Math.max(maxBacklogBytes, bytes - offset);
    return offset;
  };
  let writing = true;
  const sampler = (async () => {
    while (writing) {
      sample();
      await sleep(POLL_MS);
    }
  })();
  const start = performance.now();
  let lastWrite = start;
  let written = 0;
  try {
    for (const buffer of batches) {
      await file.write(buffer);
      lastWrite = performance.now();
      bytes += buffer.length;
      written += BATCH_LINES;
      const ahead = rate > 0 ? start + (1000 * written) / rate - performance.now() : 0;
      if (ahead > 0) await sleep(ahead);
    }
  } finally {
    await file.close();
    writing = false;
    await sampler;
  }
  let moved = lastWrite;
  let seen = -1;
  for (;;) {
    const offset = sample();
    const now = performance.now();
    if (offset === bytes) return { bytes, start, lastWrite, done: now, maxBacklogBytes };
    if (offset !== seen) [seen, moved] = [offset, now];
    if (daemon.exited()) throw new Error(`the daemon exited while reading the log: ${daemon.tail()}`);
    if (now - moved > STALL_MS) throw new Error(`the daemon stopped at byte ${int(offset)} of ${int(bytes)} for ${STALL_MS / 1000} s: ${daemon.tail()}`);
    await sleep(POLL_MS);
  }
}

/** The IPv6 prefix length the jail counts and bans by; 128: each address alone. */
const IPV6_PREFIX = 64;
const PREFIX_PAIRS = 5;

/** The log's directory holds this many other files, as /var/log does, and one of them is written this often while the daemon idles. */
const BUSY_DIR_FILES = 200;
const BUSY_DIR_WRITE_MS = 50;
const otherLog = (dir: string, i: number): string => join(dir, `other-${i}.log`);

/** The daemon's CPU share over IDLE_SECONDS while `other` (a file beside its log, not its own) gets a line every BUSY_DIR_WRITE_MS. */
async function busyDirCpuShare(pid: number, other: string): Promise<number> {
  const writer = setInterval(() => appendFileSync(other, 'Dec  5 01:02:03 host CRON[1]: (root) CMD (true)\n'), BUSY_DIR_WRITE_MS);
  try {
    return (await idleCpuShares([pid]))[0]!;
  } finally {
    clearInterval(writer);
  }
}

async function measure(dir: string, w: Workload, rate: number, ipv6prefix: number, idle: boolean): Promise<Figures> {
  const authLog = join(dir, 'auth.log');
  writeFileSync(authLog, '');
  for (let i = 0; i < BUSY_DIR_FILES; i++) writeFileSync(otherLog(dir, i), '');
  const files = writeDaemonConfig(dir, `logpath = ${authLog}\nipv6prefix = ${ipv6prefix}`);
  const daemon = startDaemon(files);
  let progress: DaemonProgress | undefined;
  try {
    await daemon.watching;
    progress = openProgress(files.db);
    const startRss = memory(daemon.pid, 'VmRSS');
    const cpuBefore = cpuSeconds(daemon.pid);
    const threadsBefore = threadCpuSeconds(daemon.pid);
    const failuresOf = new Uint32Array(w.attackers);
    console.error(`daemon bench: appending ${int(w.lines)} lines ${rate > 0 ? `at ${int(rate)} lines/s` : 'as fast as the disk allows'}…`);
    const run = await appendAndFollow(authLog, w, failuresOf, rate, progress, daemon);
    const runCpu = cpuSeconds(daemon.pid) - cpuBefore;
    const threads = threadShares(daemon.pid, threadsBefore);
    const bans = checkBans(progress.bannedAddresses(), failuresOf, (address) => networkOf(parseAddress(address), ipv6prefix).text);
    console.error(`daemon bench: ${int(bans)} bans, as expected${idle ? `; three times ${IDLE_SECONDS} s idle…` : ''}`);
    const afterBurstCpu = idle ? [(await idleCpuShares([daemon.pid]))[0]!, (await idleCpuShares([daemon.pid]))[0]!] : [];
    const [idleCpu] = idle ? await idleCpuShares([daemon.pid]) : [Number.NaN];
    const busyDirCpu = idle ? await busyDirCpuShare(daemon.pid, otherLog(dir, 7)) : Number.NaN;
    const peakRss = memory(daemon.pid, 'VmHWM');
    const endRss = memory(daemon.pid, 'VmRSS');
    await stopAndCheckBanLines(daemon, files, bans);
    return {
      bytes: run.bytes,
      writeSeconds: (run.lastWrite - run.start) / 1000,
      writerRate: (w.lines * 1000) / (run.lastWrite - run.start),
      maxBacklogBytes: run.maxBacklogBytes,
      lagSeconds: (run.done - run.lastWrite) / 1000,
      totalSeconds: (run.done - run.start) / 1000,
      bans, runCpu, threads, startRss, peakRss, endRss, afterBurstCpu, idleCpu: idleCpu!, busyDirCpu,
      started: daemon.started(),
    };
  } finally {
    progress?.close();
    await daemon.stop();
  }
}

/**
 * `f` is the run with the idle period; `again`, the same burst in fresh daemons after it (the plain
 * runs of the ipv6prefix pairs). One run moves by 10 to 20% with this machine's speed, so
 * throughput and peak RSS are judged by the median of them all.
 */
function rows(w: Workload, f: Figures, rate: number, again: readonly Figures[]): Row[] {
  const lineBytes = f.bytes / w.lines;
  const idlePercent = 100 * f.idleCpu;
  const runs = [f, ...again];
  const throughput = summarize(runs.map((r) => w.lines / r.totalSeconds)).median;
  const peakRss = summarize(runs.map((r) => r.peakRss)).median;
  const each = (value: (r: Figures) => string): string => runs.map(value).join(', ');
  const ipv6 = Math.floor(w.attackers / 10);
  return [
    ['log appended', `${int(w.lines)} lines (${mib(f.bytes)}): ${int(w.failures)} failures (${(100 * w.failures / w.lines).toFixed(0)}%), ${int(w.lines - w.failures)} noise`, '', ''],
    ['attackers', `${int(w.attackers)} distinct (${int(w.attackers - ipv6)} in 198.18.0.0/15, ${int(ipv6)} in 2001:db8::/32); ${int(f.bans)} with ≥ ${MAXRETRY} failures`, '', ''],
    ['writer', `batches of ${int(BATCH_LINES)} lines, ${rate > 0 ? `paced at ${int(rate)} lines/s` : 'made before the clock starts, written as fast as the disk allows'}: `
      + `${f.writeSeconds.toFixed(2)} s, ${int(f.writerRate)} lines/s`, '', ''],
    ['daemon backlog while writing (max)', `${int(f.maxBacklogBytes / lineBytes)} lines (${mib(f.maxBacklogBytes)})`, '', ''],
    ['lag behind the writer', `${f.lagSeconds.toFixed(2)} s from the last write until the daemon had read (and committed) every line`, '', ''],
    ['bans applied', `${int(f.bans)} in the store, exactly the addresses with ≥ ${MAXRETRY} failures; ${int(f.bans)} in the ban log, `
      + `${int(f.bans)} \`Ban\` lines on stderr`, `= ${int(f.bans)} expected (else the run fails)`, 'met'],
    ['throughput end to end', `${int(throughput)} lines/s, the median of ${runs.length} runs (${each((r) => `${r.totalSeconds.toFixed(2)} s`)} from the first `
      + `write until everything was read and banned${rate > 0 ? '; bound by the paced writer' : ''})`,
    ...(rate > 0 ? ['', ''] : [`≥ ${int(THROUGHPUT_TARGET)} lines/s`, throughput >= THROUGHPUT_TARGET ? 'met' : 'NOT met'])],
    ['daemon CPU for the run', `${f.runCpu.toFixed(2)} s user+sys (${(100 * f.runCpu / f.totalSeconds).toFixed(0)}% of one core over the run): `
      + `main thread ${f.threads.main.toFixed(2)} s, filter worker ${f.threads.worker.toFixed(2)} s, other threads (GC, libuv) ${f.threads.rest.toFixed(2)} s`, '', ''],
    ['daemon memory', `peak RSS (VmHWM) ${mib(peakRss)}, the median of ${runs.length} runs (${each((r) => mib(r.peakRss))}); `
      + `RSS ${mib(f.startRss)} before the first line, ${mib(f.endRss)} after the idle period`,
      `peak ≤ ${PEAK_TARGET_MIB} MiB`, peakRss <= PEAK_TARGET_MIB * 2 ** 20 ? 'met' : 'NOT met'],
    ['daemon CPU right after the burst', `${f.afterBurstCpu.map((share) => `${(100 * share).toFixed(3)}%`).join(', then ')} of one core over the first two ${IDLE_SECONDS} s without writes (V8 shrinking the heap once)`, '', ''],
    ['daemon CPU when idle', `${idlePercent.toFixed(3)}% of one core over the next ${IDLE_SECONDS} s without writes`, `≈ 0 (< ${IDLE_TARGET_PERCENT}%)`, idlePercent < IDLE_TARGET_PERCENT ? 'met' : 'NOT met'],
    ['daemon CPU when idle in a busy log directory', `${(100 * f.busyDirCpu).toFixed(3)}% of one core over the next ${IDLE_SECONDS} s, while another of the `
      + `${BUSY_DIR_FILES} files beside its log gets a line every ${BUSY_DIR_WRITE_MS} ms`, `≈ 0 (< ${IDLE_TARGET_PERCENT}%)`,
    100 * f.busyDirCpu < IDLE_TARGET_PERCENT ? 'met' : 'NOT met'],
  ];
}

/**
 * The daemon following a temp auth.log while `w` is appended (at `rate` lines/s, 0: as fast as the
 * disk allows), its jail counting IPv6 per `ipv6prefix` (128, each address alone, by default); its
 * figures, with its CPU when idle after the burst unless `idle` is false (then NaN).
 */
export async function benchFileSource(w: Workload, rate: number, ipv6prefix = 128, idle = true): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'f2b-daemon-bench-'));
  try {
    return await measure(dir, w, rate, ipv6prefix, idle);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runDaemonBench(): Promise<void> {
  const lines = Number(process.env['F2B_BENCH_DAEMON_LINES'] ?? 1_000_000);
  const rate = Number(process.env['F2B_BENCH_DAEMON_RATE'] ?? 0);
  if (!(Number.isInteger(lines) && lines >= 100)) throw new Error(`F2B_BENCH_DAEMON_LINES: not a whole number ≥ 100: ${lines}`);
  if (!(rate >= 0)) throw new Error(`F2B_BENCH_DAEMON_RATE: not a rate in lines/s: ${rate}`);
  const workload = sshdWorkload(lines);
  const machine = describeMachine();
  const startedAt = new Date();
  const loadAtStart = loadavg()[0]!;
  const figures = await benchFileSource(workload, rate);
  // One pair swings by ±20% with the load between its runs: alternating pairs, the median of their ratios.
  const pairs: { plain: Figures; prefixed: Figures }[] = [];
  for (let pair = 0; pair < PREFIX_PAIRS; pair++) {
    const plain = await benchFileSource(workload, rate, 128, false);
    pairs.push({ plain, prefixed: await benchFileSource(workload, rate, IPV6_PREFIX, false) });
  }
  const loadAtEnd = loadavg()[0]!;
  const extra = summarize(pairs.map((p) => p.prefixed.runCpu / p.plain.runCpu - 1)).median;
  const percent = (ratio: number): string => `${ratio >= 0 ? '+' : ''}${(100 * ratio).toFixed(1)}%`;
  const cpus = (side: 'plain' | 'prefixed'): string => pairs.map((p) => p[side].runCpu.toFixed(2)).join(', ');
  const prefixRow: Row = [`the same run with ipv6prefix = ${IPV6_PREFIX}`, `median of ${PREFIX_PAIRS} alternating pairs: ${percent(extra)} daemon CPU `
    + `(${cpus('prefixed')} s against ${cpus('plain')} s user+sys); ${int(pairs[0]!.prefixed.bans)} bans, each the /${IPV6_PREFIX} of an attacker `
    + '(the IPv4 ones as before)', '≤ +10%', extra <= 0.1 ? 'met' : 'NOT met'];
  const remarks = [
    `The real built daemon, \`node ${unitNodeOptions().join(' ')} dist/cli/f2b-store.js --db DB --config DIR start\` (node's options read from `
      + 'contrib/f2b-store.service, as a host\'s systemd starts it), with one jail: `[sshd]` on a temp auth.log, '
      + `shipped sshd filter, maxretry ${MAXRETRY}, findtime 1h, bantime 1h. \`[reconcile] backends = none\`: no firewall is touched here; `
      + 'applying bans to nftables and ipset is measured by the firewall section.',
    `Log: sshd lines in syslog format, local time, ${rate > 0 ? 'each batch dated when it is written' : 'made and dated just before the clock starts '
      + '(in about a second), so that only their writes share the cores with the daemon: making them as they were written took this process '
      + '0.5 to 1.1 s of CPU (measured alone) inside the timed run'}; ${WORKLOAD_REMARK}`,
    `Lag and throughput: this process reads the daemon's database read-only every ${POLL_MS} ms; the daemon is done when its stored log position `
      + '(committed in the same transaction as the bans and failure counters of those lines) equals the file size. The run fails unless the active '
      + 'bans are exactly the addresses written with ≥ maxretry failures, each with one line in the ban log and one on stderr.',
    `CPU: user+sys from /proc/PID/stat (10 ms ticks); idle = the third ${IDLE_SECONDS} s after the daemon was done, no writes, `
      + `${driftSchedule(figures.started)}, log sweep every 2 s. Peak RSS is VmHWM from /proc/PID/status.`,
    `ipv6prefix = ${IPV6_PREFIX}: the same log followed by a fresh daemon right after, its jail counting and banning IPv6 per /${IPV6_PREFIX} `
      + '(the attackers\' IPv6 addresses each lie in a /64 of their own, so the bans are the same attackers, as their networks): the cost of '
      + `finding each address's network (remembered per address, as the parse). ${PREFIX_PAIRS} pairs of a fresh daemon without it and one with it, `
      + 'alternating, after the run above (no idle period): the load between two runs moves CPU by up to 20%, so the row is the median of '
      + 'the pairs\' ratios. What blocks the addresses of '
      + 'a commit is looked up per prefix length in use (a skip-scan of the open networks\' lengths, then one query for the targets\' '
      + 'networks by their text), and after the write taken from it, networks included: it used to read and key every active /64 twice '
      + 'per commit. Six pairs each, alternating with the build before (load 1 to 28; one pair swings -20% to +35%): the prefixed run\'s '
      + 'CPU median 13.6 s before, 10.7 s after, the run without it 10.8 and 10.6 s (medians of the ratios +19.5% before, +6.2% after).',
    loadRemark(loadAtStart, loadAtEnd, `the writer and the daemon share the machine's ${machine.cores} cores; the run adds about 1`),
    'Where the daemon\'s time goes (cpu profiles with F2B_BENCH_DAEMON_PROF; CPU per thread from /proc/PID/task, as in the CPU row): the '
      + 'tailer reads up to 32 chunks of 256 KiB ahead and hands each to the filter worker as soon as it is read, as the range of the file its '
      + 'complete lines lie in (descriptor, offset, length, CRC-32): the worker reads the bytes itself, checks the CRC (a file truncated or '
      + 'rewritten meanwhile fails the batch, which the tailer reads again), decodes and splits the lines; only the host, time and lines of '
      + 'each failure come back. The chunk bytes used to be copied out of the read buffer and into the worker: 2026-12-04, four pairs '
      + 'alternating with the build before (load 2 to 4), peak 225, 250, 225, 235 MiB against 251, 243, 243, 241, throughput within the '
      + 'noise (a pair moved by 20%). With the bytes no longer held, reading further ahead was tried the same day: 128 chunks with 128 '
      + 'batches at the worker (it then matches through a whole commit), and a turn that goes on while no other file waits: no faster '
      + 'either, the first 20 MiB more. A timeline of both threads shows why: what the worker matched ahead only waits to be counted, and '
      + 'the main thread\'s own work (counting, the commits, its GC, about 3 s of the 4.5) bounds the burst, the last commit (0.7 s, '
      + 'after the last line was matched) included. The worker takes up to 32 batches at once: it used to be '
      + 'handed the next batch only when the main thread had taken the last result, so it sat idle through every commit (a commit holds the '
      + 'main thread 0.1 to 0.9 s on this busy disk) and the two threads mostly took turns. While behind, what the lines caused is committed '
      + 'every 2 s (or 5 times the last commit\'s time, or every 16 MiB of log; 32 MiB until 2026-12-04, when halving it took the peak from 226, 233, 236, 243, 220, 226, 235, 228 to 212, 211, 208, 216, 217, 215, 216, 220 MiB in eight pairs alternating with the build before, throughput within the noise, the main thread about 0.1 s more): a commit rewrites every page of the failure-counter table on '
      + 'which an address changed (in this burst most of the table, tens of MB of WAL) and fsyncs, so fewer commits write each address\'s '
      + 'counters once for more of its failures (about 5 commits for the burst, see Commits while behind). The Ban lines of a commit go to stderr in one write (one '
      + 'synchronous pipe write each cost the main thread about 1 s per 30,000 bans).',
    'Failures of an address already banned in its jail (two thirds of this burst\'s failures come from attackers banned by then): fail2ban '
      + 'counts them as any other (server/filter.py processLineAndAdd adds every failure to the fail manager, and a ban it completes is '
      + 'dropped by the actions as "already banned"), so the engine still counts them — `status` totals, the failure windows and the '
      + 'persisted counters (what the next ban after this one expires starts from) stay as they were; what is skipped is deciding the ban '
      + 'again, its store reads and bantime.increment\'s history read (a map of known bans, one per jail, asked once per failure). Per failure '
      + 'the engine no longer parses with ipaddr: a plain IPv4 address is recognised directly (the parse cache, 10,000 entries, was emptied '
      + 'over and over by 50,000 attackers), and the ignoreself/ignoreip verdict is remembered per address until this host\'s addresses are '
      + 'read again (the loopback network in ignoreself made every failure parse its address).',
    'Where the CPU goes (cpu profiles of both threads, per-thread CPU, and the parts measured alone with real SQLite): the filter worker '
      + 'does not cost more here than in `test-filter` (its thread took 2.4 to 3.2 s for the burst, `test-filter` 2.9 to 3.0 s for the whole '
      + 'process on the same 1,000,000 lines at the same load, 3.6 to 3.9 s with `--json`); what a per-thread split once counted as the worker\'s besides the main thread '
      + 'was V8\'s GC and compiler helper threads of both isolates (the "other threads", 1.6 to 2.9 s). The main thread is the bottleneck: the '
      + 'commits are about half of it, counting about a quarter, its own GC about a sixth, reading the file and handing chunks to the worker '
      + 'the rest. The burst takes about 13 commits, each with 15,000 to 28,000 failure-counter upserts and 2,600 to 4,900 new bans: alone, '
      + '13 commits of 17,000 counters cost 1.44 s CPU (6.5 µs a row, nearly all the B-tree upsert of a row of about 300 bytes, three '
      + 'quarters of it the matched lines; multi-row INSERTs or one json_each INSERT per commit saved nothing, sorting the rows by key up to '
      + '20% for the cost of the sort, a 32 MiB page cache 10% for the memory; the COMMIT and its fsync about 0.2 s of it), and 35,000 bans '
      + '0.56 s (16 µs each: the read of the newest row, the insert with its indexes, the change-log row). Changed for this: what blocks the '
      + 'new bans\' addresses after a commit is taken from the write instead of a second read (one read of the active bans per commit, not '
      + 'two; about 14 ms per commit), and the failure windows no longer move an address to the back of their Map on each failure below the '
      + 'cap (300,000 failures: 770 ms to 580 ms CPU), and the store writer hands a batch to the store as it is instead of copying every '
      + 'counter into its held maps and out again while nothing is held (90 to 190 ms a burst). Back to back with the build before '
      + 'these three, alternating, five pairs with the burst appended at once to the followed file (load 9 to 18 from other work): main '
      + 'thread 5.31, 4.96, 6.84, 4.60, 4.05 s before and 4.38, 4.67, 6.08, 4.35, 3.57 s after (lower in every pair, median -12%), process '
      + 'CPU median 9.59 to 9.00 s; and three pairs of this section (load 7 to 12): main thread 4.61, 4.38, 4.33 s to 3.68, 3.87, 4.03 s, '
      + 'process CPU 8.81 to 8.39 s (medians), 52,000 to 64,000 lines/s before and 96,000 to 136,000 after (the load differed between '
      + 'runs: only the CPU compares), the worker and peak RSS (344 to 363 MiB) unchanged, idle 0.40 to 0.50% before and 0.47% after '
      + '(once 2.2%, when V8 shrank the heap from 351 to 182 MiB inside the idle period). Left: the counter upserts are the largest single cost, and only fewer commits, '
      + 'smaller rows or a commit off the main thread (a writer thread with its own connection, the main thread counting on while it '
      + 'writes) move them. The worker\'s results cross packed in columns (a Float64Array and two string arrays per batch), not as objects.',
    'Memory (2026-12-03: v8 heap statistics of both threads every 200 ms, /proc/PID/smaps, V8\'s GC trace, and the sampling heap profiler '
      + 'keeping only objects that outlived a scavenge): what waits is not what holds the peak. At each full collection of the main thread '
      + '35 to 40 MiB are alive (the failure windows of 50,000 attackers with their last three lines, about 26 MiB; the known bans; modules '
      + 'and compiled code), of which the chunks read ahead, the results queued and the counters not yet committed are a few MiB. The peak '
      + 'is garbage between full collections: the burst promotes about 270 MiB out of the young generation (the worker\'s results, their '
      + 'strings and the objects they are unpacked into, 70 MiB; the failure windows 63; the counters\' JSON of each commit 39; the Ban '
      + 'lines 27; the commits 18), and V8, left to itself, let the old generation grow to about three times what was alive before '
      + 'collecting (4 full collections in the burst, each 110 MB to 35-40 MB); beside it, the 256 KiB chunk buffers, whose objects are '
      + 'promoted and freed only by those collections (up to 45 MiB of malloc). `start` sets `--heap-growing-percent=100` (60 since 2026-12-04, below) '
      + '(v8.setFlagsFromString, read at each full collection, for both threads): the old generation grows to twice what was alive, full '
      + 'collections come about twice as often (tens of ms each at this size) and take the chunks with them. Alternating with the build '
      + 'before (the three changes to the CPU below included; load 5 to 15 from other work): peak RSS 358, 327, 305, 355, 341, 363, 306, '
      + '334, 327, 300, 348 MiB before and 290, 272, 255, 282, 277, 276, 285, 280, 281, 322, 332 MiB after (median 334 to 281 MiB; where '
      + 'a full collection falls still moves it by 70 MiB); CPU of the idle daemon 30 to 60 s after the burst 0.63, 0.47, 1.77% of one '
      + 'core before and 0.23, 0.43, 0.27% after; in the three pairs at load 7, process '
      + 'CPU 8.35, 8.70, 8.53 s before and 8.42, 8.79, 8.61 s after (+1%: the GC threads 0.1 s more, the main thread the same, 4.2 to 4.4 '
      + 's), 57,000 lines/s before and 71,000 to 79,000 after (at the other pairs\' load the CPU moved by 2 s between runs), RSS 40 s after the burst 360, '
      + '294, 327 MiB before and 263, 250, 257 MiB after (V8 gave memory back within that time in neither). 70 and 50 percent: 259 to 304 '
      + 'MiB, no better than 100 within the noise, 50 with about 0.5 s more CPU. What is alive after the burst (a heap snapshot of the main thread at its end: 47 MiB): the '
      + 'failure windows about 25 MiB (the matched lines\' strings most of it, their Map\'s table 3.5 MiB, each address\'s arrays and '
      + 'entry), the known bans\' and the ignore verdicts\' Maps 1.75 MiB each, the set of addresses with a stored counter row 1.25 MiB, '
      + 'compiled code 4 MiB and module sources about 3 MiB (refa\'s, for the filters\' backtracking check at start, 1.9 MiB). '
      + 'What the peak is now (255 to 290 MiB): Node\'s binary and '
      + 'libraries 52 MiB; the main thread\'s young generation 32 MiB (two semi-spaces of 16 MiB, which only `--max-semi-space-size` on '
      + 'node\'s command line changes: V8 sizes it when the isolate is made); its old space 56 to 68 MiB (35 to 45 alive) and large objects '
      + '9 to 17 MiB (the joined Ban lines of a commit, the arrays of a commit); chunk buffers 6 to 22 MiB; the filter worker\'s heap about 30 '
      + 'MiB (its young generation held to 16 MiB: 8 cost the worker 0.7 s and the GC threads 1.3 s more CPU, measured alternating); SQLite '
      + 'and the rest of malloc about 40 MiB. The chunks\' garbage also starts full collections (V8 collects when memory outside its heap '
      + 'grew by 64 MiB), so taking it away does not lower the peak: the tailer filling the buffers of delivered batches again through a '
      + 'burst instead of a new one per chunk, alternating, peak 289, 292, 332 MiB against 264, 271, 295 without it, not kept; handing '
      + 'each chunk to the worker as a transfer instead of a copy took the malloc heap at the peak from 34-51 to 10-26 MiB in two pairs '
      + 'before the heap-growing setting, but a worker ended for a line past its time budget takes the transferred bytes of every batch it '
      + 'held with it (the batches go on in the next worker from their bytes), so it is not done either. The daemon over 1,000,000 '
      + 'active bans (the scale section\'s, nftables, 40 s after start, load 20 to 27): VmHWM 510 and 507 MiB before, 521 and 509 MiB '
      + 'after, start CPU 7.8 s both times before, 7.6 and 10.7 s after (that one at the load\'s worst, 75 s to start). V8 flags measured before on node\'s command '
      + 'line, same conditions: `--max-semi-space-size=2` or `=4` alone, 320 to 330 MiB (about 25 MiB less); with '
      + '`--heap-growing-percent=30` as well, 216 MiB but 4.7 s more CPU (GC threads 6.2 s instead of 3.6 s) and 1.7% idle CPU; '
      + '`--optimize-for-size --max-semi-space-size=1`, 186 MiB for twice the CPU. '
      + 'Since then (2026-12-03, the burst alone: daemon started, 1,000,000 lines appended, VmHWM and CPU read when all was committed; '
      + 'seven runs of each, alternating, load 6 to 15 from other work): the failure windows keep arrays of exactly their length (one '
      + 'grown by push or splice kept room for 17 numbers or lines, most of an address\'s entry) and no lines for an address banned in '
      + 'the jail (its stored row keeps none either; two thirds of the burst\'s failures): 300,000 failures of 50,000 addresses alone '
      + 'leave 12 MiB alive instead of 25, at the same CPU, and the peak falls twice that (the old generation grows to twice what is '
      + 'alive): 282 to 249 MiB (median). The unit starts node with `--max-semi-space-size=4` (the bench reads it from there), '
      + 'and `start` sets the flag back to 0 for the isolates made after (V8 reads it for each, and it overrides the filter worker\'s '
      + 'resourceLimits: on the worker, 2 MiB cost it 1.3 s and the GC threads 2 s more): peak 221 MiB (218 to 235), process CPU '
      + '+0.57 s, main thread +0.14 s (medians of the pairs\' differences; main thread scavenges 65 to about 250, their pauses about '
      + '+0.9 s of wall time on this loaded machine). `=2`: 210 MiB (205 to 217), CPU +0.89 s, main thread +0.75 s (about 500 '
      + 'scavenges), so those 11 MiB cost the main thread, the bottleneck, 0.6 s; `=1` no lower (218 MiB) for more. '
      + '`--heap-growing-percent=60` with `=4`, three pairs: 213 against 223 MiB for 0.55 s more CPU (the GC threads 0.4), as dear '
      + 'per MiB as `=2`, not kept then; 2026-12-04, with the chunks read by the worker and commits every 16 MiB, nine runs alternating '
      + 'with 100: 194, 193, 208, 198, 202, 196, 192, 192, 198 MiB against 212, 208, 213, 230, 209, 209, 211, 208, 222 (median 196 '
      + 'against 209), lines/s the same within the noise (medians 187,879 against 188,376 and 197,310 against 200,032), CPU about 4% '
      + 'more: kept; 50: 193 to 203 MiB, no lower, and 7% slower. A ring of '
      + 'shared buffers for the chunks (filled by the tailer, read by the worker in place, no copy on either side), alternating with '
      + 'and without it: 233 against 229 MiB, not kept, as before. Left for 200 MiB: `=2` in the unit (for the CPU above), or '
      + 'fewer promoted bytes per line (the results and the counters\' JSON of each commit).',
    'Smaller costs per ban and per batch (cpu profiles of the main thread, before and after, and the parts alone): every message on '
      + 'stderr and in the ban log went through a regex replace with a callback even without a control character in it (70,000 messages: '
      + '50 to 110 ms alone, 6 to 11 ms with a test first), every ban log line formatted its local time anew (35,000 lines: 160 to 370 ms, '
      + '40 to 70 ms once per run of one time), and `PRAGMA data_version` was prepared again for each batch (about 100 ms of the burst in '
      + 'the profile; now out of its first 200 entries). In the profiles the bans\' reporting went from 752 to 541 ms of the main thread; '
      + 'the write to the stderr pipe itself (the bench reads it) is most of what is left of it.',
    'Decoding in the worker (profiles of both threads, 2026-12-03): a chunk of 256 KiB decoded as one string was a third of the worker\'s '
      + 'time: a string that long goes to V8\'s large-object space (a fresh mapping, zeroed on first touch, freed only by a full '
      + 'collection), ten times the cost of decoding the same bytes in runs of 64 KiB, which the worker now does (each run ends after a '
      + '`\\n`). Eight pairs alternating with the build before, same minutes (load 15 to 22 from other work, so lines/s do not compare): '
      + 'worker thread 2.97 to 2.41 s, process CPU 9.70 to 9.22 s, peak RSS 342 to 305 MiB (medians); the main thread unchanged within '
      + 'the noise (4.78 to 4.90 s).',
    'What is left on the main thread (V8\'s GC profiler and its sampling heap profiler counting collected objects): the burst allocates '
      + 'about 800 MiB there (800 bytes a line) in about 65 scavenges, 130 MiB of it promoted; the largest allocations are the failure '
      + 'counters\' JSON made for each commit (about 80 MiB, alive until the commit ends), the worker\'s results (their strings, and the '
      + 'objects they are unpacked into, about 120 MiB, alive until their batch is counted) and the failure windows. Counter rows without '
      + 'their matched lines (measured with a constant state): main thread about 1 s less, the largest single cost left. Moving the lines '
      + 'to a table of their own costs as much or more in SQLite, as every failure still writes its line and removes an older one (13 '
      + 'commits of 17,000 addresses, alone: 1.3 s with three lines in the row, 0.6 s without them, 1.4 s with the lines appended to a '
      + 'table and referenced by id; one row per line keyed by jail, address and sequence, twice the row with its lines, measured side '
      + 'by side), so they stay in the row. Tried '
      + 'and not kept, no gain beyond the noise: the counters\' JSON made as each row is written (more promoted, not less), results '
      + 'unpacked when counted rather than on arrival (about 12 MiB less promoted), a pool of chunk buffers, `INSERT OR REPLACE` '
      + '(5% of the upserts). At start (108 MiB before the first line): 53 MiB is Node\'s binary and libraries mapped from disk (a bare '
      + '`node` maps 34 MiB), each thread\'s heap about 23 MiB resident (14 and 12 MiB used: modules and compiled filters, and a young '
      + 'generation mostly empty), the rest SQLite and V8 outside the heaps: nothing there to cut by much. A writer thread with its own '
      + 'connection would take the commits (about a third of the main thread) off the critical path, but not the CPU: the daemon uses '
      + 'about 9 s of CPU for this burst on a loaded machine and about 8 s quiet, which at 250,000 lines/s is 4 s on 2 cores shared with '
      + 'the writer process. The target needs less work per line, mostly on the main thread, not only another thread.',
    'Results as bytes (2026-12-05, later; V8\'s --trace-gc-nvp summed per isolate, and rounds by turns with the build before with '
      + 'bench/daemon-ab.ts): the main thread promoted 210 MB over the burst, in about 200 scavenges that paused it 1.1 s in all (4 ms '
      + 'each). The worker\'s results, cloned as objects and strings, were rebuilt in the main thread\'s heap as soon as their batch was '
      + 'done and waited there through the batches read ahead and a commit; a commit\'s counter rows were all made before SQLite wrote '
      + 'them. Unpacking the results only when counted had not helped (their strings were still made on arrival). Now they cross as '
      + 'bytes, transferred rather than copied (the numbers, where each string ends, and the strings\' text in Latin-1, or UTF-8 when one '
      + 'needs it), and become strings only when their batch is counted; the counter rows are made as SQLite writes them. Promoted 92 MB, '
      + 'scavenge pauses 0.5 s; three rounds: 236,585 against 214,451 lines/s, process CPU 6.53 against 7.19 s, GC threads 1.53 against '
      + '1.90 s, peak 191 against 199 MiB; four rounds in a slower hour: 207,835 against 191,971 lines/s, 7.58 against 8.07 s. The '
      + 'strings as one Latin-1 write per batch instead of a UTF-8 write each: packing 300,000 failures 105 to 40 ms (alone). What the '
      + 'main thread does now (cpu profile): SQLite about a third (the counter upserts, the ban rows with their six indexes, the COMMIT), '
      + 'the collector a sixth, the known bans\' and failure windows\' lookups, the rest spread thin. Tried the same day, no gain beyond '
      + 'the noise: `synchronous = NORMAL` (the fsync of a commit is not what holds the thread), `wal_autocheckpoint = 0`, a 16 MiB page cache.',
    'The collector on the main thread (2026-12-05, later): V8 collected both threads\' heaps with helper threads (parallel scavenges, '
      + 'concurrent marking and sweeping), and on 2 cores shared by the daemon\'s two threads, the log\'s writer and the host, waking them '
      + 'cost more than it saved: the "other threads" took 1.4 to 1.6 s of CPU in a burst. The unit now runs node with '
      + '`--single-threaded-gc`: by turns with the build before (bench/daemon-ab.ts), faster in every round of nine, in a quick hour '
      + '254,773, 263,848, 276,302, 231,062 against 221,845, 239,591, 256,927, 166,647 lines/s, process CPU 6.0 against 6.4 s (other '
      + 'threads 0.64 against 1.50 s; the main thread 0.3 s more, its collector now 0.9 s of it: 184 scavenges pausing it 0.52 s, 9 full '
      + 'collections, 93 MB promoted), in a slow hour +3 to +18% (median +9%). Its marking is no longer concurrent, so the old generation '
      + 'grows further while a collection is under way: peak 198 to 208 MiB with the growing factor at 1.6; `start` now sets 1.5 (190 to '
      + '195 MiB, as fast). Tried the same day, not kept: only `--no-parallel-scavenge` or only `--no-concurrent-marking` (no gain beyond '
      + 'the noise), `--single-threaded-gc` with `--max-semi-space-size=2` (slower).',
    'Commits while behind (2026-12-03): the daemon took itself to be caught up, and committed at once, whenever it had counted the newest '
      + 'batch the tailer had read; but the tailer\'s reads run on the main thread\'s event loop and fell behind its counting now and then, '
      + 'most of all right after a commit, when the read-ahead had to fill again: about 13 commits of this burst were made at such a batch, '
      + 'tens of MB before the end of the file (a debug line per commit: nearly all at a batch of a full 256 KiB read). '
      + 'A batch now says whether its read filled the buffer (more of the file was waiting): such a batch is behind, and what the lines '
      + 'caused is committed every 32 MiB of log (128 batches; 16 MiB since 2026-12-04, see above) or by the time rule above, so the burst takes 2 or 3 commits while the writer '
      + 'is still writing and the daemon keeps up with it, then one per 32 MiB: 5 to 7 in all, 120,000 to 150,000 counter upserts instead '
      + 'of about 250,000 (the same 300,000 failures of 50,000 addresses committed alone with real SQLite: 13 commits 600 to 850 ms CPU, '
      + '5 commits 350 to 500 ms). In the whole daemon that did not show beyond the noise: four pairs alternating with the build before '
      + '(load 11 to 13 from other work), main thread 4.30, 4.09, 5.96, 4.16 s before and 4.29, 4.93, 4.47, 5.55 s after, the filter '
      + 'worker (which this does not change) moving as much between runs; two pairs with ipv6prefix = 64 (load 15 to 17), main thread 4.46, '
      + '4.63 s before and 4.60, 4.67 s after; peak RSS 265 to 294 MiB before and 268 to 311 MiB after (a commit holds what 32 MiB of log '
      + 'caused until it ends; 64 MiB between commits: 303 to 316 MiB, not kept). Not done: a writer thread with its own connection (the commits off the main thread\'s '
      + 'path, not off the 2 cores: its writes would be another connection\'s to the main thread\'s data_version, which empties the known '
      + 'bans, and each batch would cross threads as a copy).',
    'Lookups per failure (2026-12-03, later; the burst alone, alternating builds, load 1 to 2): a hash lookup by address text in a table of '
      + 'tens of thousands costs about a microsecond (the probe and the stored key are both cache misses), and counting a failure made five '
      + 'or six. The failure windows now keep what changed as flags on their entries (no set of addresses to add to on every failure and to '
      + 'look up again at each commit), a single IPv4 address is matched against ignoreip, ignoreself and the lockout floor\'s networks as a '
      + 'number (no cache of verdicts by address, no parse), and a counter row without lines no longer asks whether its address is banned: '
      + 'main thread 3.76 and 3.79 s against 4.46 and 4.29 s, process CPU 8.61 and 8.39 s against 9.55 and 9.14 s, peak RSS 227 against '
      + '240 MiB, 169,000 and 172,000 lines/s against 152,000 and 161,000. Then the allocations on the main thread (sampling heap profiler '
      + 'counting collected objects): a for-of over the failures in a function that awaits keeps an iterator result per element, and '
      + 'find() with a closure over the networks made a closure per failure and matcher: indexed loops and plain loops took the burst from '
      + '755 to 659 MiB allocated (GC threads 2.65 to 2.76 s against 2.83 to 3.08 s in three pairs on a noisier machine). Tried and not '
      + 'kept: a failure whose one line is its batch\'s own crossing back as the line\'s byte range, decoded by the main thread only for an '
      + 'address not banned yet (no string per failure crossing threads): the worker and the GC threads used more, not less (process CPU '
      + '9.13 and 10.31 s against 8.61 and 8.39 s, peak 242 and 250 MiB); the allocator kept from returning memory '
      + '(MALLOC_TRIM_THRESHOLD_ and MALLOC_MMAP_THRESHOLD_ high, so chunk buffers are not fresh pages each time): the same CPU (8.71, 8.84 '
      + 'against 8.67, 8.43 s); `--single-threaded-gc`: the GC threads 0.6 to 0.7 s instead of 2.5, but the main thread, the critical '
      + 'path, 1.0 to 1.5 s more. Where the main thread goes now (cpu profile, quiet machine): the collector about a quarter of its busy '
      + 'time, the counters\' upserts and the commit (SQLite) about a sixth, the failure windows\' lookup, the known bans\' lookup and the '
      + 'store\'s ban rows most of the rest. Counter upserts measured alone with real SQLite: sorted by address or 32 rows a statement, no '
      + 'faster (the latter twice as slow). Last, a closure made for every failure (the engine\'s answer for a prefix that holds an '
      + 'ignored address, asked only when a prefix completes) and the closures of the network matches: gone, 7.0 to 7.5 s process CPU and '
      + '191,000 to 203,000 lines/s in six burst runs that hour; the ipv6prefix row, which had read +12% once the plain run was cheaper '
      + '(its network matches still made closures), +1.3 to +6.0%.',
    'The two threads over time (2026-12-04; cpu profiles of both, binned by 250 ms with bench/cpu-timeline.ts, on a quiet machine where the burst ran at 193,000 to '
      + '207,000 lines/s, 6.8 to 7.7 s process CPU): the main thread spends about a third of the burst in 3 or 4 commits of 0.5 to 0.75 s, '
      + 'and through each of them the filter worker is idle after its first 0.1 s: the tailer reads on the main thread\'s event loop, which '
      + 'a synchronous commit holds, so the worker runs out of chunks. Between commits the worker is 80 to 90% busy and the main thread 70 '
      + 'to 80% (counting, its GC, taking results). Neither more read-ahead with more batches in flight (64 and 64 instead of 16 and 32: the '
      + 'worker then ran right up to each commit, still idle through it; peak 256 to 270 MiB) nor letting a file that no other waits for read '
      + 'on past its 64-chunk turn (no drain of the read-ahead at each turn) moved the rate beyond the noise of alternating runs (176,000 to '
      + '219,000 lines/s either way).',
    'Why the worker sat idle through the commits (2026-12-04, later: a trace of each read, delivery, result and commit with its time): every '
      + 'commit of the burst fell on the last batch of a tailer\'s turn, when nothing is read ahead, because the limit of 128 batches between '
      + 'commits is exactly two turns of 64 chunks; and the read-ahead was seldom full anyway, because each read, handed to libuv\'s pool, '
      + 'came back only when the event loop got to it, behind the counting and the worker\'s results (up to 60 ms for a 256 KiB read from the '
      + 'page cache; a read is two of them, the chunk and the first line\'s hash). So the worker had nothing to match from the start of each '
      + 'commit to the end of it, however deep the read-ahead was allowed to be. Now the chunks of a file followed with inotify are read '
      + 'synchronously (tens of microseconds from the page cache; a file that is polled, as on a network file system, is still read through '
      + 'the pool, so a server that hangs cannot hold the event loop), the read-ahead is 32 chunks (8 MiB), and a commit that falls due while '
      + 'the daemon is behind waits for a batch with at least 24 read ahead of it (at most until 256 batches wait): the worker matches those '
      + 'through the commit. By turns with the build before (bench/daemon-ab.ts, two sets of three rounds, load about 2 from the writer): '
      + '232,703 against 211,812 lines/s and 240,199 against 224,734 (medians; +10% and +7%), process CPU 6.30 against 6.66 s, but peak RSS '
      + '248 against 223 MiB and 245 against 226 (what the deeper read-ahead holds: the chunks on both sides and the results waiting through '
      + 'a commit). A read-ahead of 16 with the rest the same: 210,642 lines/s, no gain (the worker runs dry a tenth of a second into a '
      + 'commit); 64: 239,730 lines/s at 266 MiB, no better than 32 for 20 MiB more. Results kept packed until counted (tried again with 32 ahead, three '
      + 'rounds by turns in a slower hour): 190,491 against 183,247 lines/s, peak 253 against 254 MiB, within the noise; not kept. What is left between this and 250,000 lines/s: the commits themselves, about 1 s of the main thread per burst in '
      + 'SQLite (counter upserts 0.29 s, ban rows 0.21 s, COMMIT 0.29 s, the rest reads and the Ban lines), which a thread of their own with '
      + 'its own connection would take off the main thread (see Commits while behind); then the 2 cores (about 6.3 s of CPU for the burst, '
      + '3.2 s at best) bound it. Where a commit\'s time goes now (the same trace, 205,000 lines/s that hour): about 0.9 s of the main thread '
      + 'each, of which waiting for the counts under way and taking the counters\' changes about 0.1 s, reading what blocks the candidates '
      + '0.12 s, SQLite 0.4 s and the Ban lines, the ban log and the known bans after it about 0.27 s; the 32 batches read ahead keep the '
      + 'worker busy for the first 0.15 s of that. More read-ahead to cover the rest would hold about 48 MiB more.',
    'Idle: a profile of the idle daemon after a burst showed the 2 s log sweep as the main thread\'s largest cost (it stat-ed every followed '
      + 'file, read at its offset and read and hashed its first line); it now stats each file and checks only one whose identity, size or '
      + 'modification time changed since the last sweep (a missed event is still caught within 2 s, a rotated file still read on). The rest '
      + 'is the drift check every 10 s (data_version and the active jails), the lockout watch\'s interface read every 30 s, and V8 shrinking '
      + 'the heap after the burst: once, within a minute of it (RSS 300 to 190 MiB, a few hundred ms of the GC threads), which made a single '
      + '30 s window read anywhere from 0.4% to 2%; so the first 30 s after the burst are shown apart, and the idle figure is the 30 s after them. '
      + 'Since the daemon sets --heap-growing-percent=100 (less garbage held at the peak, see Memory) that shrink comes later, in the second '
      + '30 s (0.9 to 1.4% there, 2026-12-03); the three windows after it read 0.10 to 0.13%: so the first minute is shown apart, and the idle '
      + 'figure is the 30 s after it. With the unit\'s `--max-semi-space-size=4` the shrink still comes once but not at a fixed time: '
      + 'in the first 30 s of a quiet run (1.70%, then 0.17 to 0.20% over four windows; without the flag 0.53, 0.20, 1.30, then 0.17%), '
      + 'in the third of a run at load 15 (2.0%, once).',
    `Idle in a busy log directory (2026-12-05): the log lies beside ${BUSY_DIR_FILES} other files, as in /var/log, and after the idle window one of `
      + `them gets a line every ${BUSY_DIR_WRITE_MS} ms for ${IDLE_SECONDS} s. chokidar, watching the log's directory by inotify, read the `
      + 'whole directory again (a readdir and an lstat of every entry) after every write to any file in it: measured by hand the same way, '
      + '3.4 to 4.2 s of the daemon\'s CPU in 33 s, 10 to 12% of a core, and in the burst it was the main thread\'s fifth largest cost (lstat '
      + 'and readdir, about 0.3 s of 3.5). The directories are now polled (read again only when their entries change) and the matching files '
      + 'watched by inotify each on its own: 0.21 to 0.24 s in the same 33 s; the burst, three rounds by turns with the build before on a '
      + 'quiet machine, 228,940 against 221,372 lines/s, process CPU 6.87 against 6.93 s (medians). A file made in a directory before its '
      + 'first poll is found by the 2 s sweep, which reads a glob pattern\'s directory again when its modification time changed.',
  ];
  report('daemon', `Daemon benchmark — ${startedAt.toISOString().slice(0, 10)}`, { machine, startedAt },
    ['what', 'result', 'target', 'status'], [...rows(workload, figures, rate, pairs.map((p) => p.plain)), prefixRow], remarks);
}

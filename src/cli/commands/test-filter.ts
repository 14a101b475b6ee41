import { existsSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import {
  describeJournalMatch, InputError, isoTime, nowSeconds, parseJournalMatch, type JournalMatch, type JournalSource,
} from '../../core/index.js';
import {
  DEFAULT_CONFIG_DIR, filterSearchDirs, loadFilter, LOG_FORMATS, parseJournalSource, parseOptionSpec, type FilterDefinition, type LogFormat,
} from '../../config/index.js';
import type { Failure, FilterRun, RunLines, LineOutcome, LogFilter, TimedLines } from '../../filter/index.js';
import type { JournalBatch } from '../../watch/index.js';
import type { GlobalOptions } from '../context.js';
import { Chunked, printTable } from '../output.js';

interface TestFilterOptions {
  verbose?: boolean;
  line?: boolean;
  journalmatch?: string;
  logformat?: LogFormat;
  logtimezone?: string;
}

/** `journal[…]` / `systemd-journal[…]`: which journal, and a match given with it (else the filter's). */
interface JournalLog {
  readonly source: JournalSource;
  readonly match?: string;
}

/** A match as the contract prints it, plus the addresses its host stands for (a name resolved as `usedns` says). */
function matchJson(lineno: number, line: string, failure: Failure, addresses: readonly string[]): Record<string, unknown> {
  return {
    lineno,
    line,
    host: failure.host.value,
    time: failure.time === undefined ? null : isoTime(Math.floor(failure.time)),
    fid: failure.fid ?? failure.host.value,
    user: failure.captures.user ?? null,
    addresses,
  };
}

const JOURNAL = /^(?:systemd-)?journal(?:\[(.*)\])?$/s;

/**
 * The journal as fail2ban-regex names it, `systemd-journal[journalflags=1, journalfiles=…]`, or
 * as ours, `journal`: in the brackets the backend's options (plus `journalmatch=`), or a
 * journalmatch itself (`journal[_SYSTEMD_UNIT=sshd.service + _COMM=sshd]`).
 */
function journalLog(log: string): JournalLog {
  const inside = JOURNAL.exec(log)?.[1];
  if (inside === undefined) return { source: {} };
  if (/^\s*(?:\+|[A-Z0-9_]+=)/.test(inside)) return { source: {}, match: inside };
  const { options } = parseOptionSpec(log, () => `test-filter "${log}"`);
  const { journalmatch, ...backend } = options;
  return { source: parseJournalSource(backend, `test-filter "${log}"`, process.cwd()), ...(journalmatch === undefined ? {} : { match: journalmatch }) };
}

/**
 * LOG is a file when one exists by that name, else the journal when it is named so; one word that
 * is neither (a typo of a file name: a log line has spaces) is a mistake; anything else, or
 * anything with --line, is one line.
 */
function logSource(log: string, asLine: boolean): { file: string } | { journal: JournalLog } | { line: string } {
  if (asLine) return { line: log };
  if (existsSync(log)) {
    if (!statSync(log).isFile()) throw new InputError(`${log} is not a file: give a log file, the journal, or one log line in quotes`);
    return { file: log };
  }
  if (JOURNAL.test(log)) return { journal: journalLog(log) };
  if (!/\s/.test(log.trim())) throw new InputError(`log file not found: ${log} (to test it as one log line, add --line)`);
  return { line: log };
}

/** The match a journal is read with: `-m`, else the one given with the journal, else the filter's own. */
function journalMatch(journal: JournalLog, option: string | undefined, definition: FilterDefinition): JournalMatch | undefined {
  return parseJournalMatch(option ?? journal.match ?? definition.journalmatch ?? '');
}

/** The journal's entries as lines with their times; entries over the line limit are counted, not matched. */
async function* journalLines(batches: AsyncIterable<JournalBatch>, dropped: { count: number }): AsyncGenerator<TimedLines> {
  for await (const batch of batches) {
    dropped.count += batch.dropped;
    if (batch.entries.length > 0) yield { lines: batch.entries.map((e) => e.line), times: batch.entries.map((e) => e.time) };
  }
}

/**
 * The global options test-filter uses. Only with --backend or --netns, which it does not use but
 * checks as every command does, is the whole command context loaded (the backends, the store):
 * start-up weighs on a filter tried line by line.
 */
async function filterContext(command: Command): Promise<{ readonly configDir: string; readonly json: boolean }> {
  const options = command.optsWithGlobals<GlobalOptions>();
  if (options.backend !== undefined || options.netns !== undefined) return (await import('../context.js')).createContext(command);
  return { configDir: options.config ?? DEFAULT_CONFIG_DIR, json: options.json === true };
}

function printReport(filter: LogFilter, run: FilterRun, seconds: number): void {
  const { definition } = filter;
  const out = process.stdout;
  out.write(`Filter: ${definition.name} (${definition.file})\n\n`);
  const regexTable = (title: string, regexes: readonly { text: string }[], hits: readonly number[]): void => {
    out.write(`${title}: ${hits.reduce((a, b) => a + b, 0)} matches\n`);
    if (regexes.length > 0) printTable(['#', 'HITS', 'REGEX'], regexes.map((r, i) => [String(i + 1), String(hits[i] ?? 0), r.text]));
    out.write('\n');
  };
  regexTable('Failregex', definition.failregex, run.failregexHits);
  regexTable('Ignoreregex', definition.ignoreregex, run.ignoreregexHits);
  out.write('Date templates:\n');
  if (printTable(['HITS', 'TEMPLATE'], run.dateHits.map((t) => [String(t.hits), t.name])) === 0) out.write('  none matched\n');
  out.write(`\nLines: ${run.lines}, matched ${run.matched}, ignored ${run.ignored}, missed ${run.missed}`
    + ` (${seconds.toFixed(2)} s, ${Math.round(run.lines / Math.max(seconds, 1e-6))} lines/s)\n`);
}

export function register(program: Command): void {
  program
    .command('test-filter')
    .description('run a fail2ban filter over a log file or one line and show what it matches (like fail2ban-regex)')
    .argument('<log>', 'a log file, the systemd journal (journal, journal[options or match]), or one log line (quoted)')
    .argument('<filter>', 'a filter name (sshd), name with options (sshd[mode=aggressive]) or a path to a .conf file')
    .option('-v, --verbose', 'also print the lines no regex matched')
    .option('-l, --line', 'LOG is one log line, even when a file has that name or it has no space')
    .option('-m, --journalmatch <match>', "the journal: read with this journalctl match instead of the filter's (FIELD=value, + between alternatives)")
    .addOption(new Option('--logformat <format>', "each line is a container runtime's record: docker (json-file), cri (containerd, CRI-O, podman)").choices(LOG_FORMATS))
    .option('--logtimezone <zone>', 'the zone of dates that carry none (UTC, +0200, CET), as a jail\'s logtimezone')
    .addHelpText('after', `
A filter name is looked up in CONFIG/filter.d, then the filters shipped with f2b-store, then
/etc/fail2ban/filter.d. Dates without a year are read as fail2ban reads them: the latest date
not after now.

--logformat docker reads Docker's json-file logs (/var/lib/docker/containers/ID/ID-json.log),
--logformat cri those of containerd, CRI-O and Kubernetes (/var/log/pods/…/N.log) and podman's
k8s-file: the filter sees the line each record holds, at the record's time. A line the runtime
cut into several records (over 16 KiB) is skipped, as the daemon skips it.

The journal is read as fail2ban-regex systemd-journal reads it, everything it holds, each entry
as "HOST IDENT[PID]: MESSAGE" with the entry's own time, through the filter's journalmatch (or
the one given). LOG "journal" reads the system journal; "journal[journalpath=DIR]",
"journal[journalfiles=FILE…]", "journal[journalflags=N]" choose other files (fail2ban's backend
options; "systemd-journal[…]" is read the same way), "journal[FIELD=value …]" gives a match.

--json prints {"lines","matched","ignored","missed","matches":[{"lineno","line",
"host","time","fid","user","addresses"}]} plus the hits per regex and date template; "addresses"
are what a ban would block: the host's address, or a host name looked up as the filter's usedns
says (yes, warn: looked up; raw, no: none).`)
    .action(async (log: string, spec: string, options: TestFilterOptions, command: Command) => {
      const ctx = await filterContext(command);
      // Loaded only here: the regex translator would slow every other command's start.
      const { failureAddresses, LogFilter, runFilter, terminatedLineBatches } = await import('../../filter/index.js');
      const source = logSource(log, options.line === true);
      const journal = 'journal' in source ? source.journal : undefined;
      const file = 'file' in source ? source.file : undefined;
      const line = 'line' in source ? source.line : '';
      if (journal === undefined && options.journalmatch !== undefined) throw new InputError('--journalmatch reads the journal: give "journal" as the log');
      if (journal !== undefined && options.logformat !== undefined && options.logformat !== 'plain') {
        throw new InputError(`--logformat ${options.logformat} reads container log files: the journal holds no records to unwrap`);
      }
      // As fail2ban-regex: a filter read for the journal defaults to logtype = journal.
      const definition = loadFilter(spec, filterSearchDirs(ctx.configDir), journal === undefined ? {} : { backend: 'systemd' });
      // One "now" for the whole run: the file is read as it stands, and the clock is not read per line.
      const now = nowSeconds();
      const filter = new LogFilter(definition, {
        now: () => now, checkAllRegex: true,
        ...(options.logformat === undefined ? {} : { logFormat: options.logformat }),
        ...(options.logtimezone === undefined ? {} : { timeZone: options.logtimezone }),
      });
      for (const warning of filter.warnings) console.error(`f2b-store: warning: ${warning}`);
      const dropped = { count: 0 };
      let lines: AsyncIterable<RunLines> | Iterable<RunLines>;
      if (journal !== undefined) {
        const match = journalMatch(journal, options.journalmatch, definition);
        if (!ctx.json) process.stdout.write(`Journal match: ${describeJournalMatch(match)}\n\n`);
        const { readJournal } = await import('../../watch/index.js');
        lines = journalLines(readJournal({ source: journal.source, match }), dropped);
      } else {
        lines = file === undefined ? [[line]] : terminatedLineBatches(file);
      }
      const warnDropped = (): void => {
        if (dropped.count > 0) console.error(`f2b-store: warning: ${dropped.count} journal entries longer than the line limit were dropped unmatched`);
      };
      const started = performance.now();
      if (ctx.json) {
        const out = new Chunked();
        let first = true;
        out.write('{"matches":[');
        // Names are looked up once each; addresses need no lookup at all.
        const resolved = new Map<string, readonly string[]>();
        const matches: { lineno: number; line: string; failure: Failure }[] = [];
        const flush = async (): Promise<void> => {
          for (const { lineno, line, failure } of matches.splice(0)) {
            const key = `${failure.host.kind} ${failure.host.value}/${failure.host.cidr ?? ''}`;
            let addresses = resolved.get(key);
            if (addresses === undefined) resolved.set(key, addresses = await failureAddresses(failure.host, filter.useDns));
            out.write(`${first ? '' : ','}${JSON.stringify(matchJson(lineno, line, failure, addresses))}`);
            first = false;
          }
        };
        const batches = async function* (): AsyncGenerator<RunLines> {
          for await (const batch of lines) {
            yield batch;
            await flush();
          }
        };
        const run = await runFilter(filter, batches(), (lineno, line, _outcome, failures) => {
          for (const failure of failures) matches.push({ lineno, line, failure });
        });
        await flush();
        const { lines: count, matched, ignored, missed } = run;
        const rest = {
          lines: count, matched, ignored, missed,
          failregex: definition.failregex.map((r, i) => ({ regex: r.text, hits: run.failregexHits[i] ?? 0 })),
          ignoreregex: definition.ignoreregex.map((r, i) => ({ regex: r.text, hits: run.ignoreregexHits[i] ?? 0 })),
          dateTemplates: run.dateHits,
        };
        out.write(`],${JSON.stringify(rest).slice(1)}\n`);
        out.flush();
        warnDropped();
        return;
      }
      // Missed lines are printed as they come, so a large log is never held in memory.
      const out = new Chunked();
      let missed = 0;
      const run = await runFilter(filter, lines, (lineno, line, outcome: LineOutcome) => {
        if (!options.verbose || outcome !== 'missed') return;
        out.write(`${missed++ === 0 ? 'Missed lines:\n' : ''}${lineno}: ${line}\n`);
      });
      if (missed > 0) out.write('\n');
      out.flush();
      printReport(filter, run, (performance.now() - started) / 1000);
      warnDropped();
    });
}

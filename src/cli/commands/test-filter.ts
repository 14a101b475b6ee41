import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError, isoTime, nowSeconds } from '../../core/index.js';
import { filterSearchDirs, loadFilter } from '../../config/index.js';
import type { Failure, FilterRun, LineOutcome, LogFilter } from '../../filter/index.js';
import { createContext } from '../context.js';
import { Chunked, printTable } from '../output.js';

interface TestFilterOptions {
  verbose?: boolean;
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

/** LOG is a file when one exists by that name; something that looks like a path but is not there is a mistake. */
function logSource(log: string): { file: string } | { line: string } {
  if (existsSync(log)) {
    if (!statSync(log).isFile()) throw new InputError(`${log} is not a file: give a log file, or one log line in quotes`);
    return { file: log };
  }
  if (/^\.{0,2}\//.test(log) && !/\s/.test(log)) throw new InputError(`log file not found: ${log}`);
  return { line: log };
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
    .argument('<log>', 'a log file, or one log line (quoted)')
    .argument('<filter>', 'a filter name (sshd), name with options (sshd[mode=aggressive]) or a path to a .conf file')
    .option('-v, --verbose', 'also print the lines no regex matched')
    .addHelpText('after', `
A filter name is looked up in CONFIG/filter.d, then the filters shipped with f2b-store, then
/etc/fail2ban/filter.d. Dates without a year are read as fail2ban reads them: the latest date
not after now. --json prints {"lines","matched","ignored","missed","matches":[{"lineno","line",
"host","time","fid","user","addresses"}]} plus the hits per regex and date template; "addresses"
are what a ban would block: the host's address, or a host name looked up as the filter's usedns
says (yes, warn: looked up; raw, no: none).`)
    .action(async (log: string, spec: string, options: TestFilterOptions, command: Command) => {
      const ctx = createContext(command);
      // Loaded only here: the regex translator would slow every other command's start.
      const { failureAddresses, LogFilter, logLineBatches, runFilter } = await import('../../filter/index.js');
      const source = logSource(log);
      const definition = loadFilter(spec, filterSearchDirs(ctx.configDir));
      // One "now" for the whole run: the file is read as it stands, and the clock is not read per line.
      const now = nowSeconds();
      const filter = new LogFilter(definition, { now: () => now, checkAllRegex: true });
      for (const warning of filter.warnings) console.error(`f2b-store: warning: ${warning}`);
      const lines = 'file' in source ? logLineBatches(source.file) : [[source.line]];
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
        const batches = async function* (): AsyncGenerator<readonly string[]> {
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
    });
}

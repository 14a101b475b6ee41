/**
 * Runs a FilterWorker over lines that each take about a sixth of its budget, for a test that
 * stops this whole process (SIGSTOP, as a paused VM) while the worker is on one of them. Prints
 * "ready" once the worker is warm and the batch is handed over, then the lines dropped and the
 * failures found, as JSON. Argument: the budget in ms.
 */
import { FAIL2BAN_FILTER_DIR, loadFilter } from '../../src/config/index.js';
import { FilterWorker, LogFilter, unpackFailures, type FilterEntry, type SlowLine } from '../../src/filter/index.js';

const budgetMs = Number(process.argv[2]);
const NOW = 1458409244 + 100;
/** fail2ban's exim filter backtracks exponentially on a run of quotes: each quote doubles a line's time. */
const exim: FilterEntry = { definition: loadFilter('exim', [FAIL2BAN_FILTER_DIR]), options: { assumeNow: true } };
const slowLine = (quotes: number): string => `2016-03-19 18:40:44 [26221] SMTP protocol error in "a${'"'.repeat(quotes)} [198.51.100.9]:14243 AUTH command used when not advertised!`;
const FAILURE = '2016-03-19 18:40:44 [26221] SMTP protocol error in "AUTH LOGIN aW5mb0BtYW5iYXQub3Jn" H=([127.0.0.1]) [198.51.100.4]:14243 I=[172.89.0.6]:587 AUTH command used when not advertised';

// The run of quotes whose line takes at least a sixth of the budget here, now.
const probe = new LogFilter(exim.definition, { assumeNow: true, now: () => NOW });
let quotes = 10;
for (;;) {
  const started = performance.now();
  probe.processLine(slowLine(quotes));
  if (performance.now() - started >= budgetMs / 6) break;
  quotes++;
}

const slow: SlowLine[] = [];
const worker = new FilterWorker({ filters: new Map([['exim', exim]]), budgetMs, onSlowLine: (s) => slow.push(s) });
// The worker compiles its RegExps on its first line: not inside the batch the test pauses.
await worker.process('/var/log/exim4/mainlog', ['exim'], [FAILURE], NOW);
const batch = worker.process('/var/log/exim4/mainlog', ['exim'], [...Array<string>(8).fill(slowLine(quotes)), FAILURE], NOW);
process.stdout.write('ready\n');
const packed = (await batch).failures.get('exim');
const found = packed === undefined ? [] : unpackFailures(packed);
await worker.close();
process.stdout.write(`${JSON.stringify({ quotes, dropped: slow.map((s) => s.index), found: found.map((l) => [l.index, l.failures[0]?.host.value]) })}\n`);

/**
 * fail2ban's own filters (`/etc/fail2ban/filter.d`, Debian's fail2ban package) on fail2ban's own
 * sample logs: every record of test/fixtures/compat/fail2ban-samples.jsonl, fed in order per
 * filter instance, must match or not as fail2ban does, with the same host, time and captures.
 * Conventions in test/fixtures/compat/README.md. Prints the pass rate per filter and overall.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadFilter } from '../../src/config/index.js';
import { LogFilter, type Failure } from '../../src/filter/index.js';
import { readSampleRecords, SAMPLES_NOW as NOW, SAMPLES_TZ, type SampleRecord } from '../helpers/fail2ban-samples.js';
import { inTimeZone } from '../helpers/time-zone.js';

const FILTER_D = '/etc/fail2ban/filter.d';
const TEST_FILTER_D = '/usr/lib/python3/dist-packages/fail2ban/tests/config/filter.d';
/** Only ever raised. */
const REQUIRED_PASS_RATE = 1;
/** These must pass completely. */
const MUST_PASS = ['sshd', 'postfix', 'dovecot', 'exim', 'nginx-http-auth', 'apache-auth', 'recidive'];

const NOT_CAPTURES = new Set(['time', 'match', 'desc', 'constraint']);

function createFilter(record: SampleRecord): LogFilter {
  const zzz = record.filter.startsWith('zzz-');
  const definition = loadFilter(record.filter, [zzz ? TEST_FILTER_D : FILTER_D], {
    overrides: record.filterOptions ?? {},
    // The zzz-* test filters include common.conf by its path in fail2ban's source tree.
    resolveInclude: (path) => (path.endsWith('config/filter.d/common.conf') ? `${FILTER_D}/common.conf` : path),
  });
  return new LogFilter(definition, { now: () => NOW, checkAllRegex: true, useDns: 'raw' });
}

const sorted = (value: unknown): unknown => (Array.isArray(value) ? [...(value as string[])].sort() : value);

/** What differs between the failures a line gave and what fail2ban's test expects; '' when they agree. */
function compare(record: SampleRecord, failures: readonly Failure[]): string {
  if (!record.expect.match) return failures.length === 0 ? '' : `matched (${failures.map((f) => f.host.value).join(', ')}), should not`;
  if (failures.length !== 1) return failures.length === 0 ? 'did not match' : `${failures.length} failregexes matched`;
  const [failure] = failures as [Failure];
  const problems: string[] = [];
  for (const [key, want] of Object.entries(record.expect)) {
    if (NOT_CAPTURES.has(key)) continue;
    let got: unknown = key === 'users' ? failure.users : failure.captures[key];
    if (got === undefined && key === 'host') got = failure.fid ?? failure.host.value;
    if (got === undefined && key === 'attempts') got = failure.lines.length;
    if (JSON.stringify(sorted(got ?? null)) !== JSON.stringify(sorted(want))) problems.push(`${key} ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
  }
  if (record.epoch !== null && failure.time !== record.epoch) problems.push(`time ${failure.time} ≠ ${record.epoch}`);
  return problems.join('; ');
}

describe('fail2ban conformance: stock filters on fail2ban\'s sample logs', () => {
  inTimeZone(SAMPLES_TZ);
  it(`passes at least ${REQUIRED_PASS_RATE * 100}% of the corpus, and all of ${MUST_PASS.join(', ')}`, () => {
    const records = readSampleRecords();
    const filters = new Map<string, LogFilter | Error>();
    const perFilter = new Map<string, { pass: number; total: number; failures: string[] }>();
    for (const record of records) {
      let filter = filters.get(record.instance);
      if (filter === undefined) {
        try {
          filter = createFilter(record);
        } catch (error) {
          filter = error instanceof Error ? error : new Error(String(error));
        }
        filters.set(record.instance, filter);
      }
      let problem: string;
      if (filter instanceof Error) {
        problem = `cannot load: ${filter.message}`;
      } else {
        const journal = record.filterOptions?.logtype === 'journal';
        problem = compare(record, filter.processLine(record.line, journal ? NOW : undefined).failures);
      }
      const stats = perFilter.get(record.filter) ?? { pass: 0, total: 0, failures: [] };
      perFilter.set(record.filter, stats);
      stats.total++;
      if (problem === '') stats.pass++;
      else stats.failures.push(`${record.file}:${record.lineno} [${record.instance}] ${problem}\n      ${record.line}`);
    }

    const pass = [...perFilter.values()].reduce((n, s) => n + s.pass, 0);
    const rate = pass / records.length;
    const lines = [...perFilter].map(([name, s]) => `${s.pass === s.total ? '  ' : '✗ '}${name.padEnd(32)} ${s.pass}/${s.total}`);
    console.log(`fail2ban conformance: ${pass}/${records.length} (${(100 * rate).toFixed(2)}%) over ${perFilter.size} filters\n${lines.join('\n')}`);
    const failing = [...perFilter].filter(([, s]) => s.failures.length > 0);
    if (failing.length > 0) {
      console.log(failing.map(([name, s]) => `${name}:\n    ${s.failures.slice(0, 5).join('\n    ')}`).join('\n'));
    }
    for (const name of MUST_PASS) {
      const stats = perFilter.get(name);
      assert.ok(stats && stats.total > 0, `the corpus has records for ${name}`);
      assert.deepEqual(stats.failures, [], `${name} passes completely`);
    }
    assert.ok(rate >= REQUIRED_PASS_RATE, `pass rate ${(100 * rate).toFixed(2)}% ≥ ${REQUIRED_PASS_RATE * 100}%`);
  });

  it('reads each line given with its newline as a slice of the text read, and told when it is ASCII (as test-filter reads a file), as it reads the line alone', () => {
    const pairs = new Map<string, { alone: LogFilter; sliced: LogFilter } | null>();
    let compared = 0;
    for (const record of readSampleRecords()) {
      let pair = pairs.get(record.instance);
      if (pair === undefined) {
        try {
          pair = { alone: createFilter(record), sliced: createFilter(record) };
        } catch {
          pair = null;
        }
        pairs.set(record.instance, pair);
      }
      if (pair === null) continue;
      const time = record.filterOptions?.logtype === 'journal' ? NOW : undefined;
      const alone = pair.alone.processLine(record.line, time);
      const sliced = pair.sliced.processLine(record.line, time, `\n${record.line}\n`.slice(1), /^[\0-\x7f]*$/.test(record.line));
      assert.deepEqual(sliced, alone, `${record.file}:${record.lineno} [${record.instance}]`);
      compared++;
    }
    assert.ok(compared > 1500, `${compared} lines compared`);
  });
});

/**
 * Our shipped mail filters against fail2ban's own: every record of fail2ban's sample logs
 * (test/fixtures/compat/fail2ban-samples.jsonl, conventions in its README) for a family goes
 * through OUR filter in the same mode. Every line fail2ban counts, ours must count with the same
 * host, and no line fail2ban's samples say must not count may count in ours, unless the family
 * lists it as an exception with the reason. An exception that no longer differs fails too, so the
 * list stays true. Prints ours against fail2ban's counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadFilter, SHIPPED_FILTER_DIR } from '../../src/config/index.js';
import { LogFilter } from '../../src/filter/index.js';
import { readSampleRecords, SAMPLES_NOW as NOW, SAMPLES_TZ, type SampleRecord } from '../helpers/fail2ban-samples.js';

process.env.TZ = SAMPLES_TZ;

interface Exception {
  readonly file: string;
  readonly lineno: number;
  readonly why: string;
}

interface Family {
  /** fail2ban's filter, as the corpus names it. */
  readonly family: string;
  /** Ours, in filters/. */
  readonly filter: string;
  /** fail2ban's mode of a record ('' for its default) → ours; a record in a mode not listed fails the test. */
  readonly modes: Readonly<Record<string, string>>;
  readonly exceptions: readonly Exception[];
}

const MAIL_FAMILIES: readonly Family[] = [
  {
    family: 'postfix',
    filter: 'postfix',
    modes: { '': 'normal', normal: 'normal', rbl: 'rbl', auth: 'auth', errors: 'errors', ddos: 'ddos', aggressive: 'aggressive' },
    exceptions: [],
  },
  {
    family: 'dovecot',
    filter: 'dovecot',
    modes: { '': 'normal', aggressive: 'aggressive' },
    exceptions: [],
  },
];

/** Per fail2ban mode: lines fail2ban counts, of those ours counts too; lines it refuses, of those ours counts. */
interface Tally {
  counted: number;
  oursToo: number;
  refused: number;
  oursCount: number;
}

interface Outcome {
  readonly tallies: ReadonlyMap<string, Tally>;
  readonly differences: readonly string[];
}

function compareFamily(family: Family, records: readonly SampleRecord[]): Outcome {
  const filters = new Map<string, LogFilter>();
  const exceptions = new Map(family.exceptions.map((e) => [`${e.file}:${e.lineno}`, e]));
  const unusedExceptions = new Set(exceptions.keys());
  const differences: string[] = [];
  const tallies = new Map<string, Tally>();
  for (const record of records) {
    const theirMode = record.filterOptions?.mode ?? '';
    const mode = family.modes[theirMode];
    const where = `${record.file}:${record.lineno}`;
    if (mode === undefined) {
      differences.push(`${where}: fail2ban's mode "${theirMode}" has no counterpart in ${family.filter}`);
      continue;
    }
    let filter = filters.get(mode);
    if (!filter) {
      filter = new LogFilter(loadFilter(family.filter, [SHIPPED_FILTER_DIR], { overrides: { mode } }), { now: () => NOW, checkAllRegex: true });
      filters.set(mode, filter);
    }
    const hosts = filter.processLine(record.line).failures.map((f) => f.host.value);
    const tally = tallies.get(theirMode) ?? { counted: 0, oursToo: 0, refused: 0, oursCount: 0 };
    tallies.set(theirMode, tally);
    let problem: string | undefined;
    if (record.expect.match) {
      tally.counted++;
      if (hosts.length > 0 && hosts.every((h) => h === record.expect.host)) tally.oursToo++;
      else problem = hosts.length === 0 ? 'fail2ban counts it, ours does not' : `fail2ban counts ${String(record.expect.host)}, ours ${hosts.join(', ')}`;
    } else {
      tally.refused++;
      if (hosts.length > 0) {
        tally.oursCount++;
        problem = `fail2ban's sample says no failure, ours counts ${hosts.join(', ')}`;
      }
    }
    if (problem === undefined) continue;
    if (exceptions.has(where)) unusedExceptions.delete(where);
    else differences.push(`${where} [${mode}]: ${problem}\n      ${record.line}`);
  }
  for (const key of unusedExceptions) differences.push(`${key}: listed as an exception, but ours agrees with fail2ban there`);
  return { tallies, differences };
}

describe('shipped mail filters against fail2ban\'s own, on fail2ban\'s sample logs', () => {
  const records = readSampleRecords();

  for (const family of MAIL_FAMILIES) {
    it(`${family.filter}: counts every line fail2ban's ${family.family} counts, with the same host, and none it refuses, but for the listed exceptions`, () => {
      const own = records.filter((r) => r.filter === family.family);
      assert.ok(own.length > 0, `the corpus has records for ${family.family}`);
      const outcome = compareFamily(family, own);
      const rows = [...outcome.tallies].map(([mode, t]) => `  ${(mode || '(default)').padEnd(11)} fail2ban counts ${t.counted}, ours ${t.oursToo} of them;`
        + ` fail2ban refuses ${t.refused}, ours counts ${t.oursCount} of them`);
      console.log(`${family.filter} against fail2ban's ${family.family} (${own.length} lines, ${family.exceptions.length} exceptions):\n${rows.join('\n')}`);
      assert.deepEqual(outcome.differences, [], `${family.filter} against fail2ban's ${family.family}`);
    });
  }
});

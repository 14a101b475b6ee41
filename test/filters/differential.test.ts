/**
 * Our shipped filters against fail2ban's own, on fail2ban's sample logs: every record of
 * test/fixtures/compat/fail2ban-samples.jsonl for a family goes through fail2ban's stock filter
 * and through the filter we ship, with the same options (mode, logtype) and in the same order
 * (multi-line sessions carry from one record to the next). Every line fail2ban counts, ours
 * must count too, for the same host, and no line its samples refuse, unless it is listed below
 * with the reason.
 * fail2ban's filter runs in our engine, which test/filter/conformance.test.ts holds equal to
 * fail2ban on this corpus. Prints both counts per option set.
 *
 * Then the same families on fail2ban's newest samples (fail2ban-upstream-samples.jsonl: lines
 * its users reported after 1.0.2, with what its tests expect of them): ours must read each as
 * they say, unless listed with the reason.
 *
 * Adding a family is one entry in FAMILIES.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { FAIL2BAN_FILTER_DIR, loadFilter } from '../../src/config/index.js';
import { tryParseAddress } from '../../src/core/index.js';
import { LogFilter, type Failure } from '../../src/filter/index.js';
import { readSampleRecords, SAMPLES_NOW as NOW, SAMPLES_TZ } from '../helpers/fail2ban-samples.js';
import { inTimeZone } from '../helpers/time-zone.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Exception {
  /** The sample file and line in fail2ban's tests/files/logs. */
  readonly file: string;
  readonly lineno: number;
  readonly why: string;
}

interface Family {
  /** fail2ban's filter name, as the corpus records it. */
  readonly family: string;
  /** Ours, relative to the repository. */
  readonly filter: string;
  /** Modes the corpus must exercise. */
  readonly modes: readonly string[];
  readonly exceptions: readonly Exception[];
  /** Lines of fail2ban's newest samples (fail2ban-upstream-samples.jsonl) ours reads otherwise than they say. */
  readonly upstream?: readonly Exception[];
}

const SYNTHETIC_TAIL = 'fail2ban\'s injection test: no OpenSSH writes ": ..." after a password failure, so in a line of an invalid user (a name the client chose) the text after "ssh2:" may be the rest of that name, and the address before it the client\'s own text; ours does not count the line rather than take an address from it';

const NGINX_FIRST_CLIENT = 'fail2ban\'s injection test: ", client: " twice in the line. nginx cuts a Basic user name at its first ":", so the first ", client: " is nginx\'s own and the rest came in the Host header: ours counts that first address (127.0.0.1); fail2ban\'s filter takes the last, which a Referer can forge (our samples\' line 41)';

const FAMILIES: readonly Family[] = [
  {
    family: 'sshd',
    filter: 'filters/sshd.conf',
    modes: ['normal', 'ddos', 'extra', 'aggressive'],
    exceptions: [
      { file: 'sshd', lineno: 144, why: SYNTHETIC_TAIL },
      { file: 'sshd-journal', lineno: 145, why: SYNTHETIC_TAIL },
    ],
    upstream: [
      { file: 'sshd', lineno: 147, why: SYNTHETIC_TAIL },
      { file: 'sshd-journal', lineno: 145, why: SYNTHETIC_TAIL },
    ],
  },
  {
    family: 'postfix',
    filter: 'filters/postfix.conf',
    modes: ['normal', 'rbl', 'auth', 'errors', 'ddos', 'aggressive'],
    exceptions: [163, 165].map((lineno) => ({
      file: 'postfix', lineno,
      why: 'fail2ban 1.0.2 counts "lost connection after AUTH"; its later filter does not (gh-3505), nor does ours: the "disconnect ... auth=0/1" line that follows counts the failed AUTH, and counting both bans at half of maxretry',
    })),
  },
  { family: 'dovecot', filter: 'filters/dovecot.conf', modes: ['normal', 'aggressive'], exceptions: [] },
  { family: 'apache-auth', filter: 'filters/apache-auth.conf', modes: ['normal', 'aggressive'], exceptions: [] },
  {
    family: 'nginx-http-auth',
    filter: 'filters/nginx-http-auth.conf',
    modes: ['normal', 'auth', 'fallback', 'aggressive'],
    exceptions: [
      { file: 'nginx-http-auth', lineno: 14, why: NGINX_FIRST_CLIENT },
    ],
    upstream: [{ file: 'nginx-http-auth', lineno: 14, why: NGINX_FIRST_CLIENT }],
  },
  { family: 'qmail', filter: 'filters/qmail-rbl.conf', modes: ['normal'], exceptions: [] },
  { family: 'exim', filter: 'filters/exim.conf', modes: ['normal', 'aggressive'], exceptions: [] },
  { family: 'asterisk', filter: 'filters/asterisk.conf', modes: ['normal'], exceptions: [] },
  {
    family: 'vsftpd',
    filter: 'filters/vsftpd.conf',
    modes: ['normal'],
    exceptions: [
      { file: 'vsftpd', lineno: 7, why: 'Linux-PAM before 0.99.2 wrote the module into the tag (vsftpd(pam_unix)[pid]): fail2ban 1.0.2\'s samples say it must not count, its later ones that it counts (gh-3954), as ours does' },
    ],
  },
  { family: 'proftpd', filter: 'filters/proftpd.conf', modes: ['normal'], exceptions: [] },
  { family: 'pure-ftpd', filter: 'filters/pure-ftpd.conf', modes: ['normal'], exceptions: [] },
  { family: 'roundcube-auth', filter: 'filters/roundcube-auth.conf', modes: ['normal'], exceptions: [] },
  { family: 'mysqld-auth', filter: 'filters/mysqld-auth.conf', modes: ['normal'], exceptions: [] },
  { family: 'recidive', filter: 'filters/recidive.conf', modes: ['normal'], exceptions: [] },
  { family: 'squirrelmail', filter: 'filters/squirrelmail.conf', modes: ['normal'], exceptions: [] },
];

/** An address in one spelling; a host name as written. */
const canonical = (failure: Failure): string => tryParseAddress(failure.host.value)?.text ?? failure.host.value;

/** A filter as the samples' test runs it: their clock, every failregex tried, host names as written. */
const sampleFilter = (spec: string, dirs: string[], options: Readonly<Record<string, string>>): LogFilter =>
  new LogFilter(loadFilter(spec, dirs, { overrides: options }), { now: () => NOW, checkAllRegex: true, useDns: 'raw' });

const whereOf = (e: { readonly file: string; readonly lineno: number }): string => `${e.file}:${e.lineno}`;

/** Listed exceptions no line needed: ours reads them as the samples say now. */
const stale = (exceptions: readonly Exception[], excused: ReadonlySet<string>): string[] =>
  exceptions.map(whereOf).filter((where) => !excused.has(where));

const records = readSampleRecords();

describe('shipped filters against fail2ban\'s on fail2ban\'s sample logs', () => {
  inTimeZone(SAMPLES_TZ);
  for (const { family, filter, modes, exceptions } of FAMILIES) {
    it(`${family}: every line fail2ban's filter counts, ${filter} counts for the same host, or says why not; none its samples refuse`, () => {
      const mine = records.filter((r) => r.filter === family);
      assert.ok(mine.length > 0, `the corpus has records for ${family}`);
      const filters = new Map<string, { ours: LogFilter; theirs: LogFilter }>();
      const counts = new Map<string, { theirs: number; ours: number; same: number; oursOnly: number }>();
      const excused = new Set<string>();
      const missed: string[] = [];
      const falseAlarms: string[] = [];
      for (const record of mine) {
        const options = record.filterOptions ?? {};
        let pair = filters.get(record.instance);
        if (pair === undefined) {
          pair = { ours: sampleFilter(`${ROOT}${filter}`, [], options), theirs: sampleFilter(family, [FAIL2BAN_FILTER_DIR], options) };
          filters.set(record.instance, pair);
        }
        const time = options.logtype === 'journal' ? NOW : undefined;
        const theirs = pair.theirs.processLine(record.line, time).failures.map(canonical);
        const ours = pair.ours.processLine(record.line, time).failures.map(canonical);
        const key = JSON.stringify(options);
        const count = counts.get(key) ?? { theirs: 0, ours: 0, same: 0, oursOnly: 0 };
        counts.set(key, count);
        if (theirs.length > 0) count.theirs++;
        if (ours.length > 0) count.ours++;
        if (theirs.length === 0 && ours.length > 0) count.oursOnly++;
        const where = whereOf(record);
        const exception = exceptions.some((e) => whereOf(e) === where);
        if (!record.expect.match && ours.length > 0) {
          if (exception) excused.add(where);
          else falseAlarms.push(`${where} ${key}: ours ${ours.join(', ')}\n    ${record.line}`);
        }
        if (theirs.length === 0) continue;
        if (theirs.every((host) => ours.includes(host))) {
          count.same++;
          continue;
        }
        if (exception) {
          excused.add(where);
          continue;
        }
        missed.push(`${where} ${key}: fail2ban ${theirs.join(', ')}, ours ${ours.join(', ') || 'nothing'}\n    ${record.line}`);
      }
      const table = [...counts].map(([options, c]) =>
        `  ${options.padEnd(42)} fail2ban ${String(c.theirs).padStart(3)}   ours ${String(c.ours).padStart(3)}   same host ${String(c.same).padStart(3)}   ours only ${c.oursOnly}`);
      console.log(`${family}: ${filter} against fail2ban's ${family}.conf, lines counted per option set\n${table.join('\n')}\n  excused: ${excused.size} lines (${[...excused].join(', ')})`);
      const exercised = new Set([...counts.keys()].map((k) => (JSON.parse(k) as Record<string, string>).mode ?? 'normal'));
      assert.deepEqual(modes.filter((m) => !exercised.has(m)), [], `${family}: modes the corpus does not exercise`);
      assert.deepEqual(missed, [], `${family}: lines fail2ban counts and ours does not`);
      assert.deepEqual(falseAlarms, [], `${family}: lines fail2ban's samples say must not count, and ours counts`);
      assert.deepEqual(stale(exceptions, excused), [], `${family}: listed exceptions ours now counts (remove them)`);
    });
  }
});

const upstream = readSampleRecords('fail2ban-upstream-samples.jsonl');

describe('shipped filters on fail2ban\'s newest sample logs (fail2ban-upstream-samples.jsonl)', () => {
  inTimeZone(SAMPLES_TZ);
  for (const { family, filter, upstream: exceptions = [] } of FAMILIES) {
    it(`${family}: every line those samples count, ${filter} counts for the same host, and none they refuse, or says why`, () => {
      const mine = upstream.filter((r) => r.filter === family);
      assert.ok(mine.length > 0, `the corpus has records for ${family}`);
      const filters = new Map<string, LogFilter>();
      const excused = new Set<string>();
      const wrong: string[] = [];
      for (const record of mine) {
        const options = record.filterOptions ?? {};
        let ours = filters.get(record.instance);
        if (ours === undefined) {
          ours = sampleFilter(`${ROOT}${filter}`, [], options);
          filters.set(record.instance, ours);
        }
        const got = ours.processLine(record.line, options.logtype === 'journal' ? NOW : undefined).failures.map(canonical);
        const host = typeof record.expect.host === 'string' ? tryParseAddress(record.expect.host)?.text ?? record.expect.host : undefined;
        const right = record.expect.match ? (host === undefined ? got.length > 0 : got.includes(host)) : got.length === 0;
        if (right) continue;
        const where = whereOf(record);
        if (exceptions.some((e) => whereOf(e) === where)) {
          excused.add(where);
          continue;
        }
        wrong.push(`${where} ${JSON.stringify(options)}: the samples say ${record.expect.match ? host ?? 'a match' : 'no match'}, ours ${got.join(', ') || 'nothing'}\n    ${record.line}`);
      }
      assert.deepEqual(wrong, [], `${family}: lines ours reads otherwise than fail2ban's newest samples say`);
      assert.deepEqual(stale(exceptions, excused), [], `${family}: listed exceptions ours now reads as the samples say (remove them)`);
    });
  }
});

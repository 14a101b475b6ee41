/**
 * A journal entry becomes the line fail2ban's journal backend feeds to filters. Checked three
 * ways: fail2ban's fallbacks one by one; generated entries in a real journal file, formatted by
 * fail2ban's own FilterSystemd (Debian's python3-systemd) and by us; and fail2ban's sample lines
 * with `logtype = journal` expectations, written as entries, read back and matched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { loadFilter } from '../../src/config/index.js';
import { LogFilter } from '../../src/filter/index.js';
import { formatJournalLine, journalFields, journalTime, readJournal, type JournalEntry, type JournalJson } from '../../src/watch/index.js';
import { readSampleRecords } from '../helpers/fail2ban-samples.js';
import { journalFile, type ExportEntry, type ExportValue } from '../helpers/journal.js';

const utf8 = (bytes: Buffer): string => bytes.toString('utf8');
const line = (json: JournalJson): string => formatJournalLine(json, utf8);

async function readAll(path: string): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  for await (const batch of readJournal({ source: { files: [path] }, match: undefined, fields: ['ID'] })) entries.push(...batch.entries);
  return entries;
}

describe('journal entries as fail2ban\'s lines', () => {
  it('HOST IDENT[PID]: MESSAGE, with fail2ban\'s fallbacks', () => {
    const base = { _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: '812', MESSAGE: 'Failed password' };
    assert.equal(line(base), 'web1 sshd[812]: Failed password');
    assert.equal(line({ ...base, _HOSTNAME: '' }), 'sshd[812]: Failed password');
    assert.equal(line({ ...base, SYSLOG_IDENTIFIER: '', _COMM: 'sshd-session', SYSLOG_PID: undefined as never, _PID: '9' }), 'web1 sshd-session[9]: Failed password');
    // fail2ban's converter makes PIDs numbers: 0 counts as none, " 42" and "007" are 42 and 7.
    assert.equal(line({ ...base, SYSLOG_PID: '0', _PID: '77' }), 'web1 sshd[77]: Failed password');
    assert.equal(line({ ...base, SYSLOG_PID: ' 42' }), 'web1 sshd[42]: Failed password');
    assert.equal(line({ ...base, SYSLOG_PID: '007' }), 'web1 sshd[7]: Failed password');
    // Where fail2ban would print Python's bytes repr (sshd[b'x1']), the text is kept.
    assert.equal(line({ ...base, SYSLOG_PID: 'x1' }), 'web1 sshd[x1]: Failed password');
    assert.equal(line({ MESSAGE: 'no identifier' }), 'no identifier');
    assert.equal(line({ _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd' }), 'web1 sshd: ');
    assert.equal(line({ SYSLOG_IDENTIFIER: 'kernel', _SOURCE_MONOTONIC_TIMESTAMP: '5123456', __MONOTONIC_TIMESTAMP: '9', MESSAGE: 'x' }), 'kernel: [    5.123456] x');
    assert.equal(line({ _COMM: 'kernel', __MONOTONIC_TIMESTAMP: '123456789012', MESSAGE: 'x' }), 'kernel: [123456.789012] x');
    assert.equal(line({ SYSLOG_IDENTIFIER: 'kernel', SYSLOG_PID: '1', __MONOTONIC_TIMESTAMP: '9', MESSAGE: 'x' }), 'kernel[1]: x');
  });

  it('values: repeated MESSAGE joined, bytes decoded, new lines written as \\n', () => {
    assert.equal(line({ SYSLOG_IDENTIFIER: 'a', MESSAGE: ['one', 'two'] }), 'a: one two');
    assert.equal(line({ MESSAGE: [...Buffer.from('tab\there')] }), 'tab\there');
    assert.equal(line({ MESSAGE: [0x66, 0xff, 0x6f] }), 'f\uFFFDo');
    assert.equal(formatJournalLine({ MESSAGE: [0x66, 0xfc] }, (b) => b.toString('latin1')), 'fü', 'the logencoding reads what is not UTF-8');
    assert.equal(line({ _HOSTNAME: 'h', SYSLOG_IDENTIFIER: 'a\nb', MESSAGE: 'x\ny\n' }), 'h a\\nb: x\\ny\\n');
    assert.equal(line({ MESSAGE: null }), '');
  });

  it('time from the entry\'s fields: the source time, else the reception time, microseconds kept', () => {
    assert.equal(journalTime({ __REALTIME_TIMESTAMP: '1700000000123456' }), 1_700_000_000.123456);
    assert.equal(journalTime({ __REALTIME_TIMESTAMP: '1700000000123456', _SOURCE_REALTIME_TIMESTAMP: '1699999999000001' }), 1_699_999_999.000001);
    assert.equal(journalTime({ __REALTIME_TIMESTAMP: '1700000000000000', _SOURCE_REALTIME_TIMESTAMP: 'soon' }), 1_700_000_000);
    assert.equal(journalTime({ MESSAGE: 'Mar 19 18:40:45 no time field' }), undefined);
  });

  it('fields for routing: every value, bytes that are not UTF-8 as U+FFFD, no journal-internal fields', () => {
    const fields = journalFields({ __CURSOR: 'c', _COMM: 'sshd', X: ['a', [0xff]], MESSAGE: null });
    assert.deepEqual({ ...fields }, { _COMM: ['sshd'], X: ['a', '\uFFFD'], MESSAGE: [] });
    assert.equal(Object.getPrototypeOf(fields), null);
  });

  it('agrees with fail2ban\'s own journal reader on a real journal file (property)', async () => {
    const opt = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
    const text = fc.constantFrom('Failed password for root from 203.0.113.9', 'two\nlines', 'a\nb\n', 'tab\tü', ' spaced ', '');
    const message: fc.Arbitrary<ExportValue | ExportValue[]> = fc.oneof(
      text, fc.array(text, { minLength: 2, maxLength: 3 }), fc.constant(Buffer.from([0x66, 0xff, 0x0a, 0x41])),
    );
    const entry = fc.record({
      _HOSTNAME: opt(fc.constantFrom('host1', 'srv-2.example', '')),
      SYSLOG_IDENTIFIER: opt(fc.constantFrom('sshd', 'kernel', 'my app', '')),
      _COMM: opt(fc.constantFrom('sshd', 'kernel', '')),
      SYSLOG_PID: opt(fc.constantFrom('123', '0', '', ' 42', '007')),
      _PID: opt(fc.constantFrom('0', '99')),
      MESSAGE: opt(message),
      _SOURCE_REALTIME_TIMESTAMP: opt(fc.constantFrom('1699999999000001', '1500000000999999')),
      _SOURCE_MONOTONIC_TIMESTAMP: opt(fc.constantFrom('12345678', '1')),
      time: fc.integer({ min: 1_600_000_000_000_000, max: 1_800_000_000_000_000 }),
    });
    const FAIL2BAN = `
import json, sys
from fail2ban.server.filtersystemd import FilterSystemd
flt = FilterSystemd(None, journalfiles=sys.argv[1])
for entry in flt.getJournalReader():
    line, time = flt.formatJournalEntry(entry)
    print(json.dumps({"id": entry["ID"], "line": line[0] + line[2], "time": time}))
`;
    await fc.assert(fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 60 }), async (generated) => {
      const entries: ExportEntry[] = generated.map(({ time, ...fields }, i) => ({
        time: time / 1e6,
        fields: { ID: String(i), ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) } as ExportEntry['fields'],
      }));
      const file = journalFile(entries);
      try {
        const python = spawnSync('/usr/bin/python3', ['-c', FAIL2BAN, file.path], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LANG: 'C.UTF-8' } });
        assert.equal(python.status, 0, python.stderr);
        const theirs = python.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; line: string; time: number });
        const ours = await readAll(file.path);
        assert.deepEqual(ours.map((e) => e.fields.ID?.[0]), theirs.map((e) => e.id));
        for (const [i, mine] of ours.entries()) {
          const their = theirs[i]!;
          assert.equal(mine.line, their.line, `entry ${their.id}: ${JSON.stringify(generated[Number(their.id)])}`);
          assert.ok(Math.abs(mine.time - their.time) < 2e-6, `entry ${their.id}: time ${mine.time} ≠ ${their.time}`);
        }
      } finally {
        file.remove();
      }
    }), { numRuns: 4 });
  });

  it('fail2ban\'s sample lines with logtype=journal, written to a journal and read back, match as fail2ban expects', async () => {
    const records = readSampleRecords().filter((r) => r.filterOptions?.logtype === 'journal' && !r.filter.startsWith('zzz-'));
    assert.ok(records.length > 200, `the corpus has journal records (${records.length})`);
    // `HOST IDENT[PID]: MESSAGE` back into fields, when formatting them gives the line again; else the line is the MESSAGE.
    const entries: ExportEntry[] = records.map((record, i) => {
      const parts = /^(\S+) ([^\s[\]:]+)(?:\[(\d+)\])?: (.*)$/s.exec(record.line);
      const parsed = parts && { _HOSTNAME: parts[1]!, SYSLOG_IDENTIFIER: parts[2]!, ...(parts[3] ? { SYSLOG_PID: parts[3] } : {}), MESSAGE: parts[4]! };
      const fields = parsed && line(parsed) === record.line ? parsed : { MESSAGE: record.line };
      return { time: 1_700_000_000 + i, fields: { ...fields, SEQ: String(record.seq) } };
    });
    assert.ok(entries.filter((e) => '_HOSTNAME' in e.fields).length > 150, 'most lines come from the fields of a syslog entry');
    const file = journalFile(entries);
    try {
      const read = await readAll(file.path);
      assert.deepEqual(read.map((e) => e.line), records.map((r) => r.line));
      const filters = new Map<string, LogFilter>();
      const problems: string[] = [];
      for (const [i, record] of records.entries()) {
        let filter = filters.get(record.instance);
        if (filter === undefined) {
          const definition = loadFilter(record.filter, ['/etc/fail2ban/filter.d'], { overrides: record.filterOptions ?? {}, backend: 'systemd' });
          filters.set(record.instance, filter = new LogFilter(definition, { now: () => 1_800_000_000, checkAllRegex: true, useDns: 'raw' }));
        }
        const entry = read[i]!;
        const failures = filter.processLine(entry.line, entry.time).failures;
        const { host: name, ip4, ip6 } = record.expect as { host?: string; ip4?: string; ip6?: string };
        const host = name ?? ip4 ?? ip6;
        const got = failures.map((f) => [host === undefined ? null : f.fid ?? f.host.value, f.time]);
        const want = record.expect.match ? [[host ?? null, entry.time]] : [];
        if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${record.instance} ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}: ${record.line}`);
      }
      assert.deepEqual(problems, []);
    } finally {
      file.remove();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadFilter, SHIPPED_FILTER_DIR, type LogFormat } from '../../src/config/index.js';
import { LogFilter, type Failure } from '../../src/filter/index.js';

const NOW = Date.parse('2024-01-12T12:00:00Z') / 1000;

/**
 * Each line through the shipped sshd filter (or `filter`), as the daemon reads a jail's file with
 * this logformat; `null` is a record the tailer dropped unread (over its length limit).
 */
function read(format: LogFormat, lines: readonly (string | null)[], filter = 'sshd', timeZone?: string): { failures: Failure[]; perLine: number[]; notRecords: number } {
  const logFilter = new LogFilter(loadFilter(filter, [SHIPPED_FILTER_DIR]), {
    now: () => NOW, assumeNow: true, logFormat: format, ...(timeZone === undefined ? {} : { timeZone }),
  });
  const failures: Failure[] = [];
  const perLine: number[] = [];
  for (const line of lines) {
    if (line === null) {
      logFilter.lineDropped();
      continue;
    }
    const found = logFilter.processLine(line).failures;
    failures.push(...found);
    perLine.push(found.length);
  }
  return { failures, perLine, notRecords: logFilter.notRecords };
}

const docker = (log: string, time = '2024-01-12T10:11:12.123456789Z', stream = 'stderr'): string => JSON.stringify({ log, stream, time });
const SSHD_FAIL = 'Failed password for root from 203.0.113.7 port 52214 ssh2';

describe('container log records (logformat)', () => {
  it('docker: the line in each json-file record is read, at the record\'s time', () => {
    const { failures } = read('docker', [
      docker(`${SSHD_FAIL}\n`),
      docker('Accepted publickey for deploy from 198.51.100.2 port 40022 ssh2: ED25519 SHA256:x\n', '2024-01-12T10:11:13Z', 'stdout'),
      docker('Invalid user admin from 2001:db8::5 port 22\r\n', '2024-01-12T11:11:14.5+01:00'),
    ]);
    assert.deepEqual(failures.map((f) => [f.host.value, f.time, f.lines]), [
      ['203.0.113.7', Date.parse('2024-01-12T10:11:12.123Z') / 1000, [SSHD_FAIL]],
      ['2001:db8::5', Date.parse('2024-01-12T10:11:14.5Z') / 1000, ['Invalid user admin from 2001:db8::5 port 22']],
    ]);
  });

  it('cri: the line after time, stream and tag is read, at the record\'s time', () => {
    const { failures } = read('cri', [
      `2024-01-12T10:11:12.000000001Z stderr F ${SSHD_FAIL}`,
      '2024-01-12T10:11:13.5-02:00 stdout F Invalid user oracle from 203.0.113.8 port 22',
      '2024-01-12T10:11:14Z stdout F',
    ]);
    assert.deepEqual(failures.map((f) => [f.host.value, f.time]), [
      ['203.0.113.7', Date.parse('2024-01-12T10:11:12Z') / 1000],
      ['203.0.113.8', Date.parse('2024-01-12T12:11:13.5Z') / 1000],
    ]);
  });

  it('a date in the line is set aside for the filter, but the time is the record\'s (a container\'s clock may be in another zone)', () => {
    // The container logs in its own zone, undeclared; the runtime stamps UTC.
    const inner = `Jan 12 03:11:12 web sshd[812]: ${SSHD_FAIL}`;
    for (const [format, record] of [['docker', docker(`${inner}\n`)], ['cri', `2024-01-12T10:11:12.123456789Z stderr F ${inner}`]] as const) {
      const { failures } = read(format, [record]);
      assert.deepEqual(failures.map((f) => [f.host.value, f.time]), [['203.0.113.7', Date.parse('2024-01-12T10:11:12.123Z') / 1000]], format);
    }
  });

  it('a line the runtime cut into several records is skipped whole, every piece, so padding never meets a later field', () => {
    const pad = 'x'.repeat(16 * 1024);
    // The last piece alone reads like a failure of another address.
    const planted = `${SSHD_FAIL.replace('203.0.113.7', '192.0.2.99')}`;
    const { perLine: dockerLines, notRecords } = read('docker', [
      docker(`Invalid user ${pad}`), docker(pad), docker(`${planted}\n`),
      docker(`${SSHD_FAIL}\n`),
    ]);
    assert.deepEqual(dockerLines, [0, 0, 0, 1]);
    assert.equal(notRecords, 0, 'pieces are records: status does not count them');
    const { perLine: criLines } = read('cri', [
      `2024-01-12T10:11:12Z stderr P Invalid user ${pad}`, `2024-01-12T10:11:12Z stderr F ${planted}`,
      `2024-01-12T10:11:13Z stderr F ${SSHD_FAIL}`,
    ]);
    assert.deepEqual(criLines, [0, 0, 1]);
  });

  it('a record dropped unread (a piece escaped past the tailer\'s limit) leaves what follows it a piece: the end of a cut line is never read alone', () => {
    const planted = `${SSHD_FAIL.replace('203.0.113.7', '192.0.2.99')}`;
    // The first piece dropped: its end, which reads as a failure of another address, counts nothing; the next line does.
    assert.deepEqual(read('docker', [null, docker(`${planted}\n`), docker(`${SSHD_FAIL}\n`)]).perLine, [0, 1]);
    assert.deepEqual(read('cri', [null, `2024-01-12T10:11:12Z stderr F ${planted}`, `2024-01-12T10:11:13Z stderr F ${SSHD_FAIL}`]).perLine, [0, 1]);
    // A middle piece dropped: the pieces after it up to the end are skipped as before.
    assert.deepEqual(read('docker', [docker('Invalid user x'), null, docker('y'), docker(`${planted}\n`), docker(`${SSHD_FAIL}\n`)]).perLine, [0, 0, 0, 1]);
    // A whole line dropped: the price is each stream's next line, never a wrong address.
    assert.deepEqual(read('docker', [
      docker(`${SSHD_FAIL}\n`), null, docker(`${SSHD_FAIL}\n`), docker(`${SSHD_FAIL}\n`, undefined, 'stdout'), docker(`${SSHD_FAIL}\n`),
    ]).perLine, [1, 0, 0, 1]);
  });

  it('each stream\'s lines are cut on their own: a stdout line between two pieces of a stderr line is read, the stderr line\'s end is not', () => {
    const planted = `${SSHD_FAIL.replace('203.0.113.7', '192.0.2.99')}`;
    const pad = 'x'.repeat(16 * 1024);
    assert.deepEqual(read('docker', [docker(`Invalid user ${pad}`), docker(`${SSHD_FAIL}\n`, undefined, 'stdout'), docker(`${planted}\n`)]).perLine, [0, 1, 0]);
    assert.deepEqual(read('cri', [
      `2024-01-12T10:11:12Z stderr P Invalid user ${pad}`, `2024-01-12T10:11:12Z stdout F ${SSHD_FAIL}`, `2024-01-12T10:11:12Z stderr F ${planted}`,
    ]).perLine, [0, 1, 0]);
  });

  it('started part way into a log, the reader takes each stream\'s state from the records before; unknown, each stream\'s next record is a piece', () => {
    const planted = `${SSHD_FAIL.replace('203.0.113.7', '192.0.2.99')}`;
    const perLine = (before: Parameters<LogFilter['resume']>[0], lines: readonly string[]): number[] => {
      const filter = new LogFilter(loadFilter('sshd', [SHIPPED_FILTER_DIR]), { now: () => NOW, assumeNow: true, logFormat: 'docker' });
      filter.resume(before);
      const found = lines.map((line) => filter.processLine(line).failures.length);
      assert.equal(filter.notRecords, 0, 'what was read back is not counted');
      return found;
    };
    const stdout = (log: string): string => docker(log, undefined, 'stdout');
    const lines = [docker(`${planted}\n`), stdout(`${SSHD_FAIL}\n`), docker(`${SSHD_FAIL}\n`)];
    // A stderr piece last before, a whole stdout line before it: stderr's next record ends the cut line.
    assert.deepEqual(perLine({ records: [stdout('Server listening\n'), docker('Invalid user x')], fromStart: false }, lines), [0, 1, 1]);
    // Whole lines before on both streams (and a line that is no record): every line is read.
    assert.deepEqual(perLine({ records: [stdout('Server listening\n'), 'not a record', docker('Connection closed\n')], fromStart: false }, lines), [1, 1, 1]);
    // Only stderr before, not back to the log's start: stdout's state is not known, and its next record is taken for a piece.
    assert.deepEqual(perLine({ records: [docker('Connection closed\n')], fromStart: false }, lines), [1, 0, 1]);
    // Back to the log's start, a stream with no record before has no line going on.
    assert.deepEqual(perLine({ records: [docker('Connection closed\n')], fromStart: true }, lines), [1, 1, 1]);
    assert.deepEqual(perLine({ records: [], fromStart: true }, lines), [1, 1, 1]);
    // Not known at all (lines sent as text): each stream's next record is a piece.
    assert.deepEqual(perLine(undefined, lines), [0, 0, 1]);
  });

  it('a line that is no record of the format matches nothing, even when the text inside would', () => {
    const { perLine, notRecords } = read('docker', [
      SSHD_FAIL,
      `{"log":"${SSHD_FAIL}\\n"}`,
      `{"log":"${SSHD_FAIL}\\n","time":"yesterday"}`,
      `{"log":"${SSHD_FAIL}\\n","time":"2024-01-12 10:11:12Z"}`,
      '[1,2]',
      'null',
      docker(`${SSHD_FAIL}\n`),
    ]);
    assert.deepEqual(perLine, [0, 0, 0, 0, 0, 0, 1]);
    assert.equal(notRecords, 6, 'each counted for status');
    const { perLine: cri, notRecords: criNotRecords } = read('cri', [
      SSHD_FAIL,
      `2024-01-12T10:11:12Z stdin F ${SSHD_FAIL}`,
      `2024-01-12T10:11:12Z stderr X ${SSHD_FAIL}`,
      `12/Jan/2024:10:11:12 stderr F ${SSHD_FAIL}`,
      `2024-01-12T10:11:12Z stderr F:x ${SSHD_FAIL}`,
    ]);
    assert.deepEqual(cri, [0, 0, 0, 0, 1]);
    assert.equal(criNotRecords, 4);
  });

  it('JSON escapes are read back: quotes, backslashes, and characters beyond ASCII in a user name', () => {
    const { failures } = read('docker', [docker('Invalid user \u00e9\u00e8"\\x from 203.0.113.9 port 22\n')]);
    assert.deepEqual(failures.map((f) => [f.host.value, f.captures.user]), [['203.0.113.9', '\u00e9\u00e8"\\x']]);
  });

  it('plain, the default, reads a record as a line of its own, so a docker log read as plain counts nothing', () => {
    assert.deepEqual(read('plain', [docker(`${SSHD_FAIL}\n`)]).perLine, [0]);
  });

  it('an nginx error log in a container: the date is set aside and the filter reads the rest', () => {
    const line = '2024/01/12 10:11:12 [error] 29#29: *1 user "admin": password mismatch, client: 203.0.113.10, server: _, request: "GET / HTTP/1.1", host: "example.org"';
    const { failures } = read('docker', [docker(`${line}\n`, '2024-01-12T10:11:12.5Z')], 'nginx-http-auth');
    assert.deepEqual(failures.map((f) => [f.host.value, f.time]), [['203.0.113.10', Date.parse('2024-01-12T10:11:12.5Z') / 1000]]);
  });
});

describe('logtimezone', () => {
  it('reads dates without a zone in the jail\'s zone', () => {
    const line = `2024-01-12 10:11:12 host sshd[1]: ${SSHD_FAIL}`;
    const utc = read('plain', [line], 'sshd', 'UTC').failures;
    const east = read('plain', [line], 'sshd', '+0200').failures;
    assert.equal(utc[0]?.time, Date.parse('2024-01-12T10:11:12Z') / 1000);
    assert.equal(east[0]?.time, Date.parse('2024-01-12T08:11:12Z') / 1000);
  });
});

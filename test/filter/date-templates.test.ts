import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InputError } from '../../src/core/index.js';
import { DEFAULT_DATE_PATTERNS, type DateDetector } from '../../src/filter/index.js';
import { detector as detectorOn, expectEach as expectEachOn, expectInOrder as expectInOrderOn, NO_MATCH, NO_TIME, utc, type Row } from '../helpers/dates.js';

// Expected values are what fail2ban 1.0.2's own DateDetector returns for these lines (under its
// test clock and zone, test/helpers/dates.ts): the instant, and the span of the date text that
// fail2ban cuts out of the line.

const detector = (datepattern?: string): DateDetector => detectorOn(datepattern === undefined ? {} : { datepattern });
const expectEach = (datepattern: string | undefined, rows: readonly Row[]): void => expectEachOn(datepattern === undefined ? {} : { datepattern }, rows);
const expectInOrder = (datepattern: string | undefined, rows: readonly Row[]): void => expectInOrderOn(detector(datepattern), rows);

describe('default date templates', () => {
  it('are fail2ban 1.0.2\'s list, in its order', () => {
    const source = readFileSync('/usr/lib/python3/dist-packages/fail2ban/server/datedetector.py', 'utf8');
    const list = /DEFAULT_TEMPLATES = \[([\s\S]*?)\n\t\]/.exec(source)?.[1] ?? '';
    const patterns = [...list.matchAll(/^\s*r"(.*)",$/gm)].map((found) => found[1]);
    assert.deepEqual(DEFAULT_DATE_PATTERNS, patterns);
  });

  it('read a date at line start in every default format', () => {
    expectEach(undefined, [
      ["2005-01-23T21:59:59.981746 host sshd[1]: x", utc('2005-01-23 20:59:59'), 0, 26],
      ["2005/01/23 21:59:59 host x", utc('2005-01-23 20:59:59'), 0, 19],
      ["2006.12.21 06:43:20 syslog-ng x", utc('2006-12-21 05:43:20'), 0, 19],
      ["2005-01-23  8:59:59 x", utc('2005-01-23 07:59:59'), 0, 19],
      ["2005-01-23T21:59:59Z x", utc('2005-01-23 21:59:59'), 0, 20],
      ["2005-01-23 21:59:59 +0100 x", utc('2005-01-23 20:59:59'), 0, 25],
      ["2005-01-23 21:59:59,123 -03:30 x", utc('2005-01-24 01:29:59'), 0, 30],
      ["Sun Jan 23 21:59:59.011 2005 x", utc('2005-01-23 20:59:59'), 0, 28],
      ["Jan 23 21:59:59 host sshd[1]: x", utc('2005-01-23 20:59:59'), 0, 15],
      ["Jan  3 01:02:03 host sshd[1]: x", utc('2005-01-03 00:02:03'), 0, 15],
      ["Sun Jan 23 2005 21:59:59.011 x", utc('2005-01-23 20:59:59'), 0, 28],
      ["23/01/2005 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 19],
      ["23/01/05 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 17],
      ["17-07-2008 17:23:25 x", utc('2008-07-17 15:23:25'), 0, 19],
      ["[31/Oct/2006:09:22:55 -0000] x", utc('2006-10-31 09:22:55'), 1, 27],
      ["26-Jul-2007 15:20:52 x", utc('2007-07-26 13:20:52'), 0, 20],
      ["26-Jul-2007 15:20:52.252 named x", utc('2007-07-26 13:20:52'), 0, 24],
      ["26-Jul-2007 15:20:52 +0200 roundcube x", utc('2007-07-26 13:20:52'), 0, 26],
      ["05/20/2008:01:57:39 cpanel x", utc('2008-05-19 23:57:39'), 0, 19],
      ["01-27-2012 16:22:44.252 x", utc('2012-01-27 15:22:44'), 0, 23],
      ["1124013590 x", utc('2005-08-14 09:59:50'), 0, 10],
      ["1124013590.123456 x", 1124013590.123456, 0, 17],
      ["[1124013590] x", utc('2005-08-14 09:59:50'), 1, 11],
      ["21:59:59 x", utc('2005-08-13 19:59:59'), 0, 8],
      ["11:59:59 x", utc('2005-08-14 09:59:59'), 0, 8],
      ["<09/16/08@05:03:30> x", utc('2008-09-16 03:03:30'), 0, 19],
      ["130322 11:46:11 mysqld x", utc('2013-03-22 10:46:11'), 0, 15],
      ["130322  1:46:11 mysqld x", utc('2013-03-22 00:46:11'), 0, 15],
      ["Jan 23, 2005 9:59:59 PM tomcat x", utc('2005-01-23 20:59:59'), 0, 23],
      ["Apr-27-13 02:33:06 assp x", utc('2013-04-27 00:33:06'), 0, 18],
      ["20050123T215959 x", utc('2005-01-23 20:59:59'), 0, 15],
      ["20050123 215959 x", utc('2005-01-23 20:59:59'), 0, 15],
      ["20050123T215959.123+0100 x", utc('2005-01-23 20:59:59'), 0, 24],
      ["PDT Apr 16 21:05:29 monit x", utc('2005-04-17 04:05:29'), 0, 19],
      ["+01:00 Jan 23 21:59:59.011 2005 x", utc('2005-01-23 20:59:59'), 0, 31],
      ["@400000004300f6d0000c3a44 qmail x", utc('2005-08-15 20:10:56'), 0, 25],
    ]);
  });

  it('find a date inside the line only at a word boundary, and epochs only where fail2ban looks for them', () => {
    expectEach(undefined, [
      ["host 2005-01-23 21:59:59 x", utc('2005-01-23 20:59:59'), 5, 24],
      ["[Sun Jan 23 21:59:59 2005] [error] x", utc('2005-01-23 20:59:59'), 1, 25],
      ["type=USER_LOGIN msg=audit(1124013590.415:4063): x", 1124013590.415, 26, 40],
      ["x 1124013590 y", NO_MATCH],
      ["client 1.2.3.4 - - [31/Oct/2006:09:22:55 -0000] \"GET / HTTP/1.1\"", utc('2006-10-31 09:22:55'), 20, 46],
      ["prefix @400000004300f6d0000c3a44 x", utc('2005-08-15 20:10:56'), 7, 32],
      ["abc2005-01-23 21:59:59 x", NO_MATCH],
      ["Jan 23 21:59:59abc x", NO_MATCH],
    ]);
  });

  it('with {^LN-BEG} take only dates at line start (after at most two non-word chars)', () => {
    // "host" in "host Jan 23 …" reads as a zone name (%Z is case-insensitive there), which
    // fail2ban does not know: a date without a time.
    expectEach('{^LN-BEG}', [
      ["Jan 23 21:59:59 host sshd[1]: x", utc('2005-01-23 20:59:59'), 0, 15],
      ["host Jan 23 21:59:59 x", NO_TIME, 0, 20],
      ["[Sun Jan 23 21:59:59 2005] [error] x", utc('2005-01-23 20:59:59'), 1, 25],
      ["((Jan 23 21:59:59 x", utc('2005-01-23 20:59:59'), 2, 17],
      ["(((Jan 23 21:59:59 x", NO_MATCH],
      ["1124013590 x", utc('2005-08-14 09:59:50'), 0, 10],
      ["[1124013590.5] x", utc('2005-08-14 09:59:50'), 1, 11],
      ["x 2005-01-23 21:59:59", NO_MATCH],
    ]);
  });
});

describe('special datepatterns', () => {
  it('Epoch: at line start, after a leading [, or in audit(…); fraction of 3-6 digits kept', () => {
    expectEach('Epoch', [
      ["1124013590 x", utc('2005-08-14 09:59:50'), 0, 10],
      ["1124013590.123 x", 1124013590.123, 0, 14],
      ["x 1124013590", NO_MATCH],
      ["audit(1124013590.5:1) x", utc('2005-08-14 09:59:50'), 6, 16],
      ["type=X msg=audit(1124013590.500:1): x", 1124013590.5, 17, 31],
    ]);
  });

  it('LEPOCH: milliseconds or microseconds', () => {
    expectEach('LEPOCH', [
      ["1124013590123 x", 1124013590.123, 0, 13],
      ["1124013590123456 x", 1124013590.123456, 0, 16],
      ["1124013590123.456 x", 1124013590.123456, 0, 17],
      ["1124013590 x", utc('2005-08-14 09:59:50'), 0, 10],
    ]);
  });

  it('{EPOCH} inside a pattern', () => {
    expectEach(String.raw`^\[{EPOCH}\]`, [
      ["[1124013590] x", utc('2005-08-14 09:59:50'), 0, 12],
      ["[1124013590.250] x", 1124013590.25, 0, 16],
      ["[1124013590.25] x", NO_MATCH],
      ["x [1124013590] y", NO_MATCH],
    ]);
  });

  it('{^LN-BEG}Epoch', () => {
    expectEach('{^LN-BEG}Epoch', [
      ["1124013590 x", utc('2005-08-14 09:59:50'), 0, 10],
      ["[1124013590] x", utc('2005-08-14 09:59:50'), 1, 11],
      ["x 1124013590", NO_MATCH],
    ]);
  });

  it('TAI64N, anywhere or at line start', () => {
    expectEach('TAI64N', [
      ["@400000004300f6d0000c3a44 x", utc('2005-08-15 20:10:56'), 0, 25],
      ["x @400000004300f6d0000c3a44 y", utc('2005-08-15 20:10:56'), 2, 27],
    ]);
    expectEach('{^LN-BEG}TAI64N', [
      ["@400000004300f6d0000c3a44 x", utc('2005-08-15 20:10:56'), 0, 25],
      ["x @400000004300f6d0000c3a44 y", NO_MATCH],
    ]);
  });

  it('{DATE} puts every default template in place', () => {
    expectEach(String.raw`^[^\[]*\[({DATE})`, [
      ["1.2.3.4 - - [31/Oct/2006:09:22:55 -0000] \"GET /\"", utc('2006-10-31 09:22:55'), 13, 39],
      ["[Sun Jan 23 21:59:59 2005] [error] x", utc('2005-01-23 20:59:59'), 1, 25],
      ["x [21:59:59] y", utc('2005-08-13 19:59:59'), 3, 11],
      ["31/Oct/2006:09:22:55 x", NO_MATCH],
    ]);
    expectEach(String.raw`^<\d+>\d+\s+{DATE}`, [
      ["<34>1 2005-01-23T21:59:59.003Z host sshd 1 - - x", utc('2005-01-23 21:59:59'), 0, 30],
    ]);
  });

  it('several lines are tried together ({DATE} then {^LN-BEG}, as apache-badbots)', () => {
    expectInOrder(String.raw`^[^\[]*\[({DATE})` + '\n' + '{^LN-BEG}', [
      ["1.2.3.4 - - [31/Oct/2006:09:22:55 -0000] \"GET /\"", utc('2006-10-31 09:22:55'), 13, 39],
      ["Jan 23 21:59:59 host x", utc('2005-01-23 20:59:59'), 0, 15],
      ["[Sun Jan 23 21:59:59 2005] [error] x", utc('2005-01-23 20:59:59'), 1, 25],
      ["1.2.3.4 - - [31/Oct/2006:09:22:56 -0000] \"GET /\"", utc('2006-10-31 09:22:56'), 13, 39],
    ]);
  });

  it('{NONE} and empty matches give a span but no time', () => {
    expectEach('{NONE}', [
      ["Jan 23 21:59:59 host x", NO_TIME, 0, 0],
      ["anything", NO_TIME, 0, 0],
    ]);
    expectEach(String.raw`^I\(()**`, [
      ["I(<0.1.0>) x", NO_TIME, 2, 2],
      ["x I( y", NO_MATCH],
    ]);
  });

  it('word boundaries are added unless {UNB} or ** say otherwise', () => {
    expectEach('%Y-%m-%d %H:%M:%S', [
      ["x2005-01-23 21:59:59 y", NO_MATCH],
      ["x 2005-01-23 21:59:59y", NO_MATCH],
      ["(2005-01-23 21:59:59) y", utc('2005-01-23 20:59:59'), 1, 20],
    ]);
    expectEach('{UNB}%Y-%m-%d %H:%M:%S', [
      ["x2005-01-23 21:59:59y", utc('2005-01-23 20:59:59'), 1, 20],
    ]);
  });

  it('special names are case-insensitive; %-patterns keep their case', () => {
    assert.equal(detector('epoch').match('1124013590 x')?.time, 1124013590, 'epoch');
    assert.equal(detector('{^ln-beg}').match('Jan 23 21:59:59 x')?.time, utc('2005-01-23 20:59:59'), '{^ln-beg}');
    assert.equal(detector('{default}').match('x 2005-01-23 21:59:59 y')?.time, utc('2005-01-23 20:59:59'), '{default}');
  });
});

describe('invalid datepatterns', () => {
  // fail2ban refuses these too, except %s (it builds a regex that never matches a
  // date) and conditionals, which JavaScript regexes cannot express: refused loudly here.
  for (const pattern of ['%Y-%m-%d %H:%M:%S %q', '100%', '%s', '^%Y-%m-%d (%H', '(?(1)a|b)%Y', '%Y %H:%M:%S\n%Y %H:%M:%S']) {
    it(`refuses ${JSON.stringify(pattern)} naming it`, () => {
      assert.throws(() => detector(pattern), (error: unknown) => {
        assert.ok(error instanceof InputError, 'an InputError');
        assert.ok(error.message.includes('datepattern'), error.message);
        assert.ok(error.message.includes(pattern.split('\n')[0] ?? ''), error.message);
        assert.ok(!error.message.includes('\n'), 'one line');
        return true;
      });
    });
  }

  it('points %s to {EPOCH}', () => {
    assert.throws(() => detector('%s'), /\{EPOCH\}/);
  });

  it('refuses a template given twice, naming it', () => {
    assert.throws(() => detector('%Y %H:%M:%S\n%Y %H:%M:%S'), /repeats the date template "Year 24hour:Minute:Second"/);
  });

  it('lets a list form repeat a template given before it', () => {
    const dates = detector('{^LN-BEG}%H:%M:%S\n{^LN-BEG}');
    assert.equal(dates.hits().filter((entry) => entry.name === '{^LN-BEG}24hour:Minute:Second').length, 1, 'listed once');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../src/core/index.js';
import { createDateDetector } from '../../src/filter/index.js';
import { detector, expectEach, expectInOrder, NO_MATCH, NO_TIME, NOW, TZ, utc } from '../helpers/dates.js';

// Expected values are what fail2ban 1.0.2's own DateDetector returns for the same lines fed in
// the same order (test/helpers/dates.ts: its test clock and zone unless said).

describe('dates without a year or a day', () => {
  it('take the year that puts them at most a day after now', () => {
    expectInOrder(detector(), [
      ["Aug 14 11:59:59 x", utc('2005-08-14 09:59:59'), 0, 15],
      ["Aug 14 12:00:01 x", utc('2005-08-14 10:00:01'), 0, 15],
      ["Aug 15 11:59:59 x", utc('2005-08-15 09:59:59'), 0, 15],
      ["Aug 15 12:00:00 x", utc('2005-08-15 10:00:00'), 0, 15],
      ["Aug 15 12:00:01 x", utc('2004-08-15 10:00:01'), 0, 15],
      ["Dec 31 23:59:59 x", utc('2004-12-31 22:59:59'), 0, 15],
      ["Jan  1 00:00:00 x", utc('2004-12-31 23:00:00'), 0, 15],
      ["Feb 29 10:00:00 x", NO_TIME, 0, 15],
      ["Jan 23 24:00:00 x", NO_TIME, 0, 15],
    ]);
  });

  it('time only is today, or yesterday when that is after now', () => {
    expectInOrder(detector({ datepattern: '{^LN-BEG}%H:%M:%S' }), [
      ["00:00:00 x", utc('2005-08-13 22:00:00'), 0, 8],
      ["11:59:59 x", utc('2005-08-14 09:59:59'), 0, 8],
      ["12:00:00 x", utc('2005-08-14 10:00:00'), 0, 8],
      ["12:00:01 x", utc('2005-08-13 10:00:01'), 0, 8],
      ["23:59:59 x", utc('2005-08-13 21:59:59'), 0, 8],
    ]);
  });

  it('a line beginning with the date text of the line before is read again where more may follow it', () => {
    expectInOrder(detector(), [
      ['Aug 14 11:59:59 x', utc('2005-08-14 09:59:59'), 0, 15],
      ['Aug 14 11:59:59 y', utc('2005-08-14 09:59:59'), 0, 15],
      ['Aug 14 11:59:59 2004 x', utc('2004-08-14 09:59:59'), 0, 20],
      ['Aug 14 11:59:59.123456 x', utc('2005-08-14 09:59:59'), 0, 22],
      ['Aug 14 11:59:59', utc('2005-08-14 09:59:59'), 0, 15],
      ['Aug 14 11:59:59x', NO_MATCH],
      ['Aug 14 11:59:59 y', utc('2005-08-14 09:59:59'), 0, 15],
      ['Aug 14 11:59:591 z', NO_MATCH],
      ['Aug 14 11:59:59 2004 y', utc('2004-08-14 09:59:59'), 0, 20],
      ['Aug 14 11:59:59 2004x', utc('2005-08-14 09:59:59'), 0, 15],
    ]);
  });

  it('follow the clock they are given', () => {
    const dates = createDateDetector({ now: () => utc('2024-01-02 00:00:00'), localTimeZone: 'UTC' });
    assert.equal(dates.match('Dec 31 23:59:59 host sshd[1]: x')?.time, utc('2023-12-31 23:59:59'), 'last year');
    assert.equal(dates.match('Jan  2 00:00:00 host sshd[1]: x')?.time, utc('2024-01-02 00:00:00'), 'this year');
  });
});

describe('the instant of a date read again', () => {
  it('is read anew when the clock, a field or the template differs', () => {
    let now = utc('2024-01-02 00:00:00');
    const dates = createDateDetector({ now: () => now, localTimeZone: 'UTC' });
    assert.equal(dates.match('Dec 31 23:59:59 host sshd[1]: x')?.time, utc('2023-12-31 23:59:59'));
    assert.equal(dates.match('Dec 31 23:59:59 host sshd[2]: y')?.time, utc('2023-12-31 23:59:59'));
    assert.equal(dates.match('Dec 31 23:59:58 host sshd[2]: y')?.time, utc('2023-12-31 23:59:58'));
    assert.equal(dates.match('2023-12-31 23:59:58 host sshd[2]: y')?.time, utc('2023-12-31 23:59:58'));
    assert.equal(dates.match('Dec 31 23:59:58 host sshd[2]: y')?.time, utc('2023-12-31 23:59:58'));
    now = utc('2025-01-02 00:00:00');
    assert.equal(dates.match('Dec 31 23:59:58 host sshd[2]: y')?.time, utc('2024-12-31 23:59:58'), 'a year later: last year is 2024');
  });
});

describe('template choice', () => {
  it('prefers the last template and dates nearer the line start, as fail2ban does', () => {
    expectInOrder(detector(), [
      ["Jan 23 21:59:59 host sshd: x", utc('2005-01-23 20:59:59'), 0, 15],
      ["2005-01-23 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 19],
      ["Jan 23 21:59:58 host x", utc('2005-01-23 20:59:58'), 0, 15],
      ["host 2005-01-23 21:59:57 and Jan 23 21:59:56 x", utc('2005-01-23 20:59:57'), 5, 24],
      ["[Sun Jan 23 21:59:59 2005] [error] 2005-01-23 21:59:50 x", utc('2005-01-23 20:59:59'), 1, 25],
      ["[Sun Jan 23 21:59:58 2005] [error] x", utc('2005-01-23 20:59:58'), 1, 25],
      ["[Sun Jan 23 21:59:57 2005] [error] x 2005-01-23 21:59:51", utc('2005-01-23 20:59:57'), 1, 25],
      ["x 2005-01-23 21:59:52 y Jan 23 21:59:53", utc('2005-01-23 20:59:52'), 2, 21],
      ["abc: 2005-01-23 21:59:54 y", utc('2005-01-23 20:59:54'), 5, 24],
      ["abc: 2005-01-23 21:59:55 y", utc('2005-01-23 20:59:55'), 5, 24],
    ]);
  });

  it('takes the date nearest the line start when the first template finds one farther in', () => {
    expectEach({}, [
      ['#### Jan 23 21:59:53 y 2005-01-23 21:59:52', utc('2005-01-23 20:59:53'), 5, 20],
    ]);
    expectInOrder(detector(), [
      ['#### Jan 23 21:59:53 y', utc('2005-01-23 20:59:53'), 5, 20],
      ['#### x Jan 23 21:59:54 y 2005-01-23 21:59:52', utc('2005-01-23 20:59:54'), 7, 22],
      ['####: 2005-01-23 21:59:55 y Jan 23 21:59:56', utc('2005-01-23 20:59:55'), 6, 25],
      ['#### Jan 23 21:59:57 y 2005-01-23 21:59:58', utc('2005-01-23 20:59:57'), 5, 20],
    ]);
  });

  it('looks for the last template\'s date where it was last time while the chars around it agree', () => {
    expectInOrder(detector({ datepattern: '%H:%M:%S' }), [
      ['abcdef 10:00:00 x', utc('2005-08-14 08:00:00'), 7, 15],
      ['1:2:3  10:00:05 x', utc('2005-08-14 08:00:05'), 7, 15],
      ['1:2:3 x 10:00:06', utc('2005-08-13 23:02:03'), 0, 5],
    ]);
  });

  it('reports the template of each match and counts hits, under fail2ban\'s names, in its order', () => {
    const dates = detector();
    const syslog = '{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?';
    assert.equal(dates.match('Jan 23 21:59:59 host sshd[1]: x')?.template, syslog);
    dates.match('Jan 23 22:00:00 host sshd[1]: x');
    dates.match('no date here');
    assert.deepEqual(dates.hits().filter((entry) => entry.hits > 0), [{ name: syslog, hits: 2 }]);
    // fail2ban's DateDetector with its defaults, listed by fail2ban 1.0.2 itself.
    const fresh = detector().hits().map((entry) => entry.name);
    assert.deepEqual(fresh, [
      "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
      "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
      "{^LN-BEG}(?:DAY )?MON Day ExYear %k:Minute:Second(?:\\.Microseconds)?",
      "{^LN-BEG}Day(?P<_sep>[-/])Month(?P=_sep)(?:ExYear|ExYear2) %k:Minute:Second",
      "{^LN-BEG}Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?",
      "{^LN-BEG}Month/Day/ExYear:24hour:Minute:Second",
      "{^LN-BEG}Month-Day-ExYear %k:Minute:Second(?:\\.Microseconds)?",
      "{^LN-BEG}Epoch",
      "{^LN-BEG}ExYear2ExMonthExDay  ?24hour:Minute:Second",
      "{^LN-BEG}MON Day, ExYear 12hour:Minute:Second AMPM",
      "{^LN-BEG}ExYearExMonthExDay(?:T|  ?)Ex24hourExMinuteExSecond(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
      "{^LN-BEG}(?:Zone name )?(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
      "{^LN-BEG}(?:Zone offset )?(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
      "{^LN-BEG}TAI64N",
      "ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
      "(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
      "(?:DAY )?MON Day ExYear %k:Minute:Second(?:\\.Microseconds)?",
      "Day(?P<_sep>[-/])Month(?P=_sep)(?:ExYear|ExYear2) %k:Minute:Second",
      "Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?",
      "Month/Day/ExYear:24hour:Minute:Second",
      "Month-Day-ExYear %k:Minute:Second(?:\\.Microseconds)?",
      "Epoch",
      "{^LN-BEG}24hour:Minute:Second",
      "^<Month/Day/ExYear2@24hour:Minute:Second>",
      "ExYear2ExMonthExDay  ?24hour:Minute:Second",
      "MON Day, ExYear 12hour:Minute:Second AMPM",
      "^MON-Day-ExYear2 %k:Minute:Second",
      "ExYearExMonthExDay(?:T|  ?)Ex24hourExMinuteExSecond(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
      "(?:Zone name )?(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
      "(?:Zone offset )?(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
      "TAI64N",
    ]);
  });

  it('%ExY takes years up to three ahead of the real clock, whatever the given clock says', () => {
    const thisYear = new Date().getUTCFullYear();
    expectEach({}, [
      [`${thisYear}-01-23 21:59:59 x`, Date.UTC(thisYear, 0, 23, 20, 59, 59) / 1000, 0, 19],
      ['2099-01-23 21:59:59 x', NO_MATCH],
      ['1999-01-23 21:59:59 x', NO_MATCH],
    ]);
  });
});

describe('time zones', () => {
  it('logtimezone applies to dates without a zone of their own', () => {
    expectEach({ timeZone: 'UTC' }, [
      ["2005-01-23 21:59:59 x", utc('2005-01-23 21:59:59'), 0, 19],
      ["2005-01-23 21:59:59 +0100 x", utc('2005-01-23 20:59:59'), 0, 25],
      ["Jan 23 21:59:59 x", utc('2005-01-23 21:59:59'), 0, 15],
      ["21:59:59 x", utc('2005-08-13 21:59:59'), 0, 8],
    ]);
    expectEach({ timeZone: 'UTC+0530' }, [
      ["2005-01-23 21:59:59 x", utc('2005-01-23 16:29:59'), 0, 19],
    ]);
    expectEach({ timeZone: 'CET' }, [
      ["2005-07-23 21:59:59 x", utc('2005-07-23 20:59:59'), 0, 19],
    ]);
  });

  it('refuses a logtimezone fail2ban does not know, naming it', () => {
    for (const timeZone of ['Europe/Berlin', 'XYZ', '+25']) {
      assert.throws(() => detector({ timeZone }), (error: unknown) =>
        error instanceof InputError && error.message.includes(`"${timeZone}"`) && error.message.includes('logtimezone'), timeZone);
    }
  });

  it('local time follows a POSIX TZ rule string, including the DST gap and the repeated hour', () => {
    // This rule ends summer time at 02:00 CEST (00:00 UTC), an hour before Europe/Berlin does.
    expectInOrder(detector({ datepattern: '^%Y-%m-%d %H:%M:%S' }), [
      ["2005-03-27 01:59:59 x", utc('2005-03-27 00:59:59'), 0, 19],
      ["2005-03-27 02:30:00 x", utc('2005-03-27 01:30:00'), 0, 19],
      ["2005-03-27 03:00:00 x", utc('2005-03-27 01:00:00'), 0, 19],
      ["2005-10-30 01:59:59 x", utc('2005-10-29 23:59:59'), 0, 19],
      ["2005-10-30 02:30:00 x", utc('2005-10-30 01:30:00'), 0, 19],
      ["2005-10-30 03:00:00 x", utc('2005-10-30 02:00:00'), 0, 19],
    ]);
  });

  it('local time follows a zone name; the repeated hour takes the side of the previous line', () => {
    expectInOrder(detector({ datepattern: '^%Y-%m-%d %H:%M:%S', localTimeZone: 'Europe/Berlin' }), [
      ['2005-03-27 01:59:59 x', utc('2005-03-27 00:59:59'), 0, 19],
      ['2005-03-27 02:30:00 x', utc('2005-03-27 01:30:00'), 0, 19],
      ['2005-03-27 03:00:00 x', utc('2005-03-27 01:00:00'), 0, 19],
      ['2005-10-30 02:30:00 x', utc('2005-10-30 00:30:00'), 0, 19],
      ['2005-10-30 03:00:00 x', utc('2005-10-30 02:00:00'), 0, 19],
      ['2005-10-30 02:30:00 x', utc('2005-10-30 01:30:00'), 0, 19],
    ]);
  });

  it('local time defaults to the TZ environment variable', () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = TZ;
      const summer = createDateDetector({ now: () => NOW }).match('2005-07-01 12:00:00 x');
      process.env.TZ = 'UTC';
      const utcSummer = createDateDetector({ now: () => NOW }).match('2005-07-01 12:00:00 x');
      assert.equal(summer?.time, utc('2005-07-01 10:00:00'), 'CEST');
      assert.equal(utcSummer?.time, utc('2005-07-01 12:00:00'), 'UTC');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});

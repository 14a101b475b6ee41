import { describe, it } from 'node:test';
import { expectEach as expectEachOn, NO_MATCH, NO_TIME, utc, type Row } from '../helpers/dates.js';

// Expected values are what fail2ban 1.0.2's own DateDetector returns for these datepatterns and
// lines (test/helpers/dates.ts: its test clock and zone): the instant, and the span of the date text.

function expectEach(datepattern: string, rows: readonly Row[]): void {
  expectEachOn({ datepattern }, rows, `${datepattern} on `);
}

describe('strptime directives', () => {
  it('%Y %m %d %H %M %S, anchored at line start by ^', () => {
    expectEach('^%Y:%m:%d-%H:%M:%S', [
      ["2014:07:02-13:07:50: x", utc('2014-07-02 11:07:50'), 0, 19],
      [" 2014:07:02-13:07:50 x", NO_MATCH],
    ]);
  });

  it('%y is a year of this century', () => {
    expectEach('^%y-%m-%d %H:%M:%S', [
      ["05-01-23 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 17],
      ["99-01-23 21:59:59 x", utc('2099-01-23 20:59:59'), 0, 17],
      ["00-01-23 21:59:59 x", utc('2000-01-23 20:59:59'), 0, 17],
    ]);
  });

  it('%A and %B full names, case-insensitive', () => {
    expectEach('%A, %d %B %Y %H:%M:%S', [
      ["Sunday, 23 January 2005 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 32],
      ["x SUNDAY, 23 JANUARY 2005 21:59:59", utc('2005-01-23 20:59:59'), 2, 34],
    ]);
  });

  it('%I with %p: 12 AM is midnight, 12 PM is noon', () => {
    expectEach('^%b %d %Y %I:%M:%S %p', [
      ["Jan 23 2005 12:00:00 AM x", utc('2005-01-22 23:00:00'), 0, 23],
      ["Jan 23 2005 12:30:00 PM x", utc('2005-01-23 11:30:00'), 0, 23],
      ["Jan 23 2005 01:00:00 pm x", utc('2005-01-23 12:00:00'), 0, 23],
      ["Jan 23 2005 11:59:59 am x", utc('2005-01-23 10:59:59'), 0, 23],
    ]);
  });

  it('%l without %p reads as AM', () => {
    expectEach('^%Y-%m-%d %l:%M:%S', [
      ["2005-01-23 12:00:00 x", utc('2005-01-22 23:00:00'), 0, 19],
      ["2005-01-23  9:05:00 x", utc('2005-01-23 08:05:00'), 0, 19],
    ]);
  });

  it('%k takes a space-padded hour; hour 24 is no time', () => {
    expectEach('^%Y-%m-%d %k:%M:%S', [
      ["2005-01-23  9:05:00 x", utc('2005-01-23 08:05:00'), 0, 19],
      ["2005-01-23 24:05:00 x", NO_TIME, 0, 19],
    ]);
  });

  it('%f is matched but dropped: whole seconds', () => {
    expectEach(String.raw`^%Y-%m-%d %H:%M:%S\.%f`, [
      ["2005-01-23 21:59:59.999999 x", utc('2005-01-23 20:59:59'), 0, 26],
      ["2005-01-23 21:59:59.5 x", utc('2005-01-23 20:59:59'), 0, 21],
    ]);
  });

  it('%z offsets in every spelling', () => {
    expectEach('^%Y-%m-%d %H:%M:%S ?%z', [
      ["2005-01-23 21:59:59 +0200 x", utc('2005-01-23 19:59:59'), 0, 25],
      ["2005-01-23 21:59:59 -03 x", utc('2005-01-24 00:59:59'), 0, 23],
      ["2005-01-23 21:59:59 +05:30 x", utc('2005-01-23 16:29:59'), 0, 26],
      ["2005-01-23 21:59:59 Z x", utc('2005-01-23 21:59:59'), 0, 21],
      ["2005-01-23 21:59:59 UTC x", utc('2005-01-23 21:59:59'), 0, 23],
      ["2005-01-23 21:59:59 GMT x", utc('2005-01-23 21:59:59'), 0, 23],
      ["2005-01-23 21:59:59-1000 x", utc('2005-01-24 07:59:59'), 0, 24],
    ]);
  });

  it('%Z abbreviations are fixed offsets; an unknown one gives no time', () => {
    expectEach('^%Y-%m-%d %H:%M:%S %Z', [
      ["2005-01-23 21:59:59 CEST x", utc('2005-01-23 19:59:59'), 0, 24],
      ["2005-01-23 21:59:59 PDT x", utc('2005-01-24 04:59:59'), 0, 23],
      ["2005-01-23 21:59:59 ABCDE x", NO_TIME, 0, 25],
    ]);
    expectEach('^%Y-%m-%d %H:%M:%S %Exz', [
      ["2005-01-23 21:59:59 CET+0100 x", utc('2005-01-23 19:59:59'), 0, 28],
      ["2005-01-23 21:59:59 EST x", utc('2005-01-24 02:59:59'), 0, 23],
    ]);
  });

  it('%j day of the year', () => {
    expectEach('^%Y %j %H:%M:%S', [
      ["2005 023 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 17],
      ["2004 366 10:00:00 x", utc('2004-12-31 09:00:00'), 0, 17],
    ]);
  });

  it('%W / %U week numbers with a weekday', () => {
    expectEach('^%Y w%W d%w %H:%M:%S', [
      ["2005 w03 d0 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 20],
      ["2005 w00 d6 10:00:00 x", utc('2005-01-01 09:00:00'), 0, 20],
    ]);
    expectEach('^%Y u%U %a %H:%M:%S', [
      ["2005 u04 Sun 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 21],
    ]);
  });

  it('%c, %x, %X and %%', () => {
    expectEach('^%c', [
      ["Sun Jan 23 21:59:59 2005 x", utc('2005-01-23 20:59:59'), 0, 24],
    ]);
    expectEach('^%x %X', [
      ["01/23/05 21:59:59 x", utc('2005-01-23 20:59:59'), 0, 17],
    ]);
    expectEach('^%Y-%m-%d %H:%M:%S %%', [
      ["2005-01-23 21:59:59 % x", utc('2005-01-23 20:59:59'), 0, 21],
    ]);
  });

  it('a date that does not exist gives no time, February 29 of a leap year does', () => {
    expectEach('^%Y-%m-%d %H:%M:%S', [
      ["2005-02-30 10:00:00 x", NO_TIME, 0, 19],
      ["2005-01-23 21:59:60 x", NO_TIME, 0, 19],
      ["2004-02-29 10:00:00 x", utc('2004-02-29 09:00:00'), 0, 19],
    ]);
  });
});

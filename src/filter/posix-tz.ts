import { DAY_SECONDS, daysFromCivil, daysInMonth, isLeapYear, weekdayOfDays, yearOfDays } from './calendar.js';

/** A time zone as a function of the instant: seconds east of UTC in effect at `utcSeconds`. */
export interface Zone {
  offsetAt(utcSeconds: number): number;
}

type Rule =
  | { readonly kind: 'M'; readonly month: number; readonly week: number; readonly weekday: number; readonly time: number }
  | { readonly kind: 'J'; readonly day: number; readonly time: number }
  | { readonly kind: 'N'; readonly day: number; readonly time: number };

const NAME = /^(?:<[A-Za-z0-9+-]{3,}>|[A-Za-z]{3,})/;
const OFFSET = /^[+-]?\d{1,3}(?::\d{1,2}){0,2}/;
// glibc's rule when a zone names DST but gives no dates (US rules since 2007).
const DEFAULT_RULES = ',M3.2.0,M11.1.0';

/**
 * Reads a POSIX TZ rule string (`std offset [dst [offset] [,start[/time],end[/time]]]`, e.g.
 * `CET-01CEST-02,M3.5.0,M10.5.0`), the form glibc falls back to when TZ names no zoneinfo file.
 * Node's ICU does not understand these, so local time under such a TZ is computed here.
 * Returns undefined when `tz` is not in that form.
 */
export function parsePosixTz(tz: string): Zone | undefined {
  let rest = tz;
  const std = NAME.exec(rest);
  if (!std) return undefined;
  rest = rest.slice(std[0].length);
  const stdOffset = OFFSET.exec(rest);
  if (!stdOffset) return undefined;
  rest = rest.slice(stdOffset[0].length);
  const standard = -clockSeconds(stdOffset[0]);
  if (rest === '') return { offsetAt: () => standard };
  const dst = NAME.exec(rest);
  if (!dst) return undefined;
  rest = rest.slice(dst[0].length);
  let daylight = standard + 3600;
  const dstOffset = OFFSET.exec(rest);
  if (dstOffset) {
    daylight = -clockSeconds(dstOffset[0]);
    rest = rest.slice(dstOffset[0].length);
  }
  const rules = (rest === '' ? DEFAULT_RULES : rest).split(',');
  if (rules.length !== 3 || rules[0] !== '') return undefined;
  const start = parseRule(rules[1] ?? '');
  const end = parseRule(rules[2] ?? '');
  if (!start || !end) return undefined;
  return {
    offsetAt(utcSeconds: number): number {
      const year = yearOfDays(Math.floor((utcSeconds + standard) / DAY_SECONDS));
      // The start time is given in standard time, the end time in daylight time.
      const dstStart = ruleSeconds(start, year) - standard;
      const dstEnd = ruleSeconds(end, year) - daylight;
      const inDst = dstStart < dstEnd
        ? utcSeconds >= dstStart && utcSeconds < dstEnd
        : !(utcSeconds >= dstEnd && utcSeconds < dstStart);
      return inDst ? daylight : standard;
    },
  };
}

/** `[+-]hh[:mm[:ss]]` as signed seconds. */
function clockSeconds(text: string): number {
  const sign = text.startsWith('-') ? -1 : 1;
  const [h = 0, m = 0, s = 0] = text.replace(/^[+-]/, '').split(':').map(Number);
  return sign * (h * 3600 + m * 60 + s);
}

function parseRule(text: string): Rule | undefined {
  const at = /^(?:M(\d{1,2})\.(\d)\.(\d)|J(\d{1,3})|(\d{1,3}))(?:\/([+-]?\d{1,3}(?::\d{1,2}){0,2}))?$/.exec(text);
  if (!at) return undefined;
  const time = at[6] === undefined ? 7200 : clockSeconds(at[6]);
  if (at[1] !== undefined) {
    const month = Number(at[1]);
    const week = Number(at[2]);
    const weekday = Number(at[3]);
    if (month < 1 || month > 12 || week < 1 || week > 5 || weekday > 6) return undefined;
    return { kind: 'M', month, week, weekday, time };
  }
  if (at[4] !== undefined) {
    const day = Number(at[4]);
    return day >= 1 && day <= 365 ? { kind: 'J', day, time } : undefined;
  }
  const day = Number(at[5]);
  return day <= 365 ? { kind: 'N', day, time } : undefined;
}

/** Local (wall-clock) seconds since the epoch at which `rule` fires in `year`. */
function ruleSeconds(rule: Rule, year: number): number {
  const jan1 = daysFromCivil(year, 1, 1);
  let days: number;
  if (rule.kind === 'J') {
    // Jn counts 1-365 and never names February 29.
    days = jan1 + rule.day - 1 + (isLeapYear(year) && rule.day >= 60 ? 1 : 0);
  } else if (rule.kind === 'N') {
    days = jan1 + rule.day;
  } else {
    const first = daysFromCivil(year, rule.month, 1);
    let day = 1 + ((rule.weekday - weekdayOfDays(first) + 7) % 7) + 7 * (rule.week - 1);
    while (day > daysInMonth(year, rule.month)) day -= 7;
    days = first + day - 1;
  }
  return days * DAY_SECONDS + rule.time;
}

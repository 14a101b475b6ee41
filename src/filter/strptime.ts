import { zoneOffsetMinutes } from '../core/index.js';
import { DAY_SECONDS, dayOfDays, daysFromCivil, daysInMonth, monthOfDays, weekdayOfDays, yearOfDays } from './calendar.js';
import type { LocalTime } from './local-time.js';

/**
 * fail2ban's strptime: the `%` directives of a datepattern as Python regex pieces (named groups
 * per field, as Python 3.11's `_strptime.TimeRE` in the C locale with fail2ban's overrides), and
 * the assembly of the captured fields into an instant (fail2ban's `reGroupDictStrptime`).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const WEEKDAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

// Python builds name alternations longest first so that a prefix never wins.
const byLength = (names: readonly string[]): string => [...names].sort((a, b) => b.length - a.length).join('|');

const ZONE_ABBR = String.raw`[A-Z](?:[A-Z]{2,4})?`;

const DIRECTIVES: Readonly<Record<string, string>> = {
  a: `(?P<a>${WEEKDAYS.join('|')})`,
  A: `(?P<A>${byLength(WEEKDAY_NAMES)})`,
  b: `(?P<b>${MONTHS.join('|')})`,
  B: `(?P<B>${byLength(MONTH_NAMES)})`,
  c: String.raw`(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)`,
  d: String.raw`(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])`,
  f: String.raw`(?P<f>[0-9]{1,6})`,
  G: String.raw`(?P<G>\d\d\d\d)`,
  H: String.raw`(?P<H>[0-1]?\d|2[0-3])`,
  I: String.raw`(?P<I>1[0-2]|0[1-9]|[1-9])`,
  j: String.raw`(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])`,
  k: String.raw` ?(?P<H>[0-2]?\d)`,
  l: String.raw` ?(?P<I>1?\d)`,
  m: String.raw`(?P<m>0?[1-9]|1[0-2])`,
  M: String.raw`(?P<M>[0-5]?\d)`,
  p: '(?P<p>am|pm)',
  S: String.raw`(?P<S>[0-5]?\d|6[0-1])`,
  u: '(?P<u>[1-7])',
  U: String.raw`(?P<U>5[0-3]|[0-4]\d|\d)`,
  V: String.raw`(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)`,
  w: '(?P<w>[0-6])',
  W: String.raw`(?P<W>5[0-3]|[0-4]\d|\d)`,
  x: String.raw`(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)`,
  X: String.raw`(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)`,
  y: String.raw`(?P<y>\d\d)`,
  Y: String.raw`(?P<Y>\d{4})`,
  // fail2ban keeps %z/%Z narrow (they are matched case-insensitively next to %b); %Exz/%ExZ take any abbreviation.
  z: String.raw`(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)`,
  Z: '(?P<Z>Z|[A-Z]{3,5})',
  '%': '%',
  ExZ: `(?P<Z>${ZONE_ABBR})`,
  Exz: String.raw`(?P<z>(?:${ZONE_ABBR})?[+-][01]\d(?::?\d{2})?|${ZONE_ABBR})`,
  Exd: String.raw`(?P<d>[1-2]\d|0[1-9]|3[0-1])`,
  Exm: String.raw`(?P<m>0[1-9]|1[0-2])`,
  ExH: String.raw`(?P<H>[0-1]\d|2[0-3])`,
  Exk: String.raw` ?(?P<H>[0-1]?\d|2[0-3])`,
  Exl: String.raw` ?(?P<I>1[0-2]|\d)`,
  ExM: String.raw`(?P<M>[0-5]\d)`,
  ExS: String.raw`(?P<S>[0-5]\d|6[0-1])`,
  Exy: String.raw`(?P<y>\d{2})`,
};

/**
 * `%ExY`: a 4-digit year of this century's decades up to three years ahead. fail2ban builds it
 * from the real clock (2000 … the decade of now + 3), so a test clock in 2005 still reads 2013.
 */
export function exactYearRegex(latestYear: number): string {
  const decades: string[] = [];
  for (let decade = 200; decade <= Math.floor((latestYear + 3) / 10); decade += 1) decades.push(String(decade));
  return String.raw`(?P<Y>(?:${decades.join('|')})\d)`;
}

/** Whether fail2ban matches the whole template case-insensitively (it names days, months or AM/PM). */
export function hasNameDirective(pattern: string): boolean {
  return /(?<!%)%[aAbBpc]/.test(pattern);
}

/** Replaces every `%` directive of `pattern` by its Python regex; throws on an unknown one. */
export function expandDirectives(pattern: string, exactYear: string): string {
  return replaceDirectives(pattern, (key) => (key === 'ExY' ? exactYear : DIRECTIVES[key]));
}

// fail2ban's names of directives in template names (what fail2ban-regex lists under date template hits).
const DISPLAY_NAMES: Readonly<Record<string, string>> = {
  a: 'DAY', A: 'DAYNAME', b: 'MON', B: 'MONTH', d: 'Day', H: '24hour', I: '12hour', j: 'Yearday',
  m: 'Month', M: 'Minute', p: 'AMPM', S: 'Second', U: 'Yearweek', w: 'Weekday', W: 'Yearweek',
  y: 'Year2', Y: 'Year', '%': '%', z: 'Zone offset', f: 'Microseconds', Z: 'Zone name',
};

/** fail2ban's name of a template pattern: `%b %d` reads `MON Day`, `%ExY` reads `ExYear`, `%k` stays `%k`. */
export function directiveDisplayName(pattern: string): string {
  return replaceDirectives(pattern, (key) => {
    const base = key.startsWith('Ex') ? DISPLAY_NAMES[key.slice(2)] : undefined;
    return base === undefined ? (DISPLAY_NAMES[key] ?? `%${key}`) : `Ex${base}`;
  });
}

function replaceDirectives(pattern: string, replace: (key: string) => string | undefined): string {
  let out = '';
  let at = 0;
  for (;;) {
    const percent = pattern.indexOf('%', at);
    if (percent < 0) return out + pattern.slice(at);
    out += pattern.slice(at, percent);
    const ex = pattern.startsWith('Ex', percent + 1) ? pattern.slice(percent + 1, percent + 4) : '';
    const key = ex === 'ExY' || Object.hasOwn(DIRECTIVES, ex) ? ex : pattern.charAt(percent + 1);
    const piece = key === 'ExY' || Object.hasOwn(DIRECTIVES, key) ? replace(key) : undefined;
    if (piece === undefined) {
      const what = pattern.slice(percent, percent + 2);
      throw new Error(what === '%s' ? 'unsupported directive %s (use {EPOCH} for epoch seconds)' : `unknown directive or unescaped percent "${what}"`);
    }
    out += piece;
    at = percent + 1 + key.length;
  }
}

type Field = 'Y' | 'y' | 'm' | 'B' | 'b' | 'd' | 'H' | 'I' | 'M' | 'S' | 'A' | 'a' | 'w' | 'j' | 'U' | 'W' | 'z' | 'Z';
const FIELDS = new Set<string>(['Y', 'y', 'm', 'B', 'b', 'd', 'H', 'I', 'M', 'S', 'A', 'a', 'w', 'j', 'U', 'W', 'z', 'Z']);

/** Which regex groups hold which date fields, in the order fail2ban reads them. */
export interface FieldPlan {
  readonly slots: readonly { readonly field: Field; readonly group: number }[];
  readonly ampmGroup: number;
}

export function fieldPlan(groups: ReadonlyMap<string, number>): FieldPlan {
  const slots = [...groups]
    .filter(([name]) => FIELDS.has(name))
    .sort((a, b) => a[1] - b[1])
    .map(([name, group]) => ({ field: name as Field, group }));
  return { slots, ampmGroup: groups.get('p') ?? 0 };
}

/** What the year-less and time-only rules compare against. */
export interface TimeContext {
  /** Now as local wall-clock seconds (see LocalTime). */
  readonly nowWall: number;
  readonly local: LocalTime;
  /** logtimezone in minutes east of UTC, for dates without a zone of their own. */
  readonly defaultZone: number | undefined;
}

/**
 * The instant (whole seconds; fail2ban drops `%f`) of the captured fields, or undefined when
 * they are no real date (February 30, 24:00, 23:59:60, an unknown zone) — fail2ban then finds no
 * time for the line. A missing year is now's year, moved back one year when that puts the date
 * more than a day after now; a missing date is today, or yesterday when that is after now.
 */
export function assembleTime(match: RegExpExecArray, plan: FieldPlan, context: TimeContext): number | undefined {
  let year = -1;
  let month = -1;
  let day = -1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let zone: number | undefined;
  let weekday = -1;
  let yearDay = -1;
  let week = -1;
  let weekStartsMonday = false;
  for (const { field, group } of plan.slots) {
    const value = match[group];
    if (value === undefined) continue;
    switch (field) {
      case 'y':
        year = Number(value);
        if (year <= 2000) year += 2000;
        break;
      case 'Y': year = Number(value); break;
      case 'm': month = Number(value); break;
      case 'b': month = monthOfAbbreviation(value); if (month === 0) return undefined; break;
      case 'B': month = MONTH_NAMES.indexOf(value.toLowerCase()) + 1; if (month === 0) return undefined; break;
      case 'd': day = Number(value); break;
      case 'H': hour = Number(value); break;
      case 'I': hour = twelveHour(Number(value), plan.ampmGroup === 0 ? undefined : match[plan.ampmGroup]); break;
      case 'M': minute = Number(value); break;
      case 'S': second = Number(value); break;
      case 'a': weekday = WEEKDAYS.indexOf(value.toLowerCase()); if (weekday < 0) return undefined; break;
      case 'A': weekday = WEEKDAY_NAMES.indexOf(value.toLowerCase()); if (weekday < 0) return undefined; break;
      case 'w': weekday = (Number(value) + 6) % 7; break;
      case 'j': yearDay = Number(value); break;
      case 'U': case 'W':
        week = Number(value);
        weekStartsMonday = field === 'W';
        break;
      case 'z': case 'Z':
        zone = zoneOffsetMinutes(value);
        if (zone === undefined) return undefined;
        break;
    }
  }
  // Custom groups named like fields may capture non-numbers; Python's int() refuses them.
  if (Number.isNaN(year + month + day + hour + minute + second + yearDay + week + weekday)) return undefined;
  const nowDays = Math.floor(context.nowWall / DAY_SECONDS);
  const assumeYear = year < 0;
  if (assumeYear) year = yearOfDays(nowDays);
  if (month < 0 || day < 0) {
    if (yearDay < 0 && week >= 0 && weekday >= 0) yearDay = dayOfYearFromWeek(year, week, weekday, weekStartsMonday);
    if (yearDay >= 0) {
      const days = daysFromCivil(year, 1, 1) + yearDay - 1;
      year = yearOfDays(days);
      month = monthOfDays(days);
      day = dayOfDays(days);
    }
  }
  const assumeToday = month < 0 && day < 0;
  if (assumeToday) {
    month = monthOfDays(nowDays);
    day = dayOfDays(nowDays);
  }
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  if (zone === undefined) zone = context.defaultZone;
  let wall = daysFromCivil(year, month, day) * DAY_SECONDS + hour * 3600 + minute * 60 + second;
  // fail2ban compares against now's local wall clock even after shifting a zoned date to UTC.
  if (zone !== undefined) wall -= zone * 60;
  if (assumeToday && wall > context.nowWall) wall -= DAY_SECONDS;
  if (assumeYear && wall > context.nowWall + DAY_SECONDS) {
    // Last year, with the parsed month and day but the (possibly zone-shifted) time of day.
    if (!validDate(year - 1, month, day)) return undefined;
    wall = daysFromCivil(year - 1, month, day) * DAY_SECONDS + (((wall % DAY_SECONDS) + DAY_SECONDS) % DAY_SECONDS);
  }
  return zone === undefined ? context.local.toEpoch(wall) : wall;
}

// Month abbreviations keyed by their three lower-cased char codes: no string allocated per line.
const MONTH_KEYS: ReadonlyMap<number, number> = new Map(MONTHS.map((name, index) => [abbreviationKey(name), index + 1]));

function abbreviationKey(text: string): number {
  return ((text.charCodeAt(0) | 32) << 16) | ((text.charCodeAt(1) | 32) << 8) | (text.charCodeAt(2) | 32);
}

function monthOfAbbreviation(text: string): number {
  return text.length === 3 ? (MONTH_KEYS.get(abbreviationKey(text)) ?? 0) : 0;
}

function twelveHour(hour: number, ampm: string | undefined): number {
  if (ampm !== undefined && ampm.toLowerCase() === 'pm') return hour === 12 ? 12 : hour + 12;
  if (ampm === undefined || ampm === '' || ampm.toLowerCase() === 'am') return hour === 12 ? 0 : hour;
  return hour;
}

function validDate(year: number, month: number, day: number): boolean {
  return year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Python's `_calc_julian_from_U_or_W`: day of the year from a week number and a weekday (Monday = 0). */
function dayOfYearFromWeek(year: number, week: number, weekday: number, weekStartsMonday: boolean): number {
  let firstWeekday = (weekdayOfDays(daysFromCivil(year, 1, 1)) + 6) % 7;
  let day = weekday;
  if (!weekStartsMonday) {
    firstWeekday = (firstWeekday + 1) % 7;
    day = (day + 1) % 7;
  }
  if (week === 0) return 1 + day - firstWeekday;
  return 1 + ((7 - firstWeekday) % 7) + 7 * (week - 1) + day;
}

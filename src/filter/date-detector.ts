import { InputError, nowSeconds, ZONE_FORMS, zoneOffsetMinutes } from '../core/index.js';
import { DAY_SECONDS, yearOfDays } from './calendar.js';
import { LINE_BEGIN, LINE_END, type DateTemplate } from './date-template.js';
import { datePatternTemplates } from './date-templates.js';
import { createLocalTime, type LocalTime } from './local-time.js';
import { exactYearRegex, type TimeContext } from './strptime.js';

/** The date found in a log line. */
export interface DateMatch {
  /**
   * Epoch seconds (fractional only for epoch stamps; fail2ban drops `%f`). Undefined when the
   * date text is empty (`{NONE}`, an optional date: fail2ban then uses the last date or now,
   * tell by `start === end`) or is no valid date (February 30: fail2ban has no time for the line).
   */
  readonly time: number | undefined;
  /** Span of the date text (fail2ban's group 1) in the line: the engine cuts it out before matching. */
  readonly start: number;
  readonly end: number;
  /** Name of the template that matched, for test-filter's "date template hits". */
  readonly template: string;
}

export interface DateDetector {
  match(line: string): DateMatch | undefined;
  /** Templates in their current order with the number of lines each matched. */
  hits(): { readonly name: string; readonly hits: number }[];
}

export interface DateDetectorOptions {
  /** fail2ban's raw `datepattern` value: lines of patterns, `{^LN-BEG}`, `{DEFAULT}`, `{DATE}`, `{NONE}`, `Epoch`, `TAI64N`… */
  readonly datepattern?: string;
  /** The clock, epoch seconds: dates without a year or day are placed relative to it. */
  readonly now: () => number;
  /** fail2ban's `logtimezone` (`UTC`, `+0200`, `CET`, `UTC-3`): the zone of dates that carry none. */
  readonly timeZone?: string;
  /** The local time zone (default: the TZ environment variable, like glibc; POSIX rule strings included). */
  readonly localTimeZone?: string;
}

/** fail2ban's `logtimezone` in minutes east of UTC; one it does not know throws an InputError naming it. */
function logTimeZoneMinutes(timeZone: string): number {
  const minutes = zoneOffsetMinutes(timeZone);
  if (minutes === undefined) throw new InputError(`bad logtimezone "${timeZone}": use ${ZONE_FORMS}`);
  return minutes;
}

/** Builds a detector; a bad `datepattern` or `timeZone` throws an InputError naming it. */
export function createDateDetector(options: DateDetectorOptions): DateDetector {
  const defaultZone = options.timeZone === undefined || options.timeZone === '' ? undefined : logTimeZoneMinutes(options.timeZone);
  const local = createLocalTime(options.localTimeZone ?? process.env.TZ);
  // fail2ban builds %ExY from the real clock, not its test clock: take the later of both.
  const year = (epoch: number): number => yearOfDays(Math.floor(local.toWall(epoch) / DAY_SECONDS));
  const exactYear = exactYearRegex(Math.max(year(options.now()), year(nowSeconds())));
  const templates = datePatternTemplates(options.datepattern, { exactYear });
  return new TemplateSearch(templates, options.now, local, defaultZone);
}

interface Entry {
  readonly template: DateTemplate;
  hits: number;
  lastUsed: number;
  distance: number;
}

const NONE = 0x7fffffff;
// A template unused this long may be overtaken when reordering.
const UNUSED_SECONDS = 300;
const ALNUM = /[\p{L}\p{N}]/u;
/** The assertion fail2ban appends to a date that must end at a word boundary. */
const WORD_END_ASSERTION = String.raw`(?=\b|\W|$)`;

/**
 * fail2ban's DateDetector.matchTime: try the template that matched last (within the same
 * span of the line when it is not anchored), else every template in order, preferring a match
 * nearer the line start; then move a winning template up the list. Which template wins — and
 * so what is cut out of the line — depends on this history, as in fail2ban.
 */
class TemplateSearch implements DateDetector {
  private readonly entries: Entry[];
  private readonly context: { nowWall: number; local: LocalTime; defaultZone: number | undefined };
  private lastIndex = NONE;
  private lastStart = 1;
  private lastStartBefore = '';
  private lastStartAt = '';
  private lastEnd = NONE;
  private lastEndBefore = '';
  private lastEndAt = '';
  private firstUnused = 0;
  /** The last instant read, with what it was read from: lines come several a second. */
  private readTemplate: DateTemplate | undefined;
  private readonly readValues: (string | undefined)[] = [];
  private readNowWall = NaN;
  private readTime: number | undefined;
  /** The last date found, when it spans `lastFoundText` from the line start: see sameDate. */
  private lastFound: DateMatch | undefined;
  private lastFoundText = '';
  private lastFoundNowWall = NaN;
  private lastFoundRegex: RegExp | undefined;
  /** Per template, a sticky copy of its regex when sameDate may use it, else null. */
  private readonly sticky = new Map<DateTemplate, RegExp | null>();

  constructor(
    templates: readonly DateTemplate[],
    private readonly now: () => number,
    local: LocalTime,
    defaultZone: number | undefined,
  ) {
    this.entries = templates.map((template) => ({ template, hits: 0, lastUsed: 0, distance: NONE }));
    this.context = { nowWall: 0, local, defaultZone };
  }

  hits(): { readonly name: string; readonly hits: number }[] {
    return this.entries.map((entry) => ({ name: entry.template.name, hits: entry.hits }));
  }

  match(line: string): DateMatch | undefined {
    const same = this.sameDate(line);
    if (same !== undefined) return same;
    const entries = this.entries;
    const count = entries.length;
    let match: RegExpExecArray | null = null;
    let winner = -1;
    let found: RegExpExecArray | null = null;
    let foundIndex = -1;
    let skip = NONE;
    const last = this.lastIndex;
    const lastEntry = entries[last];
    if (lastEntry) {
      const template = lastEntry.template;
      const anchored = (template.flags & (LINE_BEGIN | LINE_END)) !== 0;
      if (anchored || !this.sameBoundaries(line)) {
        match = search(template, line, 0, line.length);
        skip = last;
      } else {
        match = search(template, line, this.lastStart, this.lastEnd);
      }
      if (match) {
        if (count === 1 || anchored || (match.index === this.lastStart && matchEnd(match) === this.lastEnd)) {
          winner = last;
        } else {
          found = match;
          foundIndex = last;
          match = null;
        }
      }
    }
    if (winner < 0) {
      for (let index = 0; index < count; index += 1) {
        if (index === skip) continue;
        const entry = entries[index] as Entry;
        match = search(entry.template, line, 0, line.length);
        if (!match) continue;
        const distance = match.index;
        if (index + 1 >= count || (entry.template.flags & (LINE_BEGIN | LINE_END)) !== 0) {
          winner = index;
          break;
        }
        // Found farther into the line than before: maybe a date-like text in the message;
        // keep the nearest such match and look on.
        if (distance > entry.distance || distance > this.lastStart) {
          if (!found || distance < found.index) {
            found = match;
            foundIndex = index;
          }
          match = null;
          continue;
        }
        winner = index;
        break;
      }
      if (winner < 0 && found) {
        match = found;
        winner = foundIndex;
      }
    }
    if (!match || winner < 0) return undefined;
    return this.won(line, match, winner);
  }

  /**
   * The date of the line before, when this line begins with the text that date spanned from the
   * line start and the same line-begin template matches it there with the same end (most lines
   * of a log begin with the date of the line before: no match array, no groups, no instant to
   * make). The groups are then the same: the regex looks at nothing past the end of its match
   * but the one character its end assertion tests (sameDateRegex), so any path tried before the
   * one that matched fails on this line as it did on that one.
   */
  private sameDate(line: string): DateMatch | undefined {
    const found = this.lastFound;
    const regex = this.lastFoundRegex;
    if (found === undefined || regex === undefined || !line.startsWith(this.lastFoundText)) return undefined;
    const now = this.now();
    if (this.context.local.toWall(now) !== this.lastFoundNowWall) return undefined;
    regex.lastIndex = 0;
    if (!regex.test(line) || regex.lastIndex !== this.lastFoundText.length) return undefined;
    this.record(line, this.lastIndex, 0, regex.lastIndex, now);
    return found;
  }

  private won(line: string, match: RegExpExecArray, index: number): DateMatch {
    const now = this.now();
    const template = (this.entries[index] as Entry).template;
    const end = matchEnd(match);
    this.record(line, index, match.index, end, now);
    const found = this.dateOf(template, match, now);
    this.lastFound = found;
    this.lastFoundRegex = match.index === 0 && end > 0 ? this.stickyOf(template) : undefined;
    this.lastFoundText = this.lastFoundRegex === undefined ? '' : line.slice(0, end);
    this.lastFoundNowWall = this.context.local.toWall(now);
    return found;
  }

  private stickyOf(template: DateTemplate): RegExp | undefined {
    let regex = this.sticky.get(template);
    if (regex === undefined) this.sticky.set(template, regex = sameDateRegex(template));
    return regex ?? undefined;
  }

  /** What a template winning at `distance`..`end` changes in the search's state. */
  private record(line: string, index: number, distance: number, end: number, now: number): void {
    const entry = this.entries[index] as Entry;
    entry.hits += 1;
    entry.lastUsed = now;
    entry.distance = distance;
    if (this.firstUnused === index) this.firstUnused += 1;
    this.lastStart = distance;
    this.lastStartBefore = distance > 0 ? line.charAt(distance - 1) : '';
    this.lastStartAt = line.charAt(distance);
    this.lastEnd = end;
    // Python's line[end - 1] wraps to the last char when end is 0.
    this.lastEndBefore = end > 0 ? line.charAt(end - 1) : line.charAt(line.length - 1);
    this.lastEndAt = line.charAt(end);
    this.lastIndex = index !== 0 && index !== this.lastIndex ? this.reorder(index) : index;
  }

  private dateOf(template: DateTemplate, match: RegExpExecArray, now: number): DateMatch {
    const text = match[template.dateGroup];
    let start = match.index;
    if (template.prefixGroup !== 0) start += (match[template.prefixGroup] ?? '').length;
    else if (match.indices) start = match.indices[template.dateGroup]?.[0] ?? start;
    if (text === undefined || text === '') return { time: undefined, start, end: start, template: template.name };
    const nowWall = this.context.local.toWall(now);
    if (!this.sameRead(template, match, nowWall)) {
      this.context.nowWall = nowWall;
      this.readTime = template.time(match, this.context satisfies TimeContext);
    }
    return { time: this.readTime, start, end: start + text.length, template: template.name };
  }

  /**
   * Whether the instant of `match` is the one read last: the same template read the same groups
   * at the same local time (converting one wall time again gives the same instant). Else this
   * match becomes the one remembered.
   */
  private sameRead(template: DateTemplate, match: RegExpExecArray, nowWall: number): boolean {
    const values = this.readValues;
    const groups = template.timeGroups;
    let same = template === this.readTemplate && nowWall === this.readNowWall;
    for (let i = 0; i < groups.length; i++) {
      const value = match[groups[i] as number];
      if (value !== values[i]) {
        same = false;
        values[i] = value;
      }
    }
    this.readTemplate = template;
    this.readNowWall = nowWall;
    return same;
  }

  /** Whether the line has the same chars around the last date's span (or non-alphanumeric ones inside it). */
  private sameBoundaries(line: string): boolean {
    const start = this.lastStart;
    const end = this.lastEnd;
    const startOk = charAt(line, start - 1) === this.lastStartBefore
      || (charAt(line, start) === this.lastStartAt && !isAlnum(this.lastStartAt));
    return startOk && (charAt(line, end) === this.lastEndAt
      || (charAt(line, end - 1) === this.lastEndBefore && !isAlnum(this.lastEndBefore)));
  }

  /** Moves a winning template up: to the first never-used place, else halfway, else one step. */
  private reorder(index: number): number {
    const entries = this.entries;
    const entry = entries[index] as Entry;
    const unusedSince = entry.lastUsed - UNUSED_SECONDS;
    const weight = weightOf(entry);
    const movableTo = (position: number): boolean => {
      const other = entries[position] as Entry;
      return weight > weightOf(other) || unusedSince > other.lastUsed;
    };
    let position = this.firstUnused < index ? this.firstUnused : Math.floor(index / 2);
    if (!movableTo(position)) {
      if (position === index - 1) return index;
      position = index - 1;
      if (!movableTo(position)) return index;
    }
    entries.splice(index, 1);
    entries.splice(position, 0, entry);
    while (this.firstUnused < entries.length && (entries[this.firstUnused] as Entry).hits > 0) this.firstUnused += 1;
    return position;
  }
}

function weightOf(entry: Entry): number {
  return (entry.hits * entry.template.weight) / Math.max(1, entry.distance);
}

/** Python's `search(line, pos, endpos)`: `^` only at 0, lookbehind sees before pos, the line ends at endpos. */
function search(template: DateTemplate, line: string, pos: number, endpos: number): RegExpExecArray | null {
  const regex = template.regex;
  regex.lastIndex = pos;
  return regex.exec(endpos < line.length ? line.slice(0, endpos) : line);
}

/**
 * A sticky copy of a line-begin template's regex, for sameDate: only when the regex looks at
 * nothing past its match but the character after it (the `(?=\b|\W|$)` fail2ban appends): no
 * other lookahead, and no multi-line `^`.
 */
function sameDateRegex(template: DateTemplate): RegExp | null {
  const { regex, flags } = template;
  if ((flags & LINE_BEGIN) === 0 || (flags & LINE_END) !== 0 || regex.multiline) return null;
  const source = regex.source.endsWith(WORD_END_ASSERTION) ? regex.source.slice(0, -WORD_END_ASSERTION.length) : regex.source;
  if (source.includes('(?=') || source.includes('(?!')) return null;
  return new RegExp(regex.source, `${regex.flags.replace('g', '')}y`);
}

function matchEnd(match: RegExpExecArray): number {
  return match.index + match[0].length;
}

/** Python's one-char slice `line[at:at+1]` ('' outside the line). */
function charAt(line: string, at: number): string {
  return at >= 0 ? line.charAt(at) : '';
}

function isAlnum(char: string): boolean {
  return char !== '' && ALNUM.test(char);
}

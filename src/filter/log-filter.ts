import { InputError } from '../core/index.js';
import { FAIL2BAN_FILTER_DIR, type FilterDefinition, type LogFormat, type RegexSource } from '../config/index.js';
import { catastrophicBacktracking, describeBacktracking } from './backtracking.js';
import { createDateDetector, type DateDetector } from './date-detector.js';
import { compileFailRegex, failureHost, type FailCaptures, type FailRegex, type FailRegexMatch, type FailureHost } from './fail-regex.js';
import type { UseDns } from './fail-tags.js';
import { SessionCache } from './session-cache.js';
import { FrameReader, type RecordsBefore } from './container-frame.js';

/** A log line split around its date as fail2ban keeps it: [before the date, the date text, after]. */
type TupleLine = readonly [string, string, string];

export interface LogFilterOptions {
  /** Epoch seconds; dates without a year and lines without a date are read against it. */
  readonly now: () => number;
  /** fail2ban's `logtimezone` for dates that carry no zone. */
  readonly timeZone?: string;
  readonly useDns?: UseDns;
  /**
   * Try every failregex on every line and report them all (fail2ban-regex, the conformance
   * test); the daemon stops at the first that matches, as fail2ban's jails do.
   */
  readonly checkAllRegex?: boolean;
  /**
   * Reading live (the daemon): a failure on a line without a usable date happened now. Off for
   * test-filter, where such a failure has no time.
   */
  readonly assumeNow?: boolean;
  /**
   * The regexes were checked for catastrophic backtracking where the filter was loaded: not
   * again (the daemon's filter worker, whose filters the main thread compiled first; the check
   * was most of a worker's start).
   */
  readonly backtrackingChecked?: boolean;
  /**
   * The jail's `logformat`: each line of the log is a container runtime's record, and the filter
   * reads the line inside at the record's time (see container-frame.ts). Default `plain`.
   */
  readonly logFormat?: LogFormat;
}

/** One failure a line completed, with everything fail2ban would put in its ticket. */
export interface Failure {
  /** Index of the failregex that matched. */
  readonly regex: number;
  /** Who failed: the address (or name, or failure id) to ban. */
  readonly host: FailureHost;
  /** The failure id when it differs from the host (`<F-ID>` with a host beside it). */
  readonly fid?: string;
  /** Epoch seconds, from the line's date; undefined when the line has none and assumeNow is off. */
  readonly time: number | undefined;
  /** Every captured group (prefregex's overlaid by the failregex's, merged over a `<F-MLFID>` session). */
  readonly captures: FailCaptures;
  /** Every user name seen in the failure's `<F-MLFID>` session. */
  readonly users?: readonly string[];
  /** The log lines that make up the failure, as read. */
  readonly lines: readonly string[];
}

export interface LineResult {
  /** Failures this line completed (none for most lines). */
  readonly failures: readonly Failure[];
  /** Every failregex that matched, whether or not it completed a failure. */
  readonly hits: readonly number[];
  /** A failregex matched a line marked as no failure (`<F-NOFAIL>`, `<F-MLFGAINED>`). */
  readonly nofail: boolean;
  /** Index of the ignoreregex that discarded a match, if one did. */
  readonly ignoredBy: number | undefined;
  /** The date template that read the line's date, if one did. */
  readonly dateTemplate: string | undefined;
}

const NONE: never[] = [];

/** fail2ban keeps at most 100 multi-line sessions, each for 5 minutes. */
const SESSION_LIMIT = 100;
const SESSION_SECONDS = 300;
/** A line without a date inherits the previous line's date when that is this recent. */
const LAST_DATE_SECONDS = 60;

/** The failure data of a session or match: captures plus fail2ban's bookkeeping keys. */
interface FailData {
  values: Record<string, string>;
  users: Set<string> | undefined;
  matches: TupleLine[];
  nofailMatches: TupleLine[];
  pending: boolean;
}

const joinTuple = (t: TupleLine): string => t[0] + t[2];
/**
 * The line's texts copied out of whatever they are slices of: a line read from a file is a slice
 * of a 64 KiB chunk (the daemon's, of a batch), and a session that kept it would keep the whole
 * chunk alive for as long as the session lasts.
 */
const detached = (t: TupleLine): TupleLine => {
  // Slicing a concatenation flattens it into one new string of the line's length, which the slices then share.
  const text = `\n${t[0]}${t[1]}${t[2]}`;
  const date = 1 + t[0].length;
  const rest = date + t[1].length;
  return [text.slice(1, date), text.slice(date, rest), text.slice(rest)];
};
const fullLine = (t: TupleLine): string => t[0] + t[1] + t[2];
/** The text fail2ban searches: each line without its date, each ending in a newline. */
const bufferText = (lines: readonly TupleLine[]): string => {
  let text = '';
  for (const line of lines) text += `${joinTuple(line)}\n`;
  return text;
};
/** `${content}\n` as a slice of `buf` when `buf` ends so: no copy of the text, which the RegExps would flatten again. */
const contentText = (buf: string, content: string): string => (
  buf.charCodeAt(buf.length - 1) === 10 && buf.endsWith(content, buf.length - 1) ? buf.slice(buf.length - content.length - 1) : `${content}\n`
);

const USE_DNS: readonly UseDns[] = ['yes', 'warn', 'no', 'raw'];

function parseUseDns(definition: FilterDefinition): UseDns {
  const value = (definition.options.usedns ?? 'warn').trim().toLowerCase();
  const found = USE_DNS.find((v) => v === value);
  if (found === undefined) throw new InputError(`${definition.file}: usedns must be one of ${USE_DNS.join(', ')}, not "${value}"`);
  return found;
}

/**
 * fail2ban's own filter files are loaded as fail2ban ships them: a few of their regexes (exim,
 * domino-smtp, named-refused, dovecot's aggressive mode, the rfc5424 line prefix) have shapes
 * that backtrack exponentially, and refusing them would refuse filters fail2ban users run.
 */
const isFail2bansOwn = (file: string): boolean => file.startsWith(`${FAIL2BAN_FILTER_DIR}/`) && file.endsWith('.conf');

/**
 * Compiles each regex, refusing (or, in fail2ban's own files, reporting to `warn`) one that can
 * backtrack catastrophically; every problem names the file and line that wrote the regex.
 */
function compileAll(
  sources: readonly RegexSource[], compile: (text: string) => FailRegex, warn: (message: string) => void, checked: boolean,
): FailRegex[] {
  return sources.map((source) => {
    const where = `${source.file}:${source.line}`;
    let regex: FailRegex;
    try {
      regex = compile(source.text);
    } catch (error) {
      if (error instanceof InputError) throw new InputError(`${where}: ${error.message}`, { cause: error });
      throw error;
    }
    const shape = checked ? undefined : catastrophicBacktracking(regex.javascript);
    if (shape === undefined) return regex;
    const problem = `${where}: ${regex.kind} '${source.text}': ${describeBacktracking(shape)}`;
    if (!isFail2bansOwn(source.file)) throw new InputError(problem);
    warn(`${problem} (fail2ban's own filter: loaded as it ships)`);
    return regex;
  });
}

/**
 * For a text beginning with a given UTF-16 unit, `next[i]` is the first failregex at or after `i`
 * that can match it (the count of failregexes when none can). Most failregexes can only begin
 * with fixed text, and most lines match none of them: with every failregex tried on every line
 * (test-filter), a line is tried only on those that can begin as it does.
 */
function failregexTables(regexes: readonly FailRegex[]): (unit: number) => readonly number[] {
  const table = (fits: (regex: FailRegex) => boolean): number[] => {
    const next = new Array<number>(regexes.length + 1).fill(regexes.length);
    for (let i = regexes.length - 1; i >= 0; i--) next[i] = fits(regexes[i] as FailRegex) ? i : next[i + 1] as number;
    return next;
  };
  const other = table((regex) => regex.firstUnits === undefined);
  const byUnit = new Map<number, readonly number[]>();
  for (const { firstUnits } of regexes) for (const unit of firstUnits ?? []) {
    if (!byUnit.has(unit)) byUnit.set(unit, table((regex) => regex.firstUnits?.has(unit) ?? true));
  }
  return (unit) => byUnit.get(unit) ?? other;
}

/**
 * Which lines of `orgLines` a match in `buf` (their joined text) covered, and which it did not:
 * the lines the match touches, minus those a `<SKIPLINES>` group swallowed.
 */
function splitByMatch(buf: string, match: FailRegexMatch, orgLines: readonly TupleLine[]): { matched: TupleLine[]; unmatched: TupleLine[] } {
  if (orgLines.length <= 1) return { matched: [...orgLines], unmatched: [] };
  const lineStart = buf.lastIndexOf('\n', match.start) + 1;
  const endAt = buf.indexOf('\n', Math.max(0, match.end - 1));
  const lineEnd = endAt === -1 ? buf.length : endAt + 1;
  const first = countNewlines(buf, 0, lineStart);
  const last = countNewlines(buf, 0, lineEnd);
  const matched = orgLines.slice(first, last);
  const unmatched = orgLines.slice(0, first);
  let from = 0;
  for (const skipped of skippedLines(match.captures)) {
    const at = matched.findIndex((line, i) => i >= from && joinTuple(line) === skipped);
    if (at === -1) continue;
    unmatched.push(...matched.splice(at, 1));
    from = at;
  }
  unmatched.push(...orgLines.slice(last));
  return { matched, unmatched };
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function skippedLines(captures: FailCaptures): string[] {
  let text = '';
  for (let n = 0; `skiplines${n}` in captures; n++) text += captures[`skiplines${n}`] ?? '';
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/**
 * One fail2ban filter at work on a stream of lines: the date is found and cut out, the line joins
 * the `maxlines` buffer, prefregex, failregex and ignoreregex run as fail2ban runs them, and
 * `<F-MLFID>` sessions merge failures over several lines. Holds the state that carries from one
 * line to the next, so one instance reads one log.
 */
export class LogFilter {
  readonly definition: FilterDefinition;
  /** What a `<HOST>` that is a name becomes (fail2ban's `usedns`, default `warn`): see failureAddresses. */
  readonly useDns: UseDns;
  private readonly options: LogFilterOptions;
  private readonly dates: DateDetector | undefined;
  private readonly frames: FrameReader | undefined;
  private readonly prefregex: FailRegex | undefined;
  private readonly failregex: readonly FailRegex[];
  /** See failregexTables. */
  private readonly nextFailregex: (unit: number) => readonly number[];
  private readonly ignoreregex: readonly FailRegex[];
  private readonly maxlines: number;
  private buffer: TupleLine[] = [];
  private lastDate: number | undefined;
  private lastDateText = '';
  private readonly sessions = new SessionCache<FailData>(SESSION_LIMIT, SESSION_SECONDS);
  private noMatch: LineResult = { failures: NONE, hits: NONE, nofail: false, ignoredBy: undefined, dateTemplate: undefined };
  /** Regexes of fail2ban's own filters that can backtrack catastrophically, one message each. */
  readonly warnings: readonly string[];

  constructor(definition: FilterDefinition, options: LogFilterOptions) {
    this.definition = definition;
    this.options = options;
    const useDns = options.useDns ?? parseUseDns(definition);
    this.useDns = useDns;
    this.maxlines = definition.maxlines;
    const journal = definition.options.logtype === 'journal';
    this.dates = journal ? undefined : createDateDetector({
      ...(definition.datepattern === undefined ? {} : { datepattern: definition.datepattern }),
      ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
      now: options.now,
    });
    const warnings: string[] = [];
    const warn = (message: string): void => void warnings.push(message);
    const checked = options.backtrackingChecked === true;
    const prefregex = definition.prefregex && compileAll([definition.prefregex], (text) => compileFailRegex(text, { kind: 'prefregex', useDns }), warn, checked)[0];
    this.prefregex = prefregex;
    this.failregex = compileAll(definition.failregex, (text) => compileFailRegex(text, {
      kind: 'failregex', multiline: this.maxlines > 1, useDns, ...(prefregex ? { prefregex } : {}),
    }), warn, checked);
    this.nextFailregex = failregexTables(this.failregex);
    this.ignoreregex = compileAll(definition.ignoreregex, (text) => compileFailRegex(text, { kind: 'ignoreregex', useDns }), warn, checked);
    this.warnings = warnings;
    this.frames = options.logFormat === undefined || options.logFormat === 'plain' ? undefined : new FrameReader(options.logFormat);
  }

  /** Date templates in their current order, with how often each read a date. */
  dateHits(): readonly { readonly name: string; readonly hits: number }[] {
    return this.dates?.hits() ?? [];
  }

  /**
   * Reads one line. `time` is given when the source already knows it (the journal): the line
   * then carries no date to look for. `terminated`, when given, is `line + '\n'` as a slice of
   * the text the line was read from: the text searched (the line without its date, and a `\n`)
   * is then a slice of it, where a concatenation would be copied again by every RegExp run.
   * `ascii`: the line holds only ASCII characters, so cheaper RegExps may search it. With a
   * `logFormat`, the line is a container runtime's record: the line it holds is read, and a
   * record that holds none (not one of the format's, or a piece of a cut line) matches nothing.
   */
  processLine(line: string, time?: number, terminated?: string, ascii = false): LineResult {
    if (this.frames === undefined) return this.readLine(line, time, terminated, ascii, undefined);
    const framed = this.frames.next(line, ascii);
    return framed === undefined ? this.noMatch : this.readLine(framed.text, undefined, undefined, framed.ascii, framed.time);
  }

  /** With a `logFormat`, how many lines read were no record of it (and matched nothing); 0 without. */
  get notRecords(): number {
    return this.frames?.notRecords ?? 0;
  }

  /** Whether lines are a container runtime's records (a `logFormat`): see resume. */
  get readsRecords(): boolean {
    return this.frames !== undefined;
  }

  /**
   * This filter starts reading its log part way in: `before` holds the lines just before (see
   * FrameReader.resume). Only a `logFormat` carries state from those lines that matters here.
   */
  resume(before: RecordsBefore | undefined): void {
    this.frames?.resume(before);
  }

  /**
   * The log had a line here that was dropped unread (over the length limit). With a `logFormat`,
   * the record dropped may have begun or gone on with a line cut into several: see FrameReader.lost.
   */
  lineDropped(): void {
    this.frames?.lost();
  }

  /**
   * processLine's work on the line itself. `recordTime`, for a line a container runtime's record
   * held: its date, if it has one, is found and set aside as in any log, but the record's time is
   * the failure's (the runtime's clock, with its zone, where a date in the line may have none).
   */
  private readLine(line: string, time: number | undefined, terminated: string | undefined, ascii: boolean, recordTime: number | undefined): LineResult {
    let tuple: TupleLine;
    let date: number | undefined;
    let dateTemplate: string | undefined;
    const now = this.options.now();
    if (time !== undefined || this.dates === undefined) {
      tuple = ['', '', line];
      date = time ?? now;
    } else {
      const found = this.dates.match(line);
      if (found) {
        dateTemplate = found.template;
        const text = line.slice(found.start, found.end);
        tuple = [line.slice(0, found.start), text, line.slice(found.end)];
        if (text !== '') {
          if (found.time !== undefined) {
            date = found.time;
            this.lastDate = date;
            this.lastDateText = text;
          }
        } else if (this.lastDate !== undefined && this.lastDate > now - LAST_DATE_SECONDS) {
          tuple = ['', this.lastDateText, line];
          date = this.lastDate;
        } else {
          date = now;
        }
      } else {
        tuple = ['', '', line];
      }
      if (date === undefined) {
        if (this.lastDate !== undefined && this.lastDate > now - LAST_DATE_SECONDS) {
          tuple = ['', this.lastDateText, line];
          date = this.lastDate;
        } else if (this.options.assumeNow) {
          date = now;
        }
      }
    }
    if (recordTime !== undefined) date = recordTime;
    // The line's rest is always a suffix of the line: with nothing before the date, `rest + '\n'` ends `terminated`.
    const text = terminated !== undefined && tuple[0] === '' ? terminated.slice(line.length - tuple[2].length) : undefined;
    return this.findFailures(tuple, date, now, dateTemplate, text, ascii);
  }

  /**
   * `text`, when given, is the tuple's text as fail2ban searches it (bufferText of the tuple
   * alone); `asciiLine`: the tuple's line holds only ASCII characters.
   */
  private findFailures(
    tuple: TupleLine, date: number | undefined, now: number, dateTemplate: string | undefined, text: string | undefined, asciiLine: boolean,
  ): LineResult {
    // Most lines match nothing: they share empty arrays instead of allocating their own.
    let failures: Failure[] = NONE;
    let hits: number[] = NONE;
    let nofail = false;
    const checkAll = this.options.checkAllRegex === true;
    let orgBuffer: TupleLine[];
    if (this.maxlines > 1) {
      this.buffer.push(tuple);
      if (this.buffer.length > this.maxlines) this.buffer = this.buffer.slice(-this.maxlines);
      orgBuffer = this.buffer;
    } else {
      orgBuffer = this.buffer = [tuple];
    }
    let buf: string | undefined = this.maxlines > 1 || text === undefined ? bufferText(orgBuffer) : text;
    // With one line buffered, every text searched below is cut from this line.
    const ascii = asciiLine && this.maxlines === 1;

    // fail2ban looks at ignoreregex first only when there are clearly fewer of them than failregexes.
    if (this.ignoreregex.length > 0 && this.ignoreregex.length < this.failregex.length - 2) {
      const ignoredBy = this.ignoredBy(buf, checkAll, ascii);
      if (ignoredBy !== undefined) return { failures, hits, nofail, ignoredBy, dateTemplate };
    }

    // The prefregex's groups but `content`, which the failregexes search instead.
    let preGroups: FailCaptures = {};
    if (this.prefregex) {
      const pre = this.prefregex.search(buf, ascii);
      if (!pre) return this.nothing(dateTemplate);
      preGroups = pre.captures;
      const content = preGroups.content;
      if (content) {
        this.buffer = [['', '', content]];
        buf = contentText(buf, content);
      }
    }

    let ignoredBy: number | undefined;
    const count = this.failregex.length;
    let unit = -1;
    let next: readonly number[] = NONE;
    for (let index = 0; index < count; index++) {
      buf ??= bufferText(this.buffer);
      if (buf.charCodeAt(0) !== unit) {
        unit = buf.charCodeAt(0);
        next = this.nextFailregex(unit);
      }
      index = next[index] as number;
      const regex = this.failregex[index];
      if (!regex) break;
      const match = regex.search(buf, ascii);
      if (!match) continue;
      if (hits === NONE) hits = [];
      hits.push(index);
      const lines = splitByMatch(buf, match, orgBuffer);
      if (this.ignoreregex.length > 0) {
        const hit = this.ignoredBy(this.maxlines > 1 ? bufferText(lines.matched) : buf, checkAll, ascii, lines.unmatched);
        if (hit !== undefined) {
          ignoredBy = hit;
          buf = undefined;
          if (!checkAll) break;
          continue;
        }
      }
      if (!checkAll || this.maxlines > 1) {
        this.buffer = lines.unmatched;
        buf = undefined;
      }
      // As fail2ban's dict update: a group of the failregex that took no part erases the prefregex's value.
      const captures = match.captures;
      const mlfid = captures.mlfid ?? (regex.groupNames.includes('mlfid') ? undefined : preGroups.mlfid);
      // A failure joining a session drops `mlfforget` from its values, as fail2ban pops it: held apart here.
      let forget: string | undefined;
      const values: Record<string, string> = {};
      for (const name in preGroups) {
        if (name === 'content' || regex.groupNames.includes(name)) continue;
        if (mlfid !== undefined && name === 'mlfforget') forget = preGroups[name];
        else values[name] = preGroups[name] as string;
      }
      for (const name in captures) {
        if (mlfid !== undefined && name === 'mlfforget') forget = captures[name];
        else values[name] = captures[name] as string;
      }
      let fail: FailData = { values, users: undefined, matches: [], nofailMatches: [], pending: false };
      if (mlfid !== undefined) {
        fail = this.mergeSession(mlfid, fail, forget, lines.matched, now);
        if (fail.values.nofail && !checkAll) {
          nofail = true;
          return { failures, hits, nofail, ignoredBy, dateTemplate };
        }
      } else {
        fail.matches.push(...lines.matched);
      }
      const host = failureHost(fail.values);
      if (host === undefined) {
        // A session still waiting for the line that names its host.
        fail.pending = true;
        if (!checkAll) return { failures, hits, nofail, ignoredBy, dateTemplate };
        continue;
      }
      if (fail.values.nofail) {
        nofail = true;
      } else {
        const fid = fail.values.fid;
        if (failures === NONE) failures = [];
        failures.push({
          regex: index,
          host,
          ...(fid !== undefined && fid !== host.value ? { fid } : {}),
          time: date,
          captures: { ...fail.values },
          ...(fail.users ? { users: [...fail.users] } : {}),
          lines: fail.matches.map(fullLine),
        });
      }
      if (!checkAll) break;
    }
    if (hits === NONE && ignoredBy === undefined) return this.nothing(dateTemplate);
    return { failures, hits, nofail, ignoredBy, dateTemplate };
  }

  /** The result of a line that matched nothing: most lines, so one object serves them all (results are read-only). */
  private nothing(dateTemplate: string | undefined): LineResult {
    if (this.noMatch.dateTemplate !== dateTemplate) this.noMatch = { failures: NONE, hits: NONE, nofail: false, ignoredBy: undefined, dateTemplate };
    return this.noMatch;
  }

  /** Index of the (last, with checkAll) ignoreregex matching `buf`; a match also drops the failregex's lines from the buffer. */
  private ignoredBy(buf: string, checkAll: boolean, ascii: boolean, unmatched?: TupleLine[]): number | undefined {
    let found: number | undefined;
    for (let index = 0; index < this.ignoreregex.length; index++) {
      if (!this.ignoreregex[index]?.search(buf, ascii)) continue;
      found = index;
      if ((!checkAll || this.maxlines > 1) && unmatched) this.buffer = unmatched;
      if (!checkAll) break;
    }
    return found;
  }

  /**
   * Merges a failure into its `<F-MLFID>` session, as fail2ban does: `<F-NOFAIL>` marks lines that
   * are no failure by themselves, `<F-MLFGAINED>` a success that clears what was pending,
   * `<F-MLFFORGET>` the end of the session, and several user names in one session count as failure.
   */
  private mergeSession(mlfid: string, fail: FailData, forget: string | undefined, matched: readonly TupleLine[], now: number): FailData {
    this.sessions.expire(now);
    const data = this.sessions.get(mlfid);
    const values = fail.values;
    let flags = 0;
    const NOFAIL = 1, FORGET = 2, WAS_NOFAIL = 4, GAINED = 8;
    if (values.mlfgained) {
      flags |= GAINED | NOFAIL;
      if (!values.nofail) values.nofail = values.mlfgained;
    } else if (values.nofail) {
      flags |= NOFAIL;
    }
    if (forget) flags |= FORGET;
    let users: Set<string> | undefined;
    let merged: FailData;
    if (data) {
      if (values.user) (data.users ??= new Set()).add(values.user);
      users = data.users;
      if (data.values.nofail) flags |= WAS_NOFAIL;
      if (data.values.mlfgained) flags |= WAS_NOFAIL;
      delete data.values.nofail;
      delete data.values.mlfgained;
      if (flags & GAINED) data.pending = false;
      if ((flags & WAS_NOFAIL) === 0 && !data.pending) data.matches = [];
      Object.assign(data.values, values);
      merged = data;
      if (flags & FORGET) this.sessions.delete(mlfid);
    } else {
      merged = fail;
      if ((flags & FORGET) === 0) {
        if (values.user) merged.users = new Set([values.user]);
        users = merged.users;
        this.sessions.add(mlfid, merged, now);
      }
    }
    if (merged.pending || (users && users.size > 1)) {
      merged.pending = false;
      delete merged.values.nofail;
      delete merged.values.mlfgained;
      flags &= ~(GAINED | NOFAIL);
    }
    if ((flags & NOFAIL) === 0) {
      const lines = [...merged.nofailMatches, ...merged.matches];
      if ((flags & GAINED) === 0) for (const line of matched) lines.push(detached(line));
      merged.nofailMatches = [];
      merged.matches = lines;
    } else if ((flags & (NOFAIL | FORGET)) === NOFAIL) {
      merged.nofailMatches = [...merged.nofailMatches, ...matched.map(detached)];
    }
    return merged;
  }
}

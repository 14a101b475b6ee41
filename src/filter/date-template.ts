import { InputError, messageOf } from '../core/index.js';
import { compileDateRegex } from './date-regex.js';
import { assembleTime, directiveDisplayName, expandDirectives, fieldPlan, hasNameDirective, type TimeContext } from './strptime.js';

/**
 * One fail2ban date template: how one datepattern line (`%`-pattern, `Epoch`, `LEPOCH`,
 * `{EPOCH}`, `TAI64N`, with `{^LN-BEG}`/`{UNB}`/`**` anchoring) becomes an anchored regex
 * and a reader of the instant.
 */
export interface DateTemplate {
  /** fail2ban's identity of the template: one name appears once in a detector. */
  readonly name: string;
  /** LINE_BEGIN | LINE_END | WORD_BEGIN | WORD_END */
  readonly flags: number;
  /** 100 for the line-begin copies of the defaults, which fail2ban prefers when reordering. */
  readonly weight: number;
  /** The datepattern text of a `%`-pattern template (what `{DATE}` wraps), else undefined. */
  readonly pattern: string | undefined;
  readonly regex: RegExp;
  /** JS group of fail2ban's group 1 (the date text cut out of the line). */
  readonly dateGroup: number;
  /** JS group of the text before the date, 0 when `regex.hasIndices` gives the offset instead. */
  readonly prefixGroup: number;
  /** The instant of a match, or undefined when the text is no valid date. */
  readonly time: (match: RegExpExecArray, context: TimeContext) => number | undefined;
  /** The groups `time` reads: matches alike in them have the same instant. */
  readonly timeGroups: readonly number[];
}

export const LINE_BEGIN = 8;
export const LINE_END = 4;
const WORD_BEGIN = 2;
const WORD_END = 1;

/** Built once per detector: `%ExY` depends on the year. */
export interface TemplateContext {
  readonly exactYear: string;
}

const EPOCH_SECONDS = String.raw`\d{10,11}\b(?:\.\d{3,6})?`;
const EPOCH_LONG = String.raw`\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`;
const EPOCH_PLACEHOLDER = /(?<!\\)\{L?EPOCH\}/i;

/** A template for one datepattern line (not one of the list-valued `{…}` forms). */
export function templateFor(pattern: string, context: TemplateContext): DateTemplate {
  try {
    return buildTemplate(pattern, context);
  } catch (error) {
    throw new InputError(`bad datepattern "${pattern}": ${messageOf(error)}`, { cause: error });
  }
}

function buildTemplate(pattern: string, context: TemplateContext): DateTemplate {
  const key = lookupKey(pattern);
  if (key.includes('EPOCH')) {
    if (EPOCH_PLACEHOLDER.test(pattern)) {
      const digits = key.includes('LEPOCH') ? EPOCH_LONG : EPOCH_SECONDS;
      const source = `(${pattern.replace(new RegExp(EPOCH_PLACEHOLDER, 'gi'), () => `(${digits})`)})`;
      return epochTemplate(anchor(source, pattern, true, true), key.includes('LEPOCH'), 2);
    }
    if (key === 'EPOCH' || key === 'LEPOCH') {
      // At line start, after a leading `[` (nsd), or in `audit(…)` (SELinux). fail2ban's
      // conditional checks for the closing `]` / `:123)` never take effect, so none are made.
      const digits = key === 'LEPOCH' ? EPOCH_LONG : EPOCH_SECONDS;
      const name = key === 'LEPOCH' ? 'LongEpoch' : 'Epoch';
      return epochTemplate(anchor(String.raw`((?:^|(?<=^\[)|(?<=\baudit\())${digits})`, name, false, true), key === 'LEPOCH', 1);
    }
    for (const long of [false, true]) {
      const bare = long ? 'LEPOCH' : 'EPOCH';
      if (key === `{^LN-BEG}${bare}` || key === `^${bare}`) {
        return epochTemplate(anchor(`(${long ? EPOCH_LONG : EPOCH_SECONDS})`, long ? 'LongEpoch' : 'Epoch', 'start', true), long, 1);
      }
    }
  }
  if (key === 'TAI64N' || key === '{^LN-BEG}TAI64N' || key === '^TAI64N') {
    const compiled = compile(anchor('@[0-9a-f]{24}', 'TAI64N', key === 'TAI64N' ? false : 'start', true));
    const group = 1 + compiled.shift;
    return {
      ...compiled.base,
      pattern: undefined,
      timeGroups: [group],
      // The external TAI64 label is 2^62 + seconds: skip "@4", read 15 hex digits of seconds.
      time: (match) => parseInt((match[group] ?? '').slice(2, 17), 16),
    };
  }
  return patternTemplate(pattern, context);
}

/** fail2ban looks special values up case-insensitively unless the text holds a `%`. */
function lookupKey(pattern: string): string {
  return pattern.includes('%') ? pattern : pattern.toUpperCase();
}

function patternTemplate(pattern: string, context: TemplateContext): DateTemplate {
  let text = pattern;
  let wordBegin: boolean | 'start' = true;
  let wordEnd = true;
  if (text.startsWith('{UNB}')) {
    text = text.slice('{UNB}'.length);
    wordBegin = false;
    wordEnd = false;
  }
  if (wordBegin && text.startsWith('{^LN-BEG}')) {
    text = text.slice('{^LN-BEG}'.length);
    wordBegin = 'start';
  }
  let source = expandDirectives(text, context.exactYear);
  if (hasNameDirective(text)) source = `(?iu)${source}`;
  const compiled = compile(anchor(source, directiveDisplayName(text), wordBegin, wordEnd));
  const plan = fieldPlan(compiled.groups);
  return {
    ...compiled.base,
    pattern,
    time: (match, timeContext) => assembleTime(match, plan, timeContext),
    timeGroups: [...plan.slots.map((slot) => slot.group), ...(plan.ampmGroup === 0 ? [] : [plan.ampmGroup])],
  };
}

function epochTemplate(anchored: Anchored, long: boolean, valueGroup: number): DateTemplate {
  const compiled = compile(anchored);
  const group = valueGroup + compiled.shift;
  return {
    ...compiled.base,
    pattern: undefined,
    timeGroups: [group],
    time(match) {
      const text = match[group] ?? '';
      const value = Number(text);
      if (!long || text.length < 13) return value;
      // Long epochs are milliseconds, or microseconds when 16+ digits come without a dot.
      return text.length >= 16 && !text.includes('.') ? value / 1000000 : value / 1000;
    },
  };
}

interface Anchored {
  readonly source: string;
  readonly name: string;
  readonly flags: number;
}

const FIRST_INLINE_FLAGS = /\(\?[a-z]+\)/;
const HAS_PLAIN_GROUP = /(?<!\(\?)(?<!\\)\((?!\?)/;
const WHOLE_AS_GROUP = /^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$/;
const STARTS_UNBOUNDED = /^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)/;
const ENDS_UNBOUNDED = /(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$/;
const STAR_MARKERS = /^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$/g;
const STARTS_AT_LINE = /^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))/;
const ENDS_AT_LINE = /(?<![\\|])(?:\$\)?)$/;

/**
 * fail2ban's anchoring of a template regex: a date must start at a word boundary (or, for
 * `{^LN-BEG}`, at line start after at most two non-word chars) and end at one, unless the regex
 * is anchored itself (`^`, `$`, `\b`, `\s`) or opts out with `**` at either end. Group 1 is the
 * date; a regex without a plain group is wrapped in one. A line-begin template's name says so.
 */
function anchor(regex: string, name: string, wordBegin: boolean | 'start', wordEnd: boolean): Anchored {
  let source = regex.trim();
  const inlineFlags = FIRST_INLINE_FLAGS.exec(source)?.[0] ?? '';
  if (inlineFlags !== '') source = source.replace(inlineFlags, '');
  const boundBegin = wordBegin !== false && !STARTS_UNBOUNDED.test(source);
  const boundEnd = wordEnd && !ENDS_UNBOUNDED.test(source);
  if (!HAS_PLAIN_GROUP.test(source)) source = source.replace(WHOLE_AS_GROUP, (_, head: string, body: string, tail: string) => `${head}(${body})${tail}`);
  let flags = 0;
  let anchoredName = name;
  if (boundBegin && wordBegin === 'start') {
    flags |= LINE_BEGIN;
    source = String.raw`^(?:\W{0,2})?` + source;
    if (!name.startsWith('{^LN-BEG}')) anchoredName = `{^LN-BEG}${name}`;
  } else if (boundBegin) {
    flags |= WORD_BEGIN;
    source = String.raw`(?=^|\b|\W)` + source;
  }
  if (boundEnd) {
    flags |= WORD_END;
    source += String.raw`(?=\b|\W|$)`;
  }
  if (STARTS_AT_LINE.test(source)) flags |= LINE_BEGIN;
  if (ENDS_AT_LINE.test(source)) flags |= LINE_END;
  source = source.replace(STAR_MARKERS, (marker) => marker.replaceAll('**', ''));
  return { source: inlineFlags + source, name: anchoredName, flags };
}

type TemplateRegex = Pick<DateTemplate, 'name' | 'flags' | 'weight' | 'regex' | 'dateGroup' | 'prefixGroup'>;

function compile(anchored: Anchored): { readonly base: TemplateRegex; readonly groups: ReadonlyMap<string, number>; readonly shift: number } {
  const { regex, shift, prefixGroup, groups } = compileDateRegex(anchored.source);
  return { base: { name: anchored.name, flags: anchored.flags, weight: 1, regex, dateGroup: 1 + shift, prefixGroup }, groups, shift };
}

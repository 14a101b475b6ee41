import { split } from 'shlex';
import { InputError } from './errors.js';

/**
 * fail2ban's `journalmatch`, which is journalctl's match syntax: `FIELD=value` terms, ANDed
 * across fields and ORed within one field, `+` between OR groups; each line of a multi-line
 * value is one more OR group (fail2ban adds each line as its own match). The value type lives
 * in core because the config layer checks it when a jail is loaded and the watch layer runs it.
 */

/** One `FIELD=value` term. */
export interface JournalTerm {
  readonly field: string;
  readonly value: string;
}

/** Terms sorted by field then value, without duplicates: all fields must match, any value of a field. */
export type JournalGroup = readonly JournalTerm[];

/**
 * Groups of which an entry must satisfy one, sorted and without duplicates. There is always at
 * least one group of at least one term: "no match at all" (every entry) is `undefined`.
 */
export type JournalMatch = readonly JournalGroup[];

/** An entry's fields: a field written several times in one entry has several values. */
export type JournalFields = Readonly<Record<string, readonly string[]>>;

/** sd_journal_add_match's rule: upper-case letters, digits and `_`, not starting with `__` (journal-internal). */
const FIELD = /^(?!__)[A-Z0-9_]+$/;

/** What non-UTF-8 bytes of an entry become: a value holding it could match what was never written. */
const REPLACEMENT = '\uFFFD';

function parseTerm(word: string, text: string): JournalTerm {
  const equals = word.indexOf('=');
  const field = equals < 0 ? word : word.slice(0, equals);
  if (equals < 0 || !FIELD.test(field)) {
    throw new InputError(`journalmatch "${text}": "${word}" is not FIELD=value with FIELD made of A-Z, 0-9 and _ (not starting with __)`);
  }
  const value = word.slice(equals + 1);
  if (value.includes(REPLACEMENT)) throw new InputError(`journalmatch "${text}": "${word}" holds U+FFFD, which stands for bytes that are not UTF-8 and cannot be matched`);
  return { field, value };
}

const compareTerms = (a: JournalTerm, b: JournalTerm): number =>
  a.field < b.field ? -1 : a.field > b.field ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0;

const groupKey = (group: JournalGroup): string => JSON.stringify(group.map((t) => [t.field, t.value]));

function normalGroup(terms: readonly JournalTerm[]): JournalGroup {
  const sorted = [...terms].sort(compareTerms);
  return sorted.filter((term, i) => i === 0 || compareTerms(sorted[i - 1] as JournalTerm, term) !== 0);
}

function normalMatch(groups: readonly JournalGroup[]): JournalMatch | undefined {
  const unique = new Map<string, JournalGroup>();
  for (const group of groups) if (group.length > 0) unique.set(groupKey(group), group);
  return unique.size === 0 ? undefined : [...unique].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group);
}

/**
 * Reads a `journalmatch` value as fail2ban does (each line split like a POSIX shell, Python's
 * shlex, so a value may be quoted). Empty groups (`a + + b`, a leading `+`) are ignored, as
 * fail2ban's journal API ignores them. Blank text is `undefined`: every entry.
 */
export function parseJournalMatch(text: string): JournalMatch | undefined {
  const groups: JournalTerm[][] = [];
  for (const line of text.split('\n')) {
    let words: string[];
    try {
      words = split(line);
    } catch (error) {
      throw new InputError(`journalmatch "${text}": ${error instanceof Error ? error.message : String(error)}`);
    }
    let group: JournalTerm[] = [];
    groups.push(group);
    for (const word of words) {
      if (word === '+') groups.push(group = []);
      else group.push(parseTerm(word, text));
    }
  }
  return normalMatch(groups.map(normalGroup));
}

/** One match that lets through what any of `matches` lets through; `undefined` (everything) when one of them is. */
export function journalMatchUnion(matches: readonly (JournalMatch | undefined)[]): JournalMatch | undefined {
  if (matches.length === 0 || matches.some((m) => m === undefined)) return undefined;
  return normalMatch((matches as readonly JournalMatch[]).flat());
}

function groupMatches(group: JournalGroup, fields: JournalFields): boolean {
  for (let i = 0; i < group.length;) {
    const field = (group[i] as JournalTerm).field;
    const values = Object.hasOwn(fields, field) ? fields[field] : undefined;
    let found = false;
    for (; i < group.length && (group[i] as JournalTerm).field === field; i++) {
      if (!found && values?.includes((group[i] as JournalTerm).value)) found = true;
    }
    if (!found) return false;
  }
  return true;
}

/** Whether an entry with `fields` passes `match`, as journalctl would decide; `undefined` passes everything. */
export function journalMatches(match: JournalMatch | undefined, fields: JournalFields): boolean {
  return match === undefined || match.some((group) => groupMatches(group, fields));
}

/** The match as journalctl's arguments (each term one argument, `+` between groups); none for `undefined`. */
export function journalctlMatchArgs(match: JournalMatch | undefined): string[] {
  return (match ?? []).flatMap((group, i) => [...(i > 0 ? ['+'] : []), ...group.map((t) => `${t.field}=${t.value}`)]);
}

/** The fields a match reads. */
export function journalMatchFields(match: JournalMatch | undefined): string[] {
  return [...new Set((match ?? []).flat().map((t) => t.field))].sort();
}

/** For messages and `status`: `_SYSTEMD_UNIT=sshd.service + _COMM=sshd`, or `*` for everything. */
export function describeJournalMatch(match: JournalMatch | undefined): string {
  return match === undefined ? '*' : journalctlMatchArgs(match).join(' ');
}

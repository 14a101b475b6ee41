import { InputError } from '../core/index.js';
import { LINE_BEGIN, templateFor, type DateTemplate, type TemplateContext } from './date-template.js';

/**
 * The template list of a detector: fail2ban's default templates in its order, and a
 * `datepattern` value (one template per line, or the list forms `{^LN-BEG}`, `{DEFAULT}`,
 * `{DATE}` wrapped around every default, and `{NONE}`).
 */

/** fail2ban 1.0.2's default date patterns, in its order (the order they are tried in). */
export const DEFAULT_DATE_PATTERNS: readonly string[] = [
  // ISO 8601 and simple dates: 2005-01-23T21:59:59.981746, 2005/01/23 21:59:59, 2006.12.21 06:43:20
  String.raw`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
  // asctime, optional weekday, fraction and year: Sun Jan 23 21:59:59.011 2005
  String.raw`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  // asctime with the year after the day: Sun Jan 23 2005 21:59:59.011
  String.raw`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
  // 23/01/2005 21:59:59, 23/01/05 21:59:59, 17-07-2008 17:23:25
  String.raw`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
  // Apache: [31/Oct/2006:09:22:55 -0000], 26-Jul-2007 15:20:52.252 +0200
  String.raw`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
  // CPanel: 05/20/2008:01:57:39
  String.raw`%m/%d/%ExY:%H:%M:%S`,
  // 01-27-2012 16:22:44.252
  String.raw`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
  'EPOCH',
  // time only
  String.raw`{^LN-BEG}%H:%M:%S`,
  // <09/16/08@05:03:30>
  String.raw`^<%m/%d/%Exy@%H:%M:%S>`,
  // MySQL: 130322 11:46:11
  String.raw`%Exy%Exm%Exd  ?%H:%M:%S`,
  // Apache Tomcat: Jan 23, 2005 9:59:59 PM
  String.raw`%b %d, %ExY %I:%M:%S %p`,
  // ASSP: Apr-27-13 02:33:06
  String.raw`^%b-%d-%Exy %k:%M:%S`,
  // 20050123T215959, 20050123 215959
  String.raw`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
  // with a zone name before (monit): PDT Apr 16 21:05:29
  String.raw`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  // with a zone offset before: +00:00 Jan 23 21:59:59.011 2005
  String.raw`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  'TAI64N',
];

interface Defaults {
  /** What fail2ban tries with no datepattern: line-begin copies of the defaults first, then the defaults. */
  readonly all: readonly DateTemplate[];
  /** The defaults alone, which `{DATE}` wraps. */
  readonly originals: readonly DateTemplate[];
}

function defaultTemplates(context: TemplateContext): Defaults {
  const originals = DEFAULT_DATE_PATTERNS.map((pattern) => templateFor(pattern, context));
  const lineBegin: DateTemplate[] = [];
  for (const template of originals) {
    if (template.name.startsWith('{^LN-BEG}') || template.name.startsWith('^')) continue;
    const copy = templateFor(`{^LN-BEG}${template.pattern ?? template.name}`, context);
    // A date at line start is the common case and the cheap one: such copies win reordering.
    if (copy.name !== template.name) lineBegin.push({ ...copy, weight: 100 });
  }
  return { all: [...lineBegin, ...originals], originals };
}

const DATE_PLACEHOLDER = /(?<!\\)\{DATE\}/gi;

/**
 * The templates of a datepattern value in the order fail2ban tries them; undefined or empty
 * means the defaults. A template named twice is an error unless a list form repeats it.
 */
export function datePatternTemplates(datepattern: string | undefined, context: TemplateContext): DateTemplate[] {
  const lines = (datepattern ?? '').split(/\n+/).map((line) => line.trim()).filter((line) => line !== '');
  if (lines.length === 0) return [...defaultTemplates(context).all];
  const templates: DateTemplate[] = [];
  const names = new Set<string>();
  const add = (template: DateTemplate, ignoreDuplicate: boolean, line: string): void => {
    if (names.has(template.name)) {
      if (ignoreDuplicate) return;
      throw new InputError(`bad datepattern "${line}": repeats the date template "${template.name}"`);
    }
    names.add(template.name);
    templates.push(template);
  };
  for (const line of lines) {
    const key = line.includes('%') ? line : line.toUpperCase();
    const ignoreDuplicate = templates.length > 0;
    if (key === '{^LN-BEG}' || key === '{DEFAULT}') {
      for (const template of defaultTemplates(context).all) {
        if (key === '{DEFAULT}' || template.flags & LINE_BEGIN) add(template, ignoreDuplicate, line);
      }
    } else if (key.includes('{DATE}')) {
      for (const template of defaultTemplates(context).originals) {
        const inner = unbound(template.pattern ?? template.name);
        add(templateFor(line.replace(DATE_PLACEHOLDER, () => inner), context), ignoreDuplicate, line);
      }
    } else if (key === '{NONE}') {
      // Matches the empty text at line start: the line has no date, its time is "now".
      add(templateFor('{UNB}^', context), false, line);
    } else {
      add(templateFor(line, context), false, line);
    }
  }
  return templates;
}

/** A default template's pattern without its own anchoring, to sit inside a `{DATE}` pattern. */
function unbound(pattern: string): string {
  return pattern
    .replace(/^\{UNB\}/, '')
    .replace(/^\{\^LN-BEG\}/, '')
    .replace(/^\((?:\?:)?\^\|\\b\|\\W\)/, '')
    .replace(/\(\?=\\b\|\\W\|\$\)$/, '');
}

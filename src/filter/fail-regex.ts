import { InputError } from '../core/index.js';
import { expandFailTags, tagGroupName } from './fail-tags.js';
import type { UseDns } from './fail-tags.js';
import { compilePythonRegex } from './python-regex.js';

export type FailRegexKind = 'failregex' | 'ignoreregex' | 'prefregex';

export interface FailRegexOptions {
  readonly kind: FailRegexKind;
  /**
   * The filter reads several lines at once (`maxlines` > 1). fail2ban then compiles failregex
   * with re.MULTILINE; prefregex and ignoreregex never get it, so it is ignored for them.
   */
  readonly multiline?: boolean;
  readonly useDns?: UseDns;
  /** For a failregex: the filter's prefregex, which may hold the failure-id group instead. */
  readonly prefregex?: FailRegex;
}

/**
 * The groups of one match as fail2ban's `getGroups()` gives them, without the ones that did not
 * take part: keys are fail2ban's group names (`ip4`, `ip6`, `dns`, `cidr`, `fid`, `fport`,
 * `user`, `alt_user`, `nofail`, `mlfid`, `mlfforget`, `mlfgained`, `content`, `skiplines0`, any
 * `<F-NAME>` lowercased, any `(?P<name>…)` as written), and an `alt_X[_N]` value is copied to `X`
 * when `X` is empty, as fail2ban merges alternate names.
 */
export type FailCaptures = Readonly<Record<string, string>>;

export interface FailRegex {
  readonly kind: FailRegexKind;
  /** The regex as written in the filter, tags included. */
  readonly text: string;
  /** The Python regex fail2ban compiles from it (tags expanded). */
  readonly regex: string;
  /** Every named group, like Python's `groupindex`. */
  readonly groupNames: readonly string[];
  /** The JavaScript pattern it runs. */
  readonly javascript: { readonly source: string; readonly flags: string };
  /** The UTF-16 code units a match can begin with, when it can only begin at the start of `buf`; else undefined. */
  readonly firstUnits: ReadonlySet<number> | undefined;
  /**
   * Search `buf` the way fail2ban does: `buf` is the date-stripped line, or lines, each ending in
   * `\n` (fail2ban always searches `line + "\n"`; `$` matches before that final newline).
   */
  match(buf: string): FailCaptures | undefined;
  /**
   * Like `match`, with the span of the match in `buf` (to tell which buffered lines it covered).
   * `ascii`: `buf` holds only ASCII characters (a cheaper RegExp then runs).
   */
  search(buf: string, ascii?: boolean): FailRegexMatch | undefined;
  /** Whether `match` would succeed, without building the captures. */
  test(buf: string): boolean;
}

export interface FailRegexMatch {
  readonly captures: FailCaptures;
  readonly start: number;
  readonly end: number;
}

/** Groups that identify a failure; a failregex needs one (or its prefregex does). */
const FAILURE_ID_GROUPS = ['fid', 'ip4', 'ip6', 'dns', 'mlfid'];
/** fail2ban's complex names: `alt_user`, `alt_user_2` merge into `user`; `tuple_…` build tuples. */
const COMPLEX_NAME = /^(alt_|tuple_)(.*?)(?:_\d+)?$/;

/** Compile one failregex, ignoreregex or prefregex; throws InputError naming the regex. */
export function compileFailRegex(text: string, options: FailRegexOptions): FailRegex {
  const regex = expandFailTags(text, options.useDns);
  if (regex.trimStart() === '') throw new InputError(`cannot add empty ${options.kind}`);
  const compiled = compilePythonRegex(regex, { multiline: options.kind === 'failregex' && (options.multiline ?? false) });
  const groupNames = compiled.groupNames;
  if (
    options.kind === 'failregex' &&
    !FAILURE_ID_GROUPS.some((g) => groupNames.includes(g) || options.prefregex?.groupNames.includes(g))
  ) {
    throw new InputError(`no failure-id group (<HOST>, <ADDR>, <F-ID>, <F-MLFID>, …) in failregex '${text}'`);
  }
  const alternates = alternateNames(groupNames, text);
  function search(buf: string, ascii = false): FailRegexMatch | undefined {
    const found = compiled.search(buf, ascii);
    if (found === undefined) return undefined;
    const { groups } = found;
    for (const [alternate, name] of alternates) {
      const value = groups[alternate];
      if (value !== undefined && value !== '' && !groups[name]) groups[name] = value;
    }
    return { captures: groups, start: found.start, end: found.end };
  }
  return {
    kind: options.kind,
    text,
    regex,
    groupNames,
    javascript: compiled.javascript,
    firstUnits: compiled.firstUnits,
    match: (buf) => search(buf)?.captures,
    search,
    test: (buf) => compiled.test(buf),
  };
}

/** `[alternate group, group it fills]`, sorted by alternate name as fail2ban applies them. */
function alternateNames(groupNames: readonly string[], text: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const group of groupNames) {
    if (group.length <= 'alt_'.length) continue;
    const complex = COMPLEX_NAME.exec(group);
    if (complex === null) continue;
    if (complex[1] === 'tuple_') {
      throw new InputError(`fail2ban tuple groups (${group}) are not supported, in '${text}'`);
    }
    pairs.push([group, tagGroupName(complex[2] ?? '')]);
  }
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export type FailureHostKind = 'ip4' | 'ip6' | 'dns' | 'fid';

export interface FailureHost {
  readonly kind: FailureHostKind;
  readonly value: string;
  /** Prefix length from a `cidr` group, for addresses only. */
  readonly cidr?: number;
}

/**
 * The host fail2ban bans for a failure, from its captures (prefregex groups overlaid by the
 * failregex's): `ip4`, else `ip6`, else `dns`, else the failure id `fid`.
 */
export function failureHost(captures: FailCaptures): FailureHost | undefined {
  const cidr = captures.cidr ? Number(captures.cidr) : undefined;
  for (const kind of ['ip4', 'ip6'] as const) {
    const value = captures[kind];
    if (value !== undefined) return cidr === undefined ? { kind, value } : { kind, value, cidr };
  }
  if (captures.dns !== undefined) return { kind: 'dns', value: captures.dns };
  if (captures.fid !== undefined) return { kind: 'fid', value: captures.fid };
  return undefined;
}

/** Groups that are fail2ban's own bookkeeping or the host itself, not what a ban tells about its failure. */
const UNTOLD_CAPTURE = /^(?:ip4|ip6|dns|cidr|content|mlfid|mlfforget|mlfgained|nofail|skiplines\d*)$/;
const toldNames = new Map<string, boolean>();
/** Separates names and values in told captures: no log text holds it (it is replaced). */
const SEPARATOR = '\0';

/**
 * The captures of a failure worth keeping with its ban (`user`, `fid`, `fport`, custom `<F-*>`),
 * non-empty, without the host and fail2ban's bookkeeping, packed in one string ('' for none):
 * a failure crosses threads with one string more, decoded (capturesTold) only for a ban.
 */
export function toldCaptures(captures: FailCaptures): string {
  let told = '';
  for (const name in captures) {
    const value = captures[name];
    if (value === undefined || value === '') continue;
    let tells = toldNames.get(name);
    if (tells === undefined) toldNames.set(name, tells = !UNTOLD_CAPTURE.test(name));
    if (tells) told += `${told === '' ? '' : SEPARATOR}${name}${SEPARATOR}${value.replaceAll(SEPARATOR, '\uFFFD')}`;
  }
  return told;
}

/** The captures toldCaptures packed. */
export function capturesTold(told: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (told === '') return out;
  const parts = told.split(SEPARATOR);
  for (let at = 0; at + 1 < parts.length; at += 2) out[parts[at] as string] = parts[at + 1] as string;
  return out;
}

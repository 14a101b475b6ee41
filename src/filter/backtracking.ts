import { createRequire as requireFrom } from 'node:module';
import type * as Regexpp from '@eslint-community/regexpp';
import type { AST } from '@eslint-community/regexpp';
import type * as Analysis from 'regexp-ast-analysis';
import type { ReadonlyFlags } from 'regexp-ast-analysis';
import type { CharSet } from 'refa';
import { readablePattern } from './python-regex.js';

/**
 * Regex shapes whose backtracking grows exponentially with the length of a line that does not
 * match: a repetition that can split one run of text among its iterations in many ways. Two
 * causes are recognised, both on the JavaScript pattern the filter really runs:
 * - nested: an inner variable-length quantifier can also match everything between its own
 *   iterations, as in `(\w+\s?)+`, `(a+)+`, `(\s*\w+)*` or `(.*a){12}`;
 * - alternatives: two alternatives of the repetition match the same text, as in `(a|a)*` or
 *   `(\w|\d)+`.
 * A repetition counts when it is unbounded or allows more than MAX_BOUNDED iterations (a bound of
 * n gives a polynomial of degree n, as bad as exponential on a log line). Polynomial shapes such
 * as `.*foo.*` are left alone: they are everywhere in fail2ban's filters and the matching budget
 * bounds them.
 */
export interface BacktrackingShape {
  readonly cause: 'nested' | 'alternatives';
  /** The repetition, in regex syntax. */
  readonly repetition: string;
  /** The part that can take the same text in several ways: the inner quantifier, or `a|b`. */
  readonly part: string;
  /** The repetition's upper bound (Infinity when unbounded). */
  readonly max: number;
}

const MAX_BOUNDED = 10;
/** A quantifier after a group's `)` that allows more than MAX_BOUNDED repetitions: `*`, `+`, `{n,}`, a bound of two digits or more. */
const LOOP_QUANTIFIER = /[*+]\??|\{\d+,\}\??|\{(?:\d+,)?\d{2,}\}\??/y;

/**
 * The parser (regexpp, ~20 ms to load) and the character-set analysis (regexp-ast-analysis with
 * refa's Unicode tables, ~90 ms) are loaded from node_modules, not bundled, and only for a
 * pattern that repeats a group (about one stock regex in eight); only those groups are parsed,
 * not the whole pattern (the `<HOST>` and line prefix parts run to kilobytes).
 */
const load = requireFrom(import.meta.url);
let parser: Regexpp.RegExpParser | undefined;
let analysis: typeof Analysis | undefined;
const parse = (source: string, unicode: boolean): AST.Pattern => {
  parser ??= new (load('@eslint-community/regexpp') as typeof Regexpp).RegExpParser({ ecmaVersion: 2025 });
  return parser.parsePattern(source, undefined, undefined, { unicode });
};
const analyse = (): typeof Analysis => (analysis ??= load('regexp-ast-analysis') as typeof Analysis);
/**
 * Characters an element can consume. Those of a character or class are kept by its text: the same
 * Unicode classes (`\w` is hundreds of ranges) recur in every filter.
 */
const classChars = new Map<string, CharSet>();
const charsOf = (element: AST.Element | AST.Alternative, flags: ReadonlyFlags): CharSet => {
  const single = element.type === 'Character' || element.type === 'CharacterClass' || element.type === 'CharacterSet';
  if (!single) return analyse().getConsumedChars(element, flags).chars;
  const key = `${flags.unicode === true ? 'u' : ''} ${element.raw}`;
  let chars = classChars.get(key);
  if (chars === undefined) classChars.set(key, chars = analyse().getConsumedChars(element, flags).chars);
  return chars;
};

/**
 * The repeated groups the shipped filters compile to, in every mode and log type, as (flags,
 * group): each is cleared by the analysis below (test/filter/backtracking.test.ts checks it, and
 * that the shipped filters repeat no other). A pattern that repeats only these needs neither the
 * parser nor the analysis: loading them is about 0.1 s of CPU at every start of a daemon,
 * `test-filter` or `check`. A group not listed is analysed as any other.
 */
export const CLEARED_GROUPS: readonly (readonly [flags: string, group: string])[] = [
  ['u', String.raw`(?: (?:F=<[^<>]*>|(?:DN|SNI)="[^"]*"|[A-Za-z]{1,4}=[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+))*`],
  ['u', String.raw`(?: (?:F=<[^<>]*>|(?:DN|SNI)="[^"]*"|(?!A=)[A-Za-z]{1,4}=[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+))*`],
  ['u', String.raw`(?: [\-\p{L}\p{N}_]+=[\p{Nd}]+(?:\/[\p{Nd}]+)?)*`],
  ['u', String.raw`(?: [^"=\]\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+="[^"]*")*`],
  ['u', String.raw`(?: \((?:[Pp]assword mismatch\?|for LDAP bind)\))*`],
  ['u', String.raw`(?:(?! from [^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+ ?\(X-(?:Real-IP|Forwarded-For): )[^\n])*`],
  ['u', String.raw`(?:,(?!(?:RemoteAddress=|ACLName="registrar_))[\p{L}\p{N}_]+="[^"]*")*`],
  ['u', String.raw`(?::[a-f\p{Nd}]{2}){15}`],
  ['u', String.raw`(?:<[^<>]*>)*`],
  ['u', String.raw`(?:[\--.\p{L}\p{N}_]+\/)*`],
  ['u', String.raw`(?:[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+(?:logname|uid|euid|tty)=[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)*`],
  ['u', String.raw`(?:[^(-)]|\([\p{Nd}]+\))*?`],
  ['u', String.raw`(?:[^(-)]|\([\p{Nd}]+\))+`],
  ['u', String.raw`(?:[^(]|\([^(-)]*\))*?`],
  ['u', String.raw`(?:\/[+\--.\p{L}\p{N}_]+)+`],
  ['u', String.raw`(?:\[[^\]]+\] )*`],
];
const CLEARED = new Set(CLEARED_GROUPS.map(([flags, group]) => `${flags} ${group}`));

/** The groups of a pattern the analysis must look at: those a loop repeats that may branch, less the `cleared` ones. */
export function unclearedGroups(pattern: { readonly source: string; readonly flags: string }, cleared: ReadonlySet<string> = CLEARED): string[] {
  return repeatedGroups(pattern.source).filter((group) => mayBranch(group) && !cleared.has(`${pattern.flags} ${group}`));
}

/**
 * The first catastrophic shape in a JavaScript pattern, if it has one. `cleared` holds groups
 * known to have none ("flags group"); by default CLEARED_GROUPS.
 */
export function catastrophicBacktracking(pattern: { readonly source: string; readonly flags: string }, cleared: ReadonlySet<string> = CLEARED): BacktrackingShape | undefined {
  const groups = unclearedGroups(pattern, cleared);
  if (groups.length === 0) return undefined;
  const flags: ReadonlyFlags = {
    unicode: pattern.flags.includes('u'),
    ignoreCase: pattern.flags.includes('i'),
    dotAll: pattern.flags.includes('s'),
    multiline: pattern.flags.includes('m'),
  };
  const unicode = flags.unicode === true;
  let loops: AST.Quantifier[];
  try {
    loops = groups.map((group) => parse(group, unicode).alternatives[0]?.elements[0]).filter((e) => e?.type === 'Quantifier');
  } catch {
    // A backreference to a group outside: look at the whole pattern, innermost repetition first.
    try {
      loops = quantifiers(parse(pattern.source, unicode), false).reverse();
    } catch {
      // regexpp refuses what V8 ran: nothing to say (the matching budget still bounds it).
      return undefined;
    }
  }
  for (const loop of loops) {
    if (loop.max <= MAX_BOUNDED) continue;
    const inner = quantifiers(loop.element, true).filter((q) => q.max >= 2 && q.max > q.min);
    const alternatives = loop.element.type === 'Group' || loop.element.type === 'CapturingGroup' ? loop.element.alternatives : [];
    if (inner.length === 0 && alternatives.length < 2) continue;
    const shape = nested(loop, inner, flags) ?? overlapping(loop, alternatives, flags);
    if (shape) return shape;
  }
  return undefined;
}

/**
 * Each group of a JavaScript pattern that a loop quantifier follows, with the quantifier, as a
 * pattern of its own; inner groups come first, as they close first.
 */
function repeatedGroups(source: string): string[] {
  const open: number[] = [];
  const found: string[] = [];
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      // A class ends at its first unescaped `]` (a `(` or `[` inside means nothing).
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
    } else if (c === '(') {
      open.push(i);
    } else if (c === ')') {
      const start = open.pop();
      LOOP_QUANTIFIER.lastIndex = i + 1;
      const quantifier = LOOP_QUANTIFIER.exec(source);
      if (start !== undefined && quantifier) found.push(source.slice(start, i + 1 + quantifier[0].length));
    }
  }
  return found;
}

/**
 * Whether a repeated group holds a quantifier or an alternation (outside classes), written as the
 * JavaScript pattern writes them: without either (`(?:(?! from )[^\n])*`, in every `<F-USER>` of
 * the stock sshd filter) it cannot take the same text in several ways, and is not parsed at all.
 */
function mayBranch(group: string): boolean {
  const end = group.lastIndexOf(')');
  for (let i = 0; i < end; i++) {
    const c = group[i];
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      for (i++; i < end && group[i] !== ']'; i++) if (group[i] === '\\') i++;
    } else if (c === '*' || c === '+' || c === '{' || c === '|') {
      return true;
    }
  }
  return false;
}

/** What the shape does and how to avoid it, in one sentence. */
export function describeBacktracking(shape: BacktrackingShape): string {
  const growth = shape.max === Infinity ? 'exponentially' : `polynomially (degree ${shape.max})`;
  const cost = 'so a short line that does not match can take minutes';
  if (shape.cause === 'nested') {
    return `nested quantifier ${shape.repetition} can backtrack ${growth}: text that ${shape.part} matches can be split among`
      + ` its repetitions in many ways, ${cost}; rewrite it so that each repetition must end with something ${shape.part}`
      + ' cannot match (e.g. (?:\\w+\\s)*\\w+ instead of (\\w+\\s?)+)';
  }
  return `repetition ${shape.repetition} can backtrack ${growth}: its alternatives ${shape.part} match the same text, ${cost};`
    + ' make the alternatives exclusive, or merge them into one character class';
}

/** Quantifiers in `node`, outermost first; with `skipLookarounds`, none inside a lookaround (they consume nothing). */
function quantifiers(node: AST.Node, skipLookarounds: boolean): AST.Quantifier[] {
  const found: AST.Quantifier[] = [];
  const walk = (n: AST.Node): void => {
    switch (n.type) {
      case 'Pattern':
      case 'Group':
      case 'CapturingGroup':
        for (const alternative of n.alternatives) walk(alternative);
        return;
      case 'Assertion':
        if ((n.kind === 'lookahead' || n.kind === 'lookbehind') && !skipLookarounds) for (const alternative of n.alternatives) walk(alternative);
        return;
      case 'Alternative':
        for (const element of n.elements) walk(element);
        return;
      case 'Quantifier':
        found.push(n);
        walk(n.element);
        return;
      default:
    }
  };
  walk(node);
  return found;
}

/** An inner variable-length quantifier whose own text can fill the gap between two of its repetitions. */
function nested(loop: AST.Quantifier, candidates: readonly AST.Quantifier[], flags: ReadonlyFlags): BacktrackingShape | undefined {
  for (const inner of candidates) {
    const chars = charsOf(inner.element, flags);
    if (chars.isEmpty) continue;
    if (gapFits(inner, loop, chars, flags)) return shape('nested', loop, inner.raw);
  }
  return undefined;
}

/** Whether everything around `inner` up to `loop`'s element can match text made of `chars` (or nothing). */
function gapFits(inner: AST.Quantifier, loop: AST.Quantifier, chars: CharSet, flags: ReadonlyFlags): boolean {
  for (let node: AST.Node = inner; node !== loop.element; node = node.parent as AST.Node) {
    const parent = node.parent;
    if (parent?.type !== 'Alternative') continue;
    if (!parent.elements.every((sibling) => sibling === node || matchesWithin(sibling, chars, flags))) return false;
  }
  return true;
}

/** Whether `element` can match some string (possibly empty) of characters from `chars`. */
function matchesWithin(element: AST.Element, chars: CharSet, flags: ReadonlyFlags): boolean {
  switch (element.type) {
    case 'Assertion':
      return true;
    case 'Character':
    case 'CharacterClass':
    case 'CharacterSet':
      return !charsOf(element, flags).isDisjointWith(chars);
    case 'Group':
    case 'CapturingGroup':
      return element.alternatives.some((alternative) => alternative.elements.every((e) => matchesWithin(e, chars, flags)));
    case 'Quantifier':
      return element.min === 0 || matchesWithin(element.element, chars, flags);
    default:
      return analyse().getLengthRange(element, flags).min === 0;
  }
}

/**
 * Two alternatives of the repetition that can match the same text: a one-character one, and
 * another one-character one sharing a character, or a longer one made only of its characters.
 */
function overlapping(loop: AST.Quantifier, alternatives: readonly AST.Alternative[], flags: ReadonlyFlags): BacktrackingShape | undefined {
  const { getLengthRange } = analyse();
  for (const single of alternatives) {
    const length = getLengthRange(single, flags);
    if (length.min !== 1 || length.max !== 1) continue;
    const chars = charsOf(single, flags);
    for (const other of alternatives) {
      const range = getLengthRange(other, flags);
      if (other === single || range.max === 0) continue;
      const theirs = charsOf(other, flags);
      const same = range.min === 1 && range.max === 1 ? !theirs.isDisjointWith(chars) : !theirs.isEmpty && theirs.isSubsetOf(chars);
      if (same) return shape('alternatives', loop, `${single.raw}|${other.raw}`);
    }
  }
  return undefined;
}

function shape(cause: BacktrackingShape['cause'], loop: AST.Quantifier, part: string): BacktrackingShape {
  return { cause, repetition: readablePattern(loop.raw), part: readablePattern(part), max: loop.max };
}

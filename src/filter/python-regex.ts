import { messageOf } from '../core/index.js';
import { foldedPoints, hasCase } from './python-case-fold.js';
import { resolveGroupTests } from './python-regex-conditionals.js';
import { startTest, type StartTest } from './python-regex-start.js';
import { childNodes, parsePythonRegex, regexError } from './python-regex-syntax.js';
import type { Anchor, ClassName, Node, ParsedRegex, PythonFlags, SetItem } from './python-regex-syntax.js';

export type { PythonFlags } from './python-regex-syntax.js';

/**
 * Python `re` patterns as JavaScript RegExps with Python's meaning. Everything is emitted for the
 * `u` flag, which gives JavaScript Python's code-point view of a string; classes, anchors and case
 * folding are spelled out, so no other JavaScript flag (`i`, `m`, `s`) is ever needed:
 * - `\d`, `\w`, `\s`, `\b` are Unicode-aware as in Python (ASCII under the `a` flag);
 * - `.` excludes only `\n`; `$` also matches before a final `\n`; `^`/`$` under MULTILINE look
 *   at `\n` only; `\A`/`\Z` are the ends of the text;
 * - IGNORECASE, global or scoped, becomes explicit case classes;
 * - conditionals and backreferences follow Python (see python-regex-conditionals.ts);
 * - a named group inside a repetition keeps the value of the last iteration that set it, as in
 *   Python (JavaScript forgets it at each new iteration): such loops are re-walked after a match.
 */

/** One repetition whose named groups are recovered after a match by walking its iterations. */
export interface RepeatedCaptures {
  /** Capture index (in the main RegExp) spanning all iterations. */
  readonly span: number;
  /** Matches one iteration at `lastIndex` (sticky) such that further iterations end the text. */
  readonly iteration: TranslatedRegex;
}

export interface TranslatedRegex {
  readonly source: string;
  readonly flags: string;
  /** Every named group of the Python pattern, in order (some may never be able to match). */
  readonly pythonNames: readonly string[];
  /** JavaScript capture index → Python group name, for Python's named groups. */
  readonly groupNames: ReadonlyMap<number, string>;
  readonly repeated: readonly RepeatedCaptures[];
  /** Text every match contains, for a cheap test before running the RegExp. */
  readonly requiredLiteral: string | undefined;
  /** How every match begins, when it can only begin at the start of the text. */
  readonly start: StartTest | undefined;
}

/** A compiled Python regex: `exec` returns the named groups that took part, by Python name. */
export interface PythonRegex {
  readonly source: string;
  /** The JavaScript pattern it runs. */
  readonly javascript: { readonly source: string; readonly flags: string };
  /** Every named group of the pattern, like Python's `groupindex`. */
  readonly groupNames: readonly string[];
  /**
   * The UTF-16 code units a match can begin with, when it can only begin at the start of the
   * text (a text beginning otherwise never matches); undefined when that is not known.
   */
  readonly firstUnits: ReadonlySet<number> | undefined;
  exec(text: string): Record<string, string> | undefined;
  /**
   * Like `exec`, with where the match starts and ends in `text`. `ascii`: the text holds only
   * ASCII characters, so the RegExp without Unicode property classes may run (see asciiTwin).
   */
  search(text: string, ascii?: boolean): PythonMatch | undefined;
  test(text: string): boolean;
}

export interface PythonMatch {
  readonly groups: Record<string, string>;
  readonly start: number;
  readonly end: number;
}

/** Translate Python `re` syntax to a JavaScript RegExp source; throws InputError naming the construct. */
export function translatePythonRegex(source: string, flags: PythonFlags = {}): TranslatedRegex {
  const parsed = parsePythonRegex(source, flags);
  const root = resolveGroupTests(parsed.root, source);
  const emitter = new Emitter(parsed, source);
  const body = emitter.emit(root);
  const repeated = emitter.repeated.map(({ span, node }) => ({ span, iteration: iterationRegex(parsed, node, source) }));
  return {
    source: body,
    flags: repeated.length > 0 ? 'du' : 'u',
    pythonNames: [...parsed.names.values()],
    groupNames: emitter.groupNames,
    repeated,
    requiredLiteral: longest(requiredRuns(parsed.root)),
    start: startTest(root),
  };
}

/** Compile once; `exec` costs one RegExp run (plus a substring test) per call. */
export function compilePythonRegex(source: string, flags: PythonFlags = {}): PythonRegex {
  const translated = translatePythonRegex(source, flags);
  const regex = javascriptRegExp(translated, source);
  const asciiSource = asciiTwin(translated.source);
  const asciiRegex = asciiSource === translated.source ? regex : new RegExp(asciiSource, translated.flags);
  // Parallel arrays: this loop runs for every match of every line, so no iterator or tuple per group.
  const namedIndexes = [...translated.groupNames.keys()];
  const namedNames = [...translated.groupNames.values()];
  const repeated = translated.repeated.map(({ span, iteration }) => ({
    span,
    regex: javascriptRegExp(iteration, source),
    named: [...iteration.groupNames],
  }));
  const mayMatch = precheck(translated);

  function recover(match: RegExpExecArray, text: string, out: Record<string, string>): void {
    for (const loop of repeated) {
      const span = match.indices?.[loop.span];
      if (span === undefined) continue;
      const [start, end] = span;
      const upTo = text.slice(0, end);
      for (let at = start; at < end; ) {
        loop.regex.lastIndex = at;
        const step = loop.regex.exec(upTo);
        if (step === null || loop.regex.lastIndex === at) break;
        for (const [index, name] of loop.named) {
          const value = step[index];
          if (value !== undefined) out[name] = value;
        }
        at = loop.regex.lastIndex;
      }
    }
  }

  function search(text: string, ascii = false): PythonMatch | undefined {
    if (!mayMatch(text)) return undefined;
    const match = (ascii ? asciiRegex : regex).exec(text);
    if (match === null) return undefined;
    const groups: Record<string, string> = {};
    for (let i = 0; i < namedIndexes.length; i++) {
      const value = match[namedIndexes[i] as number];
      if (value !== undefined) groups[namedNames[i] as string] = value;
    }
    if (repeated.length > 0) recover(match, text, groups);
    return { groups, start: match.index, end: match.index + match[0].length };
  }

  return {
    source,
    javascript: { source: regex.source, flags: regex.flags },
    groupNames: translated.pythonNames,
    firstUnits: firstUnitsOf(translated.start),
    exec: (text) => search(text)?.groups,
    search,
    test(text: string): boolean {
      return mayMatch(text) && regex.test(text);
    },
  };
}

/**
 * A test every text the regex matches passes. A regex anchored at the start is checked there
 * first: most texts fail it at once, where a scan of the whole text for the required literal
 * costs more than the anchored RegExp itself; the literal is looked for only in texts that begin
 * right (several regexes of a filter often begin alike).
 */
function precheck({ requiredLiteral: literal, start }: TranslatedRegex): (text: string) => boolean {
  if (start === undefined) return literal === undefined ? () => true : (text) => text.includes(literal);
  const { prefix, firstUnits } = start;
  if (prefix !== '') {
    if (literal === undefined || prefix.includes(literal)) return (text) => text.startsWith(prefix);
    return (text) => text.startsWith(prefix) && text.includes(literal);
  }
  if (firstUnits === undefined) return literal === undefined ? () => true : (text) => text.includes(literal);
  if (literal === undefined) return (text) => firstUnits.has(text.charCodeAt(0));
  return (text) => firstUnits.has(text.charCodeAt(0)) && text.includes(literal);
}

function firstUnitsOf(start: StartTest | undefined): ReadonlySet<number> | undefined {
  if (start === undefined) return undefined;
  return start.prefix === '' ? start.firstUnits : new Set([start.prefix.charCodeAt(0)]);
}

/** What the Unicode property classes the emitter writes match of ASCII text. */
const ASCII_PROPERTY: Readonly<Record<string, string>> = {
  'p{Nd}': '0-9',
  'p{N}': '0-9',
  'p{L}': 'A-Za-z',
  'P{Nd}': '\\x00-\\/:-\\x7f',
};

/**
 * The pattern for texts of ASCII characters only: each Unicode property class (always inside a
 * class) spelled as the ASCII ranges it matches there. It matches such a text exactly as the
 * pattern does, and V8 compiles it in half the time: the property classes span thousands of
 * ranges, built again at each compilation.
 */
function asciiTwin(source: string): string {
  // Escapes are read pair by pair, so an escaped backslash before `p{L}` is left alone.
  return source.replace(/\\(?:[pP]\{(?:Nd|N|L)\}|[^])/g, (escape) => ASCII_PROPERTY[escape.slice(1)] ?? escape);
}

/** JavaScript has limits Python has not (e.g. on repetition counts): report them as bad input. */
function javascriptRegExp(translated: TranslatedRegex, source: string): RegExp {
  try {
    return new RegExp(translated.source, translated.flags);
  } catch (error) {
    throw regexError(source, `not expressible in JavaScript (${messageOf(error)})`);
  }
}

function iterationRegex(parsed: ParsedRegex, body: Node, source: string): TranslatedRegex {
  const emitter = new Emitter(parsed, source);
  const once = emitter.emit(body);
  const more = emitter.emitWithoutCaptures({ kind: 'repeat', min: 0, max: Infinity, mode: 'greedy', body });
  return {
    source: `${once}(?=${more}$)`,
    flags: 'uy',
    pythonNames: [],
    groupNames: emitter.groupNames,
    repeated: [],
    requiredLiteral: undefined,
    start: undefined,
  };
}

const SYNTAX = new Set([...'^$\\.*+?()[]{}|/'].map((c) => c.codePointAt(0)));
const CLASS_SPECIAL = new Set([...'\\]^-['].map((c) => c.codePointAt(0)));

/** Python's `\s` for str patterns (`str.isspace()`): wider than JavaScript's on \x1c-\x1f and \x85. */
const UNICODE_SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const CLASS_TEXT: Readonly<Record<ClassName, { unicode: string; ascii: string }>> = {
  digit: { unicode: '\\p{Nd}', ascii: '0-9' },
  word: { unicode: '\\p{L}\\p{N}_', ascii: 'A-Za-z0-9_' },
  space: { unicode: UNICODE_SPACE, ascii: ' \\t-\\r' },
};

/**
 * A piece of an emitted pattern made readable for messages: the classes emitted for Python's
 * `\w`, `\s`, `\d` and `.` written as those again.
 */
export function readablePattern(javascript: string): string {
  let text = javascript;
  for (const [name, { unicode }] of Object.entries(CLASS_TEXT)) {
    const letter = CLASS_LETTER[name as ClassName];
    text = text.replaceAll(`[^${unicode}]`, `\\${letter.toUpperCase()}`).replaceAll(unicode, `\\${letter}`);
  }
  return text.replace(/\[(\\[wsd])\]/g, '$1').replaceAll('[^\\n]', '.');
}

const CLASS_LETTER: Readonly<Record<ClassName, string>> = { digit: 'd', word: 'w', space: 's' };

class Emitter {
  readonly groupNames = new Map<number, string>();
  readonly repeated: { span: number; node: Node }[] = [];
  private nextIndex = 1;
  /** Python group → capture index of its copy on the path being emitted, for backreferences. */
  private current = new Map<number, number>();
  private capturing = true;
  private readonly referenced = new Set<number>();

  constructor(
    private readonly parsed: ParsedRegex,
    private readonly source: string,
  ) {
    collectBackrefs(parsed.root, this.referenced);
  }

  emitWithoutCaptures(node: Node): string {
    const saved = this.capturing;
    this.capturing = false;
    const out = this.emit(node);
    this.capturing = saved;
    return out;
  }

  emit(node: Node): string {
    switch (node.kind) {
      case 'empty':
        return '';
      case 'fail':
        return '(?!)';
      case 'seq':
        return node.items.map((item) => this.emit(item)).join('');
      case 'alt':
        return `(?:${this.alternatives(node.options)})`;
      case 'char':
        return this.char(node.cp, node.fold, node.ascii);
      case 'set':
        return this.set(node);
      case 'any':
        return node.dotall ? '[^]' : '[^\\n]';
      case 'anchor':
        return anchor(node.at, node.ascii);
      case 'group':
        return this.group(node.index, node.body);
      case 'look':
        return `(?${node.behind ? '<' : ''}${node.negate ? '!' : '='}${this.emit(node.body)})`;
      case 'atomic':
        return this.atomic(() => this.emit(node.body));
      case 'repeat':
        return this.repeat(node);
      case 'backref':
        return this.backref(node.index, node.fold);
      case 'cond':
        throw regexError(this.source, 'internal: conditional left after rewriting');
    }
  }

  private alternatives(options: readonly Node[]): string {
    const before = this.current;
    const out = options.map((option) => {
      this.current = new Map(before);
      return this.emit(option);
    });
    this.current = before;
    return out.join('|');
  }

  private group(index: number | undefined, body: Node): string {
    const name = index === undefined ? undefined : this.parsed.names.get(index);
    const keep = index !== undefined && (this.referenced.has(index) || (name !== undefined && this.capturing));
    if (!keep) return body.kind === 'alt' ? this.emit(body) : `(?:${this.emit(body)})`;
    const js = this.nextIndex++;
    if (name !== undefined && this.capturing) this.groupNames.set(js, name);
    const inner = this.emit(body);
    this.current.set(index, js);
    return `(${inner})`;
  }

  /** JavaScript has no atomic groups: a lookahead is atomic, and a backreference consumes it. */
  private atomic(inner: () => string): string {
    const js = this.nextIndex++;
    return `(?=(${inner()}))\\${js}`;
  }

  private repeat(node: Extract<Node, { kind: 'repeat' }>): string {
    if (this.capturing && node.max > 1 && this.hasNamedGroup(node.body)) return this.repeatedCaptures(node);
    const quantified = (): string => `${this.quantifiable(node.body)}${quantifier(node.min, node.max)}`;
    if (node.mode === 'possessive') return this.atomic(quantified);
    return node.mode === 'lazy' ? `${quantified()}?` : quantified();
  }

  private repeatedCaptures(node: Extract<Node, { kind: 'repeat' }>): string {
    if (containsKind(node.body, 'backref')) {
      throw regexError(this.source, 'backreference inside a repetition that holds named groups');
    }
    if (this.hasNestedRepeatedGroup(node.body)) {
      throw regexError(this.source, 'named group inside nested repetitions');
    }
    const span = this.nextIndex++;
    this.repeated.push({ span, node: node.body });
    const quantified = (): string => {
      const saved = this.capturing;
      this.capturing = false;
      const body = this.quantifiable(node.body);
      this.capturing = saved;
      return `${body}${quantifier(node.min, node.max)}`;
    };
    if (node.mode === 'possessive') return `(${this.atomic(quantified)})`;
    return `(${quantified()}${node.mode === 'lazy' ? '?' : ''})`;
  }

  /** `node` as one atom a quantifier can follow (u-mode refuses quantified lookarounds). */
  private quantifiable(node: Node): string {
    const out = this.emit(node);
    switch (node.kind) {
      case 'char':
      case 'any':
      case 'group':
      case 'alt':
      case 'backref':
        return out;
      case 'set':
        return out.startsWith('(?!') || out.startsWith('(?=') ? `(?:${out})` : out;
      default:
        return `(?:${out})`;
    }
  }

  private hasNamedGroup(node: Node): boolean {
    if (node.kind === 'group' && node.index !== undefined && this.parsed.names.has(node.index)) return true;
    return childNodes(node).some((child) => this.hasNamedGroup(child));
  }

  private hasNestedRepeatedGroup(node: Node): boolean {
    if (node.kind === 'repeat' && node.max > 1 && this.hasNamedGroup(node.body)) return true;
    return childNodes(node).some((child) => this.hasNestedRepeatedGroup(child));
  }

  private backref(index: number, fold: boolean): string {
    if (fold) throw regexError(this.source, 'case-insensitive backreference');
    const js = this.current.get(index);
    if (js === undefined) throw regexError(this.source, `backreference to group ${index} that cannot have matched`);
    return `(?:\\${js})`;
  }

  private char(cp: number, fold: boolean, ascii: boolean): string {
    const variants = fold ? foldedPoints(cp, ascii) : [cp];
    if (variants.length === 1) return escapeOutside(cp);
    return `[${variants.map(escapeInside).join('')}]`;
  }

  /**
   * A set is the union of its ranges and classes; negated classes (`\W` inside `[…]`) cannot sit
   * in a JavaScript class with others, so they become alternatives (or lookaheads when negated).
   */
  private set(node: Extract<Node, { kind: 'set' }>): string {
    const ranges: [number, number][] = [];
    const positive: string[] = [];
    const negative: string[] = [];
    for (const item of node.items) {
      if (item.kind === 'range') {
        ranges.push([item.lo, item.hi]);
        if (node.fold) ranges.push(...foldedRanges(item, node.ascii));
      } else if (item.negate && item.name === 'digit' && !node.ascii) {
        positive.push('\\P{Nd}');
      } else {
        (item.negate ? negative : positive).push(CLASS_TEXT[item.name][node.ascii ? 'ascii' : 'unicode']);
      }
    }
    const inside = normalise(ranges).map(([lo, hi]) => rangeText(lo, hi)).join('') + positive.join('');
    if (!node.negate) {
      const parts = [...(inside === '' ? [] : [`[${inside}]`]), ...negative.map((n) => `[^${n}]`)];
      return parts.length === 1 ? (parts[0] ?? '') : `(?:${parts.join('|')})`;
    }
    if (negative.length === 0) return `[^${inside}]`;
    const last = negative[negative.length - 1] ?? '';
    const guards = negative.slice(0, -1).map((n) => `(?=[${n}])`).join('');
    return `${inside === '' ? '' : `(?![${inside}])`}${guards}[${last}]`;
  }
}

function quantifier(min: number, max: number): string {
  if (max === Infinity) return min === 0 ? '*' : min === 1 ? '+' : `{${min},}`;
  if (min === 0 && max === 1) return '?';
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

function anchor(at: Anchor, ascii: boolean): string {
  const word = `[${CLASS_TEXT.word[ascii ? 'ascii' : 'unicode']}]`;
  switch (at) {
    case 'start':
      return '^';
    case 'end':
      return '(?=\\n?$)';
    case 'lineStart':
      return '(?<![^\\n])';
    case 'lineEnd':
      return '(?![^\\n])';
    case 'textEnd':
      return '$';
    case 'boundary':
      return `(?:(?<=${word})(?!${word})|(?<!${word})(?=${word}))`;
    case 'nonBoundary':
      return `(?:(?<=${word})(?=${word})|(?<!${word})(?!${word}))`;
  }
}

function foldedRanges(item: Extract<SetItem, { kind: 'range' }>, ascii: boolean): [number, number][] {
  const out: [number, number][] = [];
  for (let cp = item.lo; cp <= item.hi; cp++) {
    if (ascii ? cp > 0x7f : !hasCase(cp)) continue;
    for (const v of foldedPoints(cp, ascii)) if (v < item.lo || v > item.hi) out.push([v, v]);
  }
  return out;
}

function normalise(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function rangeText(lo: number, hi: number): string {
  if (lo === hi) return escapeInside(lo);
  return `${escapeInside(lo)}-${escapeInside(hi)}`;
}

function escapeOutside(cp: number): string {
  if (SYNTAX.has(cp)) return `\\${String.fromCodePoint(cp)}`;
  return printable(cp) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function escapeInside(cp: number): string {
  if (CLASS_SPECIAL.has(cp)) return `\\${String.fromCodePoint(cp)}`;
  return printable(cp) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function printable(cp: number): boolean {
  return cp >= 0x20 && cp < 0x7f;
}


function containsKind(node: Node, kind: Node['kind']): boolean {
  return node.kind === kind || childNodes(node).some((child) => containsKind(child, kind));
}

function collectBackrefs(node: Node, into: Set<number>): void {
  if (node.kind === 'backref') into.add(node.index);
  for (const child of childNodes(node)) collectBackrefs(child, into);
}

/** Literal runs every match must contain (case-sensitive characters on the mandatory path). */
function requiredRuns(node: Node): string[] {
  switch (node.kind) {
    case 'char':
      return node.fold ? [] : [String.fromCodePoint(node.cp)];
    case 'seq': {
      const runs: string[] = [];
      let run = '';
      for (const item of node.items) {
        if (item.kind === 'char' && !item.fold) {
          run += String.fromCodePoint(item.cp);
          continue;
        }
        if (run !== '') runs.push(run);
        run = '';
        runs.push(...requiredRuns(item));
      }
      if (run !== '') runs.push(run);
      return runs;
    }
    case 'group':
    case 'atomic':
      return requiredRuns(node.body);
    case 'repeat':
      return node.min > 0 ? requiredRuns(node.body) : [];
    default:
      return [];
  }
}

function longest(runs: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const run of runs) if (best === undefined || run.length > best.length) best = run;
  return best;
}

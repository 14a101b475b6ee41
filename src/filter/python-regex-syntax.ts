import { InputError } from '../core/index.js';

/** Python `re` syntax (3.11, str patterns) parsed into a tree whose flags are already applied. */

export type ClassName = 'digit' | 'word' | 'space';

export type SetItem =
  | { readonly kind: 'range'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'class'; readonly name: ClassName; readonly negate: boolean };

/** Where an anchor matches: `start` is `^`/`\A`, `end` is `$` (also before a final newline). */
export type Anchor = 'start' | 'end' | 'lineStart' | 'lineEnd' | 'textEnd' | 'boundary' | 'nonBoundary';

export type Node =
  | { readonly kind: 'empty' }
  | { readonly kind: 'fail' }
  | { readonly kind: 'seq'; readonly items: readonly Node[] }
  | { readonly kind: 'alt'; readonly options: readonly Node[] }
  /** `fold`: IGNORECASE applies; `ascii`: only ASCII letters fold (the `a` flag). */
  | { readonly kind: 'char'; readonly cp: number; readonly fold: boolean; readonly ascii: boolean }
  | {
      readonly kind: 'set';
      readonly negate: boolean;
      readonly items: readonly SetItem[];
      readonly fold: boolean;
      readonly ascii: boolean;
    }
  | { readonly kind: 'any'; readonly dotall: boolean }
  | { readonly kind: 'anchor'; readonly at: Anchor; readonly ascii: boolean }
  /** `index` is the Python group number of a capturing group, undefined for `(?:…)`. */
  | { readonly kind: 'group'; readonly index: number | undefined; readonly body: Node }
  | { readonly kind: 'look'; readonly behind: boolean; readonly negate: boolean; readonly body: Node }
  | { readonly kind: 'atomic'; readonly body: Node }
  | {
      readonly kind: 'repeat';
      readonly min: number;
      readonly max: number;
      readonly mode: 'greedy' | 'lazy' | 'possessive';
      readonly body: Node;
    }
  | { readonly kind: 'backref'; readonly index: number; readonly fold: boolean }
  | { readonly kind: 'cond'; readonly index: number; readonly yes: Node; readonly no: Node };

export interface ParsedRegex {
  readonly root: Node;
  /** Number of capturing groups (Python numbers them 1…groupCount). */
  readonly groupCount: number;
  /** Python group number → name, for named groups. */
  readonly names: ReadonlyMap<number, string>;
}

export interface PythonFlags {
  /** `re.MULTILINE` given by the caller, as fail2ban does for multi-line failregex. */
  readonly multiline?: boolean;
}

interface Flags {
  readonly fold: boolean;
  readonly multiline: boolean;
  readonly dotall: boolean;
  readonly ascii: boolean;
  readonly verbose: boolean;
}

/** Thrown for every construct Python would refuse and every one JavaScript cannot express. */
export function regexError(source: string, what: string, position?: number): InputError {
  const where = position === undefined ? '' : ` at position ${position}`;
  return new InputError(`regex '${source}': ${what}${where}`);
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f']);
const DIGITS = /^[0-9]$/;
const OCTAL = /^[0-7]$/;
const HEX = /^[0-9a-fA-F]$/;
const ASCII_LETTER = /^[A-Za-z]$/;
const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  a: 7,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
  '\\': 92,
};
const CLASS_ESCAPES: Readonly<Record<string, SetItem>> = {
  d: { kind: 'class', name: 'digit', negate: false },
  D: { kind: 'class', name: 'digit', negate: true },
  w: { kind: 'class', name: 'word', negate: false },
  W: { kind: 'class', name: 'word', negate: true },
  s: { kind: 'class', name: 'space', negate: false },
  S: { kind: 'class', name: 'space', negate: true },
};
const FLAG_LETTERS = new Set(['a', 'i', 'L', 'm', 's', 'x', 'u', 't']);
const EMPTY: Node = { kind: 'empty' };

/** Parse a Python regex the way `re.compile` does, refusing what it refuses. */
export function parsePythonRegex(source: string, flags: PythonFlags = {}): ParsedRegex {
  return new Parser(source, flags).parse();
}

class Parser {
  private readonly chars: readonly string[];
  private pos = 0;
  private groupCount = 0;
  private readonly names = new Map<number, string>();
  private readonly byName = new Map<string, number>();
  private readonly open = new Set<number>();
  /** Width range of each closed group, for Python's fixed-width lookbehind rule. */
  private readonly widths = new Map<number, readonly [number, number]>();
  private readonly forwardRefs: { index: number; pos: number }[] = [];
  /** Group count when the innermost enclosing lookbehind started, for Python's lookbehind check. */
  private lookbehindStart: number | undefined;
  private global: Flags;

  constructor(
    private readonly source: string,
    flags: PythonFlags,
  ) {
    this.chars = Array.from(source);
    this.global = { fold: false, multiline: flags.multiline ?? false, dotall: false, ascii: false, verbose: false };
  }

  parse(): ParsedRegex {
    const root = this.alternation(undefined, 0);
    if (this.pos < this.chars.length) throw this.error('unbalanced parenthesis');
    for (const ref of this.forwardRefs) {
      if (ref.index > this.groupCount) throw this.error(`invalid group reference ${ref.index}`, ref.pos);
    }
    return { root, groupCount: this.groupCount, names: this.names };
  }

  private error(what: string, position = this.pos): InputError {
    return regexError(this.source, what, position);
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private take(): string | undefined {
    const c = this.chars[this.pos];
    if (c !== undefined) this.pos++;
    return c;
  }

  private accept(c: string): boolean {
    if (this.chars[this.pos] !== c) return false;
    this.pos++;
    return true;
  }

  /** `flags` undefined means the top level, where global flags may still change. */
  private alternation(flags: Flags | undefined, depth: number): Node {
    const options: Node[] = [];
    for (;;) {
      options.push(this.sequence(flags, depth, depth === 0 && options.length === 0));
      if (!this.accept('|')) break;
    }
    return options.length === 1 ? (options[0] ?? EMPTY) : { kind: 'alt', options };
  }

  private sequence(scoped: Flags | undefined, depth: number, first: boolean): Node {
    const items: Node[] = [];
    let flags = scoped ?? this.global;
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') break;
      this.pos++;
      if (flags.verbose) {
        if (WHITESPACE.has(c)) continue;
        if (c === '#') {
          while (this.pos < this.chars.length && this.take() !== '\n');
          continue;
        }
      }
      const start = this.pos - 1;
      if (c === '\\') {
        items.push(this.escape(flags));
      } else if (c === '[') {
        items.push(this.set(flags, start));
      } else if (c === '*' || c === '+' || c === '?' || c === '{') {
        const bounds = this.quantifier(c);
        if (bounds === undefined) {
          items.push(literal('{', flags));
          continue;
        }
        items.push(this.repeat(items.pop(), bounds, start));
      } else if (c === '.') {
        items.push({ kind: 'any', dotall: flags.dotall });
      } else if (c === '^') {
        items.push({ kind: 'anchor', at: flags.multiline ? 'lineStart' : 'start', ascii: flags.ascii });
      } else if (c === '$') {
        items.push({ kind: 'anchor', at: flags.multiline ? 'lineEnd' : 'end', ascii: flags.ascii });
      } else if (c === '(') {
        const node = this.group(flags, depth, start, first && items.length === 0);
        if (node === 'global') {
          flags = this.global;
          continue;
        }
        if (node !== undefined) items.push(node);
      } else {
        items.push(literal(c, flags));
      }
    }
    if (items.length === 0) return EMPTY;
    return items.length === 1 ? (items[0] ?? EMPTY) : { kind: 'seq', items };
  }

  /** Bounds of a quantifier whose first character was taken, or undefined for a literal `{`. */
  private quantifier(c: string): { min: number; max: number } | undefined {
    if (c === '*') return { min: 0, max: Infinity };
    if (c === '+') return { min: 1, max: Infinity };
    if (c === '?') return { min: 0, max: 1 };
    const here = this.pos;
    if (this.peek() === '}') return undefined;
    let lo = '';
    let hi = '';
    while (DIGITS.test(this.peek() ?? '')) lo += this.take();
    if (this.accept(',')) {
      while (DIGITS.test(this.peek() ?? '')) hi += this.take();
    } else {
      hi = lo;
    }
    if (!this.accept('}')) {
      this.pos = here;
      return undefined;
    }
    const min = lo === '' ? 0 : Number(lo);
    const max = hi === '' ? Infinity : Number(hi);
    if (min >= 4294967295 || (max !== Infinity && max >= 4294967295)) {
      throw this.error('the repetition number is too large', here);
    }
    if (max < min) throw this.error('min repeat greater than max repeat', here);
    return { min, max };
  }

  private repeat(item: Node | undefined, bounds: { min: number; max: number }, start: number): Node {
    if (item === undefined || item.kind === 'anchor') throw this.error('nothing to repeat', start);
    if (item.kind === 'repeat') throw this.error('multiple repeat', start);
    let mode: 'greedy' | 'lazy' | 'possessive' = 'greedy';
    if (this.accept('?')) mode = 'lazy';
    else if (this.accept('+')) mode = 'possessive';
    return { kind: 'repeat', min: bounds.min, max: bounds.max, mode, body: item };
  }

  /** After `(`: a group, or undefined for a comment, or 'global' after global flags. */
  private group(flags: Flags, depth: number, start: number, mayBeGlobal: boolean): Node | 'global' | undefined {
    if (!this.accept('?')) return this.capture(undefined, flags, depth, start);
    const c = this.take();
    if (c === undefined) throw this.error('unexpected end of pattern');
    if (c === 'P') {
      if (this.accept('<')) return this.capture(this.groupName('>'), flags, depth, start);
      if (this.accept('=')) {
        const at = this.pos;
        const name = this.groupName(')');
        const index = this.byName.get(name);
        if (index === undefined) throw this.error(`unknown group name '${name}'`, at);
        return this.backref(index, flags, at);
      }
      throw this.error(`unknown extension ?P${this.peek() ?? ''}`);
    }
    if (c === ':') return this.body(flags, depth, start, (body) => ({ kind: 'group', index: undefined, body }));
    if (c === '#') {
      for (;;) {
        const d = this.take();
        if (d === undefined) throw this.error('missing ), unterminated comment', start);
        if (d === ')') return undefined;
      }
    }
    if (c === '=' || c === '!') {
      return this.body(flags, depth, start, (body) => ({ kind: 'look', behind: false, negate: c === '!', body }));
    }
    if (c === '<') {
      const d = this.take();
      if (d !== '=' && d !== '!') throw this.error(`unknown extension ?<${d ?? ''}`);
      const outer = this.lookbehindStart;
      this.lookbehindStart ??= this.groupCount + 1;
      const node = this.body(flags, depth, start, (body) => {
        const [lo, hi] = this.width(body);
        if (lo !== hi) throw this.error('look-behind requires fixed-width pattern', start);
        return { kind: 'look', behind: true, negate: d === '!', body };
      });
      this.lookbehindStart = outer;
      return node;
    }
    if (c === '(') return this.conditional(flags, depth, start);
    if (c === '>') return this.body(flags, depth, start, (body) => ({ kind: 'atomic', body }));
    if (FLAG_LETTERS.has(c) || c === '-') {
      const scoped = this.flagGroup(c, flags);
      if (scoped !== undefined) {
        return this.body(scoped, depth, start, (body) => ({ kind: 'group', index: undefined, body }));
      }
      if (!mayBeGlobal) throw this.error('global flags not at the start of the expression', start);
      return 'global';
    }
    throw this.error(`unknown extension ?${c}`);
  }

  private body(flags: Flags, depth: number, start: number, make: (body: Node) => Node): Node {
    const body = this.alternation(flags, depth + 1);
    if (!this.accept(')')) throw this.error('missing ), unterminated subpattern', start);
    return make(body);
  }

  private capture(name: string | undefined, flags: Flags, depth: number, start: number): Node {
    const index = ++this.groupCount;
    if (name !== undefined) {
      if (this.byName.has(name)) throw this.error(`redefinition of group name '${name}' as group ${index}`);
      this.byName.set(name, index);
      this.names.set(index, name);
    }
    this.open.add(index);
    const node = this.body(flags, depth, start, (body) => ({ kind: 'group', index, body }));
    this.open.delete(index);
    this.widths.set(index, this.width(node));
    return node;
  }

  /** Shortest and longest text `node` can match, as Python measures it (assertions count 0). */
  private width(node: Node): readonly [number, number] {
    switch (node.kind) {
      case 'char':
      case 'set':
      case 'any':
        return [1, 1];
      case 'seq':
        return node.items.reduce<readonly [number, number]>((sum, item) => {
          const [lo, hi] = this.width(item);
          return [sum[0] + lo, sum[1] + hi];
        }, [0, 0]);
      case 'alt': {
        const all = node.options.map((option) => this.width(option));
        return [Math.min(...all.map(([lo]) => lo)), Math.max(...all.map(([, hi]) => hi))];
      }
      case 'group':
      case 'atomic':
        return this.width(node.body);
      case 'repeat': {
        const [lo, hi] = this.width(node.body);
        return [lo * node.min, hi === 0 ? 0 : hi * node.max];
      }
      case 'backref':
        return this.widths.get(node.index) ?? [0, 0];
      case 'cond': {
        const [ylo, yhi] = this.width(node.yes);
        const [nlo, nhi] = this.width(node.no);
        return [Math.min(ylo, nlo), Math.max(yhi, nhi)];
      }
      default:
        return [0, 0];
    }
  }

  private groupName(terminator: string): string {
    const start = this.pos;
    let name = '';
    for (;;) {
      const c = this.take();
      if (c === undefined) throw this.error(`missing ${terminator}, unterminated name`, start);
      if (c === terminator) break;
      name += c;
    }
    if (name === '') throw this.error('missing group name', start);
    if (!isIdentifier(name)) throw this.error(`bad character in group name '${name}'`, start);
    return name;
  }

  private backref(index: number, flags: Flags, at: number): Node {
    if (this.open.has(index)) throw this.error('cannot refer to an open group', at);
    if (this.lookbehindStart !== undefined && index >= this.lookbehindStart) {
      throw this.error('cannot refer to group defined in the same lookbehind subpattern', at);
    }
    return { kind: 'backref', index, fold: flags.fold };
  }

  private conditional(flags: Flags, depth: number, start: number): Node {
    const namePos = this.pos;
    let ref = '';
    for (;;) {
      const c = this.take();
      if (c === undefined) throw this.error('missing ), unterminated name', namePos);
      if (c === ')') break;
      ref += c;
    }
    let index: number | undefined;
    if (isIdentifier(ref)) {
      index = this.byName.get(ref);
      if (index === undefined) throw this.error(`unknown group name '${ref}'`, namePos);
    } else if (/^[0-9]+$/.test(ref)) {
      index = Number(ref);
      if (index === 0) throw this.error('bad group number', namePos);
      this.forwardRefs.push({ index, pos: namePos });
    } else {
      throw this.error(`bad character in group name '${ref}'`, namePos);
    }
    if (this.lookbehindStart !== undefined && index >= this.lookbehindStart) {
      throw this.error('cannot refer to group defined in the same lookbehind subpattern', namePos);
    }
    const yes = this.sequence(flags, depth + 1, false);
    let no: Node = EMPTY;
    if (this.accept('|')) {
      no = this.sequence(flags, depth + 1, false);
      if (this.peek() === '|') throw this.error('conditional backref with more than two branches');
    }
    if (!this.accept(')')) throw this.error('missing ), unterminated subpattern', start);
    return { kind: 'cond', index, yes, no };
  }

  /** Inline flags after `(?`: the scoped flags of `(?…:`, or undefined after global `(?…)`. */
  private flagGroup(first: string, flags: Flags): Flags | undefined {
    let add = '';
    let del = '';
    let c: string | undefined = first;
    if (c !== '-') {
      for (;;) {
        if (c === 'L') throw this.error("bad inline flags: cannot use 'L' flag with a str pattern");
        add += c;
        if ((add.includes('a') ? 1 : 0) + (add.includes('u') ? 1 : 0) > 1) {
          throw this.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
        }
        c = this.take();
        if (c === undefined) throw this.error('missing -, : or )');
        if (c === ')' || c === '-' || c === ':') break;
        if (!FLAG_LETTERS.has(c)) throw this.error(/\p{L}/u.test(c) ? 'unknown flag' : 'missing -, : or )');
      }
    }
    if (add.includes('t')) throw this.error("the template flag 't' is not supported");
    if (c === ')') {
      this.global = withFlags(this.global, add, '');
      return undefined;
    }
    if (c === '-') {
      c = this.take();
      if (c === undefined) throw this.error('missing flag');
      if (!FLAG_LETTERS.has(c)) throw this.error(/\p{L}/u.test(c) ? 'unknown flag' : 'missing flag');
      for (;;) {
        if (c === 'a' || c === 'u' || c === 'L') {
          throw this.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        }
        if (c === 't') throw this.error("the template flag 't' is not supported");
        del += c;
        c = this.take();
        if (c === undefined) throw this.error('missing :');
        if (c === ':') break;
        if (!FLAG_LETTERS.has(c)) throw this.error(/\p{L}/u.test(c) ? 'unknown flag' : 'missing :');
      }
    }
    if ([...add].some((f) => del.includes(f))) throw this.error('bad inline flags: flag turned on and off');
    return withFlags(flags, add, del);
  }

  /** After `\` outside a set. */
  private escape(flags: Flags): Node {
    const start = this.pos - 1;
    const c = this.take();
    if (c === undefined) throw this.error('bad escape (end of pattern)', start);
    const cls = CLASS_ESCAPES[c];
    if (cls !== undefined) return { kind: 'set', negate: false, items: [cls], fold: flags.fold, ascii: flags.ascii };
    if (c === 'A') return { kind: 'anchor', at: 'start', ascii: flags.ascii };
    if (c === 'Z') return { kind: 'anchor', at: 'textEnd', ascii: flags.ascii };
    if (c === 'b') return { kind: 'anchor', at: 'boundary', ascii: flags.ascii };
    if (c === 'B') return { kind: 'anchor', at: 'nonBoundary', ascii: flags.ascii };
    if (c === '0') return charNode(this.octal(c, start), flags);
    if (DIGITS.test(c)) {
      let digits = c;
      if (DIGITS.test(this.peek() ?? '')) {
        digits += this.take();
        if (OCTAL.test(digits[0] ?? '') && OCTAL.test(digits[1] ?? '') && OCTAL.test(this.peek() ?? '')) {
          digits += this.take();
          const cp = parseInt(digits, 8);
          if (cp > 0o377) throw this.error(`octal escape value \\${digits} outside of range 0-0o377`, start);
          return charNode(cp, flags);
        }
      }
      const index = Number(digits);
      if (index > this.groupCount) throw this.error(`invalid group reference ${index}`, start + 1);
      return this.backref(index, flags, start);
    }
    return charNode(this.codeEscape(c, start), flags);
  }

  private octal(first: string, start: number): number {
    let digits = first;
    while (digits.length < 3 && OCTAL.test(this.peek() ?? '')) digits += this.take();
    const cp = parseInt(digits, 8);
    if (cp > 0o377) throw this.error(`octal escape value \\${digits} outside of range 0-0o377`, start);
    return cp;
  }

  /** Escapes that stand for one character, the same inside and outside sets. */
  private codeEscape(c: string, start: number): number {
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return simple;
    const width = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
    if (width > 0) {
      let hex = '';
      while (hex.length < width && HEX.test(this.peek() ?? '')) hex += this.take();
      if (hex.length !== width) throw this.error(`incomplete escape \\${c}${hex}`, start);
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw this.error(`bad escape \\${c}${hex}`, start);
      return cp;
    }
    if (c === 'N') throw this.error('named Unicode escape \\N{…} is not supported', start);
    if (ASCII_LETTER.test(c) || DIGITS.test(c)) throw this.error(`bad escape \\${c}`, start);
    return codePoint(c);
  }

  /** After `[`. */
  private set(flags: Flags, start: number): Node {
    const negate = this.accept('^');
    const items: SetItem[] = [];
    for (;;) {
      const c = this.take();
      if (c === undefined) throw this.error('unterminated character set', start);
      if (c === ']' && items.length > 0) break;
      const itemStart = this.pos - 1;
      const lo = c === '\\' ? this.setEscape() : ({ kind: 'range', lo: codePoint(c), hi: codePoint(c) } as const);
      if (this.accept('-')) {
        const d = this.take();
        if (d === undefined) throw this.error('unterminated character set', start);
        if (d === ']') {
          items.push(lo, { kind: 'range', lo: 45, hi: 45 });
          break;
        }
        const hi = d === '\\' ? this.setEscape() : ({ kind: 'range', lo: codePoint(d), hi: codePoint(d) } as const);
        if (lo.kind !== 'range' || hi.kind !== 'range' || hi.lo < lo.lo) {
          throw this.error(`bad character range ${this.chars.slice(itemStart, this.pos).join('')}`, itemStart);
        }
        items.push({ kind: 'range', lo: lo.lo, hi: hi.lo });
      } else {
        items.push(lo);
      }
    }
    return { kind: 'set', negate, items, fold: flags.fold, ascii: flags.ascii };
  }

  /** After `\` inside a set: `\b` is a backspace there, anchors are errors. */
  private setEscape(): SetItem {
    const start = this.pos - 1;
    const c = this.take();
    if (c === undefined) throw this.error('bad escape (end of pattern)', start);
    const cls = CLASS_ESCAPES[c];
    if (cls !== undefined) return cls;
    let cp: number;
    if (c === 'b') cp = 8;
    else if (OCTAL.test(c)) cp = this.octal(c, start);
    else cp = this.codeEscape(c, start);
    return { kind: 'range', lo: cp, hi: cp };
  }
}

function literal(c: string, flags: Flags): Node {
  return charNode(codePoint(c), flags);
}

function charNode(cp: number, flags: Flags): Node {
  return { kind: 'char', cp, fold: flags.fold, ascii: flags.ascii };
}

function codePoint(c: string): number {
  return c.codePointAt(0) ?? 0;
}

function isIdentifier(name: string): boolean {
  return /^[\p{ID_Start}_][\p{ID_Continue}]*$/u.test(name);
}

function withFlags(flags: Flags, add: string, del: string): Flags {
  const on = (letter: string, current: boolean): boolean =>
    add.includes(letter) ? true : del.includes(letter) ? false : current;
  return {
    fold: on('i', flags.fold),
    multiline: on('m', flags.multiline),
    dotall: on('s', flags.dotall),
    verbose: on('x', flags.verbose),
    ascii: add.includes('a') ? true : add.includes('u') ? false : flags.ascii,
  };
}

/** The direct sub-patterns of a node, for walks over the tree. */
export function childNodes(node: Node): readonly Node[] {
  switch (node.kind) {
    case 'seq':
      return node.items;
    case 'alt':
      return node.options;
    case 'group':
    case 'look':
    case 'atomic':
    case 'repeat':
      return [node.body];
    case 'cond':
      return [node.yes, node.no];
    default:
      return [];
  }
}

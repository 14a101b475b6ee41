/**
 * Compiles the Python regex of a date template to a JavaScript RegExp. Named groups become plain
 * numbered groups (reading `match[i]` allocates nothing, unlike `match.groups`), and the text
 * before fail2ban's group 1 — the date that is cut out of the line — gets a group of its own, so
 * the date's offset is `match.index + match[prefix].length` without the costly `d` flag.
 */
export interface DateRegex {
  /** Global flag set: search with `lastIndex`. */
  readonly regex: RegExp;
  /** Python named groups → JS group index. */
  readonly groups: ReadonlyMap<string, number>;
  /** JS index of Python group `n` is `n + shift`. */
  readonly shift: number;
  /** JS group holding everything before Python's group 1, or 0 when the regex needs `indices`. */
  readonly prefixGroup: number;
}

type Token = string | { readonly ref: number };

const LEADING_FLAGS = /^\(\?([a-zA-Z]+)\)/;

/** Throws an Error naming the construct when the regex cannot be expressed in JavaScript. */
export function compileDateRegex(source: string): DateRegex {
  let flags = 'g';
  let at = 0;
  const lead = LEADING_FLAGS.exec(source);
  if (lead) {
    for (const flag of lead[1] ?? '') {
      if (flag === 'i' || flag === 's' || flag === 'm') flags += flags.includes(flag) ? '' : flag;
      else if (flag !== 'u' && flag !== 'a') throw new Error(`unsupported inline flag (?${flag})`);
    }
    at = lead[0].length;
  }
  const tokens: Token[] = [];
  const names = new Map<string, number>();
  let groupCount = 0;
  let depth = 0;
  let topLevelAlternation = false;
  let firstGroupToken = -1;
  let firstGroupDepth = -1;
  const openGroup = (): void => {
    groupCount += 1;
    if (groupCount === 1) {
      firstGroupToken = tokens.length;
      firstGroupDepth = depth;
    }
    tokens.push('(');
    depth += 1;
  };
  while (at < source.length) {
    const c = source.charAt(at);
    if (c === '\\') {
      const next = source.charAt(at + 1);
      if (next === '') throw new Error('trailing backslash');
      const digits = /^[1-9]\d?/.exec(source.slice(at + 1, at + 3));
      if (digits) {
        tokens.push({ ref: Number(digits[0]) });
        at += 1 + digits[0].length;
        continue;
      }
      tokens.push(next === 'A' ? '^' : next === 'Z' ? '$' : c + next);
      at += 2;
    } else if (c === '[') {
      const end = classEnd(source, at);
      const body = source.slice(at, end);
      // Python reads a `]` right after `[` or `[^` as a literal; JavaScript would end the class.
      tokens.push(body.replace(/^(\[\^?)\]/, '$1\\]'));
      at = end;
    } else if (c === '(') {
      if (source.startsWith('(?P<', at)) {
        const close = source.indexOf('>', at);
        const name = source.slice(at + 4, close);
        if (close < 0 || !/^\w+$/.test(name)) throw new Error(`bad group name at "${source.slice(at, at + 12)}"`);
        if (names.has(name)) throw new Error(`group name "${name}" used twice`);
        names.set(name, groupCount + 1);
        openGroup();
        at = close + 1;
      } else if (source.startsWith('(?P=', at)) {
        const close = source.indexOf(')', at);
        const index = names.get(source.slice(at + 4, close));
        if (close < 0 || index === undefined) throw new Error(`unknown group reference "${source.slice(at, close + 1)}"`);
        tokens.push({ ref: index });
        at = close + 1;
      } else if (source.startsWith('(?#', at)) {
        const close = source.indexOf(')', at);
        if (close < 0) throw new Error('unterminated comment (?#');
        at = close + 1;
      } else if (/^\(\?(?::|=|!|<=|<!)/.test(source.slice(at, at + 4))) {
        const open = source.startsWith('(?<', at) ? 4 : 3;
        tokens.push(source.slice(at, at + open));
        depth += 1;
        at += open;
      } else if (source.startsWith('(?', at)) {
        throw new Error(`unsupported construct "${source.slice(at, at + 6)}…"`);
      } else {
        openGroup();
        at += 1;
      }
    } else if (c === ')') {
      depth -= 1;
      if (depth < 0) throw new Error('unbalanced parenthesis');
      tokens.push(c);
      at += 1;
    } else if (c === '|') {
      if (depth === 0) topLevelAlternation = true;
      tokens.push(c);
      at += 1;
    } else {
      // Python reads `{,n}` as `{0,n}`; JavaScript would read it literally.
      const lazyMin = c === '{' ? /^\{,(\d+)\}/.exec(source.slice(at)) : null;
      tokens.push(lazyMin ? `{0,${lazyMin[1] ?? ''}}` : c);
      at += lazyMin ? lazyMin[0].length : 1;
    }
  }
  if (depth !== 0) throw new Error('unbalanced parenthesis');
  for (const token of tokens) {
    if (typeof token !== 'string' && token.ref > groupCount) throw new Error(`reference to missing group \\${token.ref}`);
  }
  const splitPrefix = firstGroupToken > 0 && firstGroupDepth === 0 && !topLevelAlternation;
  const shift = splitPrefix ? 1 : 0;
  const text = (list: readonly Token[]): string =>
    list.map((token) => (typeof token === 'string' ? token : `(?:\\${token.ref + shift})`)).join('');
  const body = splitPrefix
    ? `(${text(tokens.slice(0, firstGroupToken))})${text(tokens.slice(firstGroupToken))}`
    : text(tokens);
  if (!splitPrefix && firstGroupToken > 0) flags += 'd';
  const groups = new Map<string, number>();
  for (const [name, index] of names) groups.set(name, index + shift);
  return { regex: new RegExp(body, flags), groups, shift, prefixGroup: splitPrefix ? 1 : 0 };
}

/** Index just past the `]` closing the class opened at `start`. */
function classEnd(source: string, start: number): number {
  let at = start + 1;
  if (source.charAt(at) === '^') at += 1;
  if (source.charAt(at) === ']') at += 1;
  while (at < source.length) {
    const c = source.charAt(at);
    if (c === '\\') at += 2;
    else if (c === ']') return at + 1;
    else at += 1;
  }
  throw new Error('unterminated character class');
}

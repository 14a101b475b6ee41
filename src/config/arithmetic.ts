import { InputError } from '../core/index.js';

/** The number of seconds (or other multiplier) a unit word stands for; undefined when unknown. */
export type UnitOf = (word: string) => number | undefined;

type Token = { readonly number: number } | { readonly op: string };

const TOKEN = /\s*(?:(\d+(?:\.\d*)?|\.\d+)(?:\s*([a-z]+))?|([-+*/()]))\s*/iy;

function tokenize(text: string, unitOf: UnitOf | undefined): Token[] {
  const tokens: Token[] = [];
  for (let at = 0; at < text.length; ) {
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (m === null) throw new InputError(`cannot read "${text.slice(at).trim()}" in "${text.trim()}"`);
    at = TOKEN.lastIndex;
    if (m[3] !== undefined) {
      tokens.push({ op: m[3] });
      continue;
    }
    const word = m[2]?.toLowerCase();
    const unit = word === undefined ? 1 : unitOf?.(word);
    if (unit === undefined) throw new InputError(`unknown unit "${word}" in "${text.trim()}"`);
    tokens.push({ number: Number(m[1]) * unit });
  }
  return tokens;
}

/**
 * Evaluates the arithmetic fail2ban allows where it evaluates a value as a Python expression
 * (durations, `bantime.factor`): numbers, each optionally followed by a unit word, `+ - * /`
 * and parentheses; numbers side by side are added, as fail2ban adds `1d 12h`.
 */
export function evaluateArithmetic(text: string, unitOf?: UnitOf): number {
  const tokens = tokenize(text, unitOf);
  let at = 0;
  const op = (): string | undefined => {
    const token = tokens[at];
    return token !== undefined && 'op' in token ? token.op : undefined;
  };
  const fail = (): never => {
    throw new InputError(at < tokens.length ? `unexpected "${op() ?? 'number'}" in "${text.trim()}"` : `incomplete expression "${text.trim()}"`);
  };
  const operand = (): number => {
    const token = tokens[at++];
    if (token === undefined) return fail();
    if ('number' in token) return token.number;
    if (token.op === '-') return -operand();
    if (token.op === '+') return operand();
    if (token.op !== '(') {
      at--;
      return fail();
    }
    const inner = sum();
    if (op() !== ')') return fail();
    at++;
    return inner;
  };
  const product = (): number => {
    let value = operand();
    for (let o = op(); o === '*' || o === '/'; o = op()) {
      at++;
      const right = operand();
      if (o === '/' && right === 0) throw new InputError(`division by zero in "${text.trim()}"`);
      value = o === '*' ? value * right : value / right;
    }
    return value;
  };
  const sum = (): number => {
    let value = product();
    for (;;) {
      const o = op();
      const next = tokens[at];
      if (o === '+' || o === '-') {
        at++;
        value = o === '+' ? value + product() : value - product();
      } else if (next !== undefined && 'number' in next) {
        value += product();
      } else {
        return value;
      }
    }
  };
  const value = sum();
  if (at < tokens.length) fail();
  return value;
}

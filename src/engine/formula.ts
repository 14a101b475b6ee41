import { InputError } from '../core/index.js';

/** Values of the variables a formula may read, by their dotted name (`ban.Time`). */
export type FormulaValues = Readonly<Record<string, number>>;

/** A compiled formula: evaluates with the given variables, throws EvaluationError where Python would raise. */
export type Formula = (values: FormulaValues) => number;

/** A formula failed at run time (division by zero, overflow, a shift by a fraction): Python would raise. */
export class EvaluationError extends Error {}

type Node = (values: FormulaValues) => number;

const FUNCTIONS: ReadonlyMap<string, { readonly arity: readonly [number, number]; readonly apply: (...args: number[]) => number }> = new Map([
  ['min', { arity: [2, Infinity], apply: (...a: number[]) => Math.min(...a) }],
  ['max', { arity: [2, Infinity], apply: (...a: number[]) => Math.max(...a) }],
  ['abs', { arity: [1, 1], apply: Math.abs }],
  ['float', { arity: [1, 1], apply: (x: number) => x }],
  ['int', { arity: [1, 1], apply: Math.trunc }],
  ['math.exp', { arity: [1, 1], apply: Math.exp }],
  ['math.log', { arity: [1, 2], apply: (x: number, base?: number) => (base === undefined ? Math.log(x) : Math.log(x) / Math.log(base)) }],
  ['math.log2', { arity: [1, 1], apply: Math.log2 }],
  ['math.log10', { arity: [1, 1], apply: Math.log10 }],
  ['math.sqrt', { arity: [1, 1], apply: Math.sqrt }],
  ['math.pow', { arity: [2, 2], apply: (x: number, y: number) => x ** y }],
  ['math.floor', { arity: [1, 1], apply: Math.floor }],
  ['math.ceil', { arity: [1, 1], apply: Math.ceil }],
  ['math.trunc', { arity: [1, 1], apply: Math.trunc }],
  ['math.fabs', { arity: [1, 1], apply: Math.abs }],
]);

const CONSTANTS: ReadonlyMap<string, number> = new Map([
  ['math.e', Math.E],
  ['math.pi', Math.PI],
  ['True', 1],
  ['False', 0],
]);

const KEYWORDS = new Set(['if', 'else', 'and', 'or', 'not']);

// Longest operators first, so `**` is not read as two `*`.
const TOKEN = /\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\*\*|\/\/|<<|>>|<=|>=|==|!=|[-+*/%<>(),.]))/y;

interface Token {
  readonly kind: 'number' | 'name' | 'op' | 'end';
  readonly text: string;
}

function tokenize(text: string, fail: (why: string) => never): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  for (;;) {
    while (at < text.length && /\s/.test(text.charAt(at))) at++;
    if (at >= text.length) break;
    TOKEN.lastIndex = at;
    const match = TOKEN.exec(text);
    if (!match) fail(`cannot read "${text.slice(at, at + 20)}"`);
    const [whole, number, name, op] = match;
    if (number !== undefined) {
      // `1_000`, `0x10`, `2j` and the like: Python forms this evaluator does not take.
      if (/^[A-Za-z0-9_]/.test(text.slice(TOKEN.lastIndex, TOKEN.lastIndex + 1))) fail(`cannot read "${text.slice(at, TOKEN.lastIndex + 1)}"`);
      tokens.push({ kind: 'number', text: number });
    } else if (name !== undefined) {
      tokens.push({ kind: 'name', text: name });
    } else {
      tokens.push({ kind: 'op', text: op ?? whole });
    }
    at = TOKEN.lastIndex;
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

function finite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new EvaluationError(`${what} gives ${value}`);
  return value;
}

function integer(value: number, op: string): number {
  if (!Number.isInteger(value)) throw new EvaluationError(`${op} needs whole numbers, not ${value}`);
  return value;
}

const truthy = (value: number): boolean => value !== 0;
const bool = (value: boolean): number => (value ? 1 : 0);

const BINARY: Readonly<Record<string, (a: number, b: number) => number>> = {
  '+': (a, b) => finite(a + b, '+'),
  '-': (a, b) => finite(a - b, '-'),
  '*': (a, b) => finite(a * b, '*'),
  '/': (a, b) => finite(a / b, 'division'),
  '//': (a, b) => finite(Math.floor(a / b), 'division'),
  // Python's modulo takes the sign of the divisor.
  '%': (a, b) => finite(a - b * Math.floor(a / b), 'modulo'),
  '**': (a, b) => finite(a ** b, '**'),
  '<<': (a, b) => {
    if (integer(b, '<<') < 0) throw new EvaluationError('negative shift count');
    return finite(integer(a, '<<') * 2 ** b, '<<');
  },
  '>>': (a, b) => {
    if (integer(b, '>>') < 0) throw new EvaluationError('negative shift count');
    return Math.floor(integer(a, '>>') / 2 ** b);
  },
};

const COMPARE: Readonly<Record<string, (a: number, b: number) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/**
 * Recursive descent over the arithmetic part of Python's expression grammar, with Python's
 * precedence, building closures as it goes. Anything outside it is refused while parsing.
 */
class Parser {
  private at = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly variables: ReadonlySet<string>,
    private readonly fail: (why: string) => never,
  ) {}

  parse(): Node {
    const node = this.conditional();
    const next = this.peek();
    if (next.kind !== 'end') this.fail(`unexpected "${next.text}"`);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.at] ?? { kind: 'end', text: '' };
  }

  private take(): Token {
    const token = this.peek();
    this.at++;
    return token;
  }

  private accept(text: string): boolean {
    const token = this.peek();
    if ((token.kind === 'op' || token.kind === 'name') && token.text === text) {
      this.at++;
      return true;
    }
    return false;
  }

  private expect(text: string): void {
    if (!this.accept(text)) this.fail(`expected "${text}" before "${this.peek().text || 'the end'}"`);
  }

  private conditional(): Node {
    const then = this.or();
    if (!this.accept('if')) return then;
    const condition = this.or();
    this.expect('else');
    const otherwise = this.conditional();
    return (v) => (truthy(condition(v)) ? then(v) : otherwise(v));
  }

  private or(): Node {
    let left = this.and();
    while (this.accept('or')) {
      const a = left;
      const b = this.and();
      left = (v) => {
        const x = a(v);
        return truthy(x) ? x : b(v);
      };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.accept('and')) {
      const a = left;
      const b = this.not();
      left = (v) => {
        const x = a(v);
        return truthy(x) ? b(v) : x;
      };
    }
    return left;
  }

  private not(): Node {
    if (this.accept('not')) {
      const operand = this.not();
      return (v) => bool(!truthy(operand(v)));
    }
    return this.comparison();
  }

  private comparison(): Node {
    const first = this.shift();
    const steps: { test: (a: number, b: number) => boolean; right: Node }[] = [];
    for (;;) {
      const token = this.peek();
      const test = token.kind === 'op' ? COMPARE[token.text] : undefined;
      if (!test) break;
      this.at++;
      steps.push({ test, right: this.shift() });
    }
    if (steps.length === 0) return first;
    // Python chains comparisons: `a < b < c` is `a < b and b < c`.
    return (v) => {
      let left = first(v);
      for (const step of steps) {
        const right = step.right(v);
        if (!step.test(left, right)) return 0;
        left = right;
      }
      return 1;
    };
  }

  private binaryLevel(ops: readonly string[], next: () => Node): Node {
    let left = next();
    for (;;) {
      const token = this.peek();
      if (token.kind !== 'op' || !ops.includes(token.text)) return left;
      this.at++;
      const apply = BINARY[token.text];
      if (!apply) this.fail(`unknown operator "${token.text}"`);
      const a = left;
      const b = next();
      left = (v) => apply(a(v), b(v));
    }
  }

  private shift(): Node {
    return this.binaryLevel(['<<', '>>'], () => this.sum());
  }

  private sum(): Node {
    return this.binaryLevel(['+', '-'], () => this.term());
  }

  private term(): Node {
    return this.binaryLevel(['*', '/', '//', '%'], () => this.unary());
  }

  private unary(): Node {
    if (this.accept('-')) {
      const operand = this.unary();
      return (v) => -operand(v);
    }
    if (this.accept('+')) return this.unary();
    return this.power();
  }

  private power(): Node {
    const base = this.primary();
    if (!this.accept('**')) return base;
    // Right-associative, and binds tighter than a unary minus on its left only: `-2**2` is -4, `2**-1` is 0.5.
    const exponent = this.unary();
    const apply = BINARY['**'] as (a: number, b: number) => number;
    return (v) => apply(base(v), exponent(v));
  }

  private primary(): Node {
    const token = this.take();
    if (token.kind === 'number') {
      const value = Number(token.text);
      return () => value;
    }
    if (token.kind === 'op' && token.text === '(') {
      const inner = this.conditional();
      this.expect(')');
      return inner;
    }
    if (token.kind === 'name' && !KEYWORDS.has(token.text)) return this.named(token.text);
    return this.fail(token.kind === 'end' ? 'ends too early' : `unexpected "${token.text}"`);
  }

  private named(first: string): Node {
    let name = first;
    while (this.accept('.')) {
      const part = this.take();
      if (part.kind !== 'name') this.fail(`expected a name after "${name}."`);
      name += `.${part.text}`;
    }
    const fn = FUNCTIONS.get(name);
    if (fn) {
      this.expect('(');
      const args: Node[] = [];
      if (!this.accept(')')) {
        do args.push(this.conditional());
        while (this.accept(','));
        this.expect(')');
      }
      const [least, most] = fn.arity;
      if (args.length < least || args.length > most) this.fail(`${name}() takes ${least === most ? least : `${least} or more`} arguments, not ${args.length}`);
      return (v) => finite(fn.apply(...args.map((arg) => arg(v))), `${name}()`);
    }
    if (this.peek().text === '(') this.fail(`"${name}" cannot be called`);
    const constant = CONSTANTS.get(name);
    if (constant !== undefined) return () => constant;
    if (this.variables.has(name)) {
      return (v) => {
        const value = v[name];
        if (value === undefined) throw new EvaluationError(`${name} has no value`);
        return value;
      };
    }
    return this.fail(`unknown name "${name}"`);
  }
}

/**
 * Compiles the arithmetic subset of a Python expression that fail2ban documents for
 * `bantime.formula`: numbers, `+ - * / // % ** << >>`, parentheses, comparisons, `and`/`or`/`not`,
 * `x if c else y`, `min`/`max`/`abs`/`int`/`float`, `math.exp`/`log`/`log2`/`log10`/`sqrt`/`pow`/
 * `floor`/`ceil`, `math.e`/`math.pi`, and the given variables. Anything else — other names,
 * attributes, strings, subscripts, lambdas — is refused with an InputError naming `label` and the text.
 */
export function compileFormula(text: string, variables: readonly string[], label: string): Formula {
  const fail = (why: string): never => {
    throw new InputError(`${label} "${text}": ${why} (allowed: numbers, + - * / // % ** << >>, comparisons, x if c else y, min, max, math.*, ${variables.join(', ') || 'no variables'})`);
  };
  if (text.trim() === '') fail('empty');
  const node = new Parser(tokenize(text, fail), new Set(variables), fail).parse();
  return (values) => finite(node(values), label);
}

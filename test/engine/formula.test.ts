import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { InputError } from '../../src/core/index.js';
import { compileFormula, DEFAULT_BAN_FORMULA, EvaluationError } from '../../src/engine/index.js';

const VARIABLES = ['ban.Time', 'ban.Count', 'banFactor'];
const compile = (text: string) => compileFormula(text, VARIABLES, 'bantime.formula');

/** Expressions fail2ban users write, evaluated here and by Python itself, which fail2ban uses. */
const VALID = [
  DEFAULT_BAN_FORMULA,
  'ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)',
  'ban.Time * (1 << min(ban.Count, 20)) * banFactor',
  '2 + 3 * 4 - 1',
  '2 ** 3 ** 2',
  '-2 ** 2',
  '2 ** -1',
  '7 // 2 + -7 // 2',
  '-7 % 3 + 7 % -3',
  '256 >> 2 << 1',
  '(1 if 2 < 3 else 0) + (5 if ban.Count >= 3 else 7)',
  '1 < 2 < 3',
  '1 < 3 < 2',
  '1 == 1.0 != 2',
  'min(3, 1, 2) + max(4, 9.5, -1)',
  'math.log(8, 2) + math.log2(1024) + math.log10(1000) + math.log(math.e)',
  'math.sqrt(16) + math.pow(2, 10) + math.floor(-2.5) + math.ceil(2.1) + math.trunc(-2.7) + math.fabs(-3)',
  'int(2.7) + int(-2.7) + float(3) + abs(-4)',
  'not 0',
  'not ban.Count',
  '0 or 5',
  '2 and 3',
  '0 and 1/0',
  '1 or 1/0',
  'True + False * 2 + math.pi',
  '1e3 + .5 + 5. + 2.5e-1',
  'ban.Time * banFactor ** (ban.Count - 1)',
  '-ban.Time + +ban.Count',
];

const REFUSED = [
  '__import__("os").system("touch /tmp/x")',
  'os.system("touch /tmp/x")',
  'random.random() * ban.Time',
  'ban.Time.__class__',
  'ban.__dict__',
  'ban[0]',
  'lambda: 1',
  '"600"',
  'ban.Time; 1',
  'ban.Time = 1',
  '1 +',
  '(1 + 2',
  'math.exp',
  'ban.Count()',
  'min(1)',
  'math.exp(1, 2)',
  '1_000',
  '0x10',
  '3j',
  '1 if 2',
  'x',
  '1 | 2',
  '[1, 2]',
  '',
  'min(*[1, 2])',
  'max(1, key=abs)',
];

function python(expressions: readonly string[], values: { time: number; count: number; factor: number }): number[] {
  const program = `
import json, math, sys
class Ban: pass
ban = Ban(); ban.Time = ${values.time}; ban.Count = ${values.count}; banFactor = ${values.factor}
print(json.dumps([float(eval(e)) for e in json.load(sys.stdin)]))
`;
  return JSON.parse(execFileSync('python3', ['-c', program], { input: JSON.stringify(expressions) }).toString()) as number[];
}

describe('bantime.formula evaluator', () => {
  it('gives what Python gives for the forms fail2ban documents', () => {
    for (const values of [{ time: 600, count: 1, factor: 1 }, { time: 3600, count: 4, factor: 0.69 }, { time: 60, count: 25, factor: 2 }]) {
      const expected = python(VALID, values);
      VALID.forEach((text, i) => {
        const got = compile(text)({ 'ban.Time': values.time, 'ban.Count': values.count, banFactor: values.factor });
        const want = expected[i] ?? Number.NaN;
        assert.ok(Math.abs(got - want) <= Math.abs(want) * 1e-12, `${text} with ${JSON.stringify(values)}: got ${got}, Python gives ${want}`);
      });
    }
  });

  it('refuses anything else with an InputError naming the formula', () => {
    for (const text of REFUSED) {
      assert.throws(() => compile(text), (error: unknown) => {
        assert.ok(error instanceof InputError, `${text}: ${String(error)}`);
        assert.ok(error.message.startsWith(`bantime.formula "${text}": `), error.message);
        assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
        return true;
      }, text);
    }
  });

  it('refuses names outside the variables it was given', () => {
    assert.throws(() => compileFormula('ban.Time * 2', [], 'bantime.factor'), /bantime.factor "ban.Time \* 2": unknown name "ban.Time"/);
  });

  it('fails at run time where Python raises, with an EvaluationError', () => {
    const values = { 'ban.Time': 600, 'ban.Count': 0, banFactor: 1 };
    for (const text of ['ban.Time / ban.Count', 'ban.Time // ban.Count', 'ban.Time % ban.Count', '1 << 0.5', '1 << -1', 'math.log(ban.Count)', 'math.exp(1000)', '10.0 ** 400']) {
      assert.throws(() => compile(text)(values), EvaluationError, text);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InputError } from '../../src/core/index.js';
import { compilePythonRegex, translatePythonRegex } from '../../src/filter/index.js';
import type { PythonFlags } from '../../src/filter/index.js';

/** What `re.search(pattern, text)` gives: the match, where, and the named groups that took part. */
interface Found {
  readonly match: string;
  readonly at: number;
  readonly groups: Record<string, string>;
}

function search(pattern: string, text: string, flags: PythonFlags = {}): Found | null {
  const translated = translatePythonRegex(pattern, flags);
  const match = new RegExp(translated.source, translated.flags).exec(text);
  if (match === null) return null;
  const groups = compilePythonRegex(pattern, flags).exec(text);
  assert.ok(groups !== undefined, `exec agrees with the RegExp on ${JSON.stringify(text)}`);
  return { match: match[0], at: match.index, groups };
}

/** Each row: pattern, text, and Python 3.11's `re.search` result on it (checked with /usr/bin/python3). */
type Row = readonly [string, string, Found | null];

function check(rows: readonly Row[]): void {
  for (const [pattern, text, expected] of rows) {
    it(`${JSON.stringify(pattern)} on ${JSON.stringify(text)}`, () => {
      assert.deepEqual(search(pattern, text), expected);
    });
  }
}

const hit = (match: string, at = 0, groups: Record<string, string> = {}): Found => ({ match, at, groups });

describe('Python regex syntax in JavaScript', () => {
  describe('named groups and backreferences', () => {
    check([
      ['(?P<n>a+)b', 'xaab', hit('aab', 1, { n: 'aa' })],
      [`(?P<q>["'])x(?P=q)`, `'x'`, hit(`'x'`, 0, { q: `'` })],
      [`(?P<q>["'])x(?P=q)`, `'x"`, null],
      ['(a)(b)\\2', 'abb', hit('abb')],
      ['(?P<a>a)|(?P<b>b)', 'b', hit('b', 0, { b: 'b' })],
    ]);
  });

  describe('inline flags, global and scoped', () => {
    check([
      ['(?i)abc', 'ABC', hit('ABC')],
      ['(?i:ab)c', 'ABc', hit('ABc')],
      ['(?i:ab)c', 'ABC', null],
      ['(?s)a.b', 'a\nb', hit('a\nb')],
      ['(?m)^b$', 'a\nb\nc\n', hit('b', 2)],
      ['(?x) a  b # comment\n c', 'abc', hit('abc')],
      ['(?x) a [ ] b', 'a b', hit('a b')],
      ['(?u)\\w', 'é', hit('é')],
    ]);
    it('emits no JavaScript flag but `u`: flags are spelled out in the pattern', () => {
      assert.equal(translatePythonRegex('(?ims)^a.b$').flags, 'u');
    });
  });

  describe('anchors as Python places them', () => {
    check([
      ['a.b', 'a\nb', null],
      ['a.b', 'a\rb', hit('a\rb')],
      ['^b$', 'a\nb\nc\n', null],
      ['\\Aab\\Z', 'ab', hit('ab')],
      ['\\Aab\\Z', 'ab\n', null],
      ['ab$', 'ab\n', hit('ab')],
      ['ab$', 'ab\n\n', null],
      ['x\\s+$', 'x\n', hit('x\n')],
      ['(?P<v>[^,]*)$', 'abc\n', hit('abc\n', 0, { v: 'abc\n' })],
      ['(?m)a$', 'a\r\n', null],
      ['(?m)^$', '\n', hit('')],
      ['\\bwörd\\b', 'a wörd.', hit('wörd', 2)],
      ['(?a)\\bwörd\\b', 'a wörd.', hit('wörd', 2)],
    ]);
    it('applies the MULTILINE flag fail2ban gives multi-line failregex', () => {
      assert.deepEqual(search('^b$', 'a\nb\nc\n', { multiline: true }), hit('b', 2));
    });
  });

  describe('quantifiers', () => {
    check([
      ['a{,2}b', 'aaab', hit('aab', 1)],
      ['a{,}b', 'aaab', hit('aaab')],
      ['a{2', 'a{2', hit('a{2')],
      ['a{}', 'a{}', hit('a{}')],
      ['x{1,2}?', 'xx', hit('x')],
      ['x*', '', hit('')],
      ['(?>a+)a', 'aaa', null],
      ['a++a', 'aaa', null],
      ['a*+b', 'aab', hit('aab')],
    ]);
  });

  describe('comments, escapes and sets', () => {
    check([
      ['a(?#comment)b', 'ab', hit('ab')],
      ['\\u00e9\\x41\\101\\0', 'éAA\u0000', hit('éAA\u0000')],
      ['\\(\\)\\[\\]\\{\\}\\.\\*\\+\\?\\|\\^\\$\\/\\-\\:\\#', '()[]{}.*+?|^$/-:#', hit('()[]{}.*+?|^$/-:#')],
      ['\\$\\d', '$5', hit('$5')],
      ['[\\b]', '\b', hit('\b')],
      ['[]a]+', 'a]', hit('a]')],
      ['[^]a]', ']b', hit('b', 1)],
      ['[\\d-]+', '1-2', hit('1-2')],
      ['[^\\S\\n]+', ' \t\nx', hit(' \t')],
      ['[\\W\\d]+', 'a-1b', hit('-1', 1)],
      ['[^\\W\\d]+', '1ab2', hit('ab', 1)],
      ['[\\x00-\\x1f]+', '\u0001\u0002', hit('\u0001\u0002')],
      ['a|(?:b)|', 'c', hit('')],
    ]);
  });

  describe('Unicode classes as in Python str patterns', () => {
    check([
      ['\\w+', 'héllo', hit('héllo')],
      ['(?a)\\w+', 'héllo', hit('h')],
      ['\\s', '\u001c', hit('\u001c')],
      ['\\s', '\ufeff', null],
      ['\\d', '٣', hit('٣')],
    ]);

    it('finds in ASCII text told to be ASCII what it finds there otherwise (Unicode classes spelled as ASCII ranges)', () => {
      const patterns = ['\\w+', '\\d+\\b', '[\\D]+', '[^\\W\\d]+', '\\B.', '[\\w.-]*\\w', '[\\\\p{L}]+', '\\\\p\\{L\\}', '(?i)[^\\d]k'];
      const compiled = patterns.map((pattern) => compilePythonRegex(pattern));
      fc.assert(fc.property(fc.array(fc.constantFrom('a', 'K', '5', '_', ' ', '\\', 'p', '{', 'L', '}', '-', '.', '\u001c'), { maxLength: 8 }), (chars) => {
        const text = chars.join('');
        for (const regex of compiled) assert.deepEqual(regex.search(text, true), regex.search(text), `${regex.source} on ${JSON.stringify(text)}`);
      }), { numRuns: 500 });
    });
  });

  describe('case-insensitive matching', () => {
    check([
      ['(?i)k', '\u212a', hit('\u212a')],
      ['(?i:s)', '\u017f', hit('\u017f')],
      ['(?i)[a-z]+', 'İ\u212a', hit('İ\u212a')],
      ['(?i)[^k]', '\u212aK', null],
      ['(?ai)k', '\u212a', null],
      ['(?i)\u00e9', '\u00c9', hit('\u00c9')],
    ]);
  });

  describe('conditionals and backreferences to groups that did not take part', () => {
    check([
      ['(?P<a>x)?(?(a)y|z)', 'xy', hit('xy', 0, { a: 'x' })],
      ['(?P<a>x)?(?(a)y|z)', 'z', hit('z')],
      ['(?P<a>x)?(?(a)y|z)', 'xz', hit('z', 1)],
      ['^(?:(?P<x>a)|(?P<y>b))(?(x)1|2)$', 'b2', hit('b2', 0, { y: 'b' })],
      ['(?(1)a|b)(x)', 'bx', hit('bx')],
      ['(?:(?P<a>x)|y)(?P=a)', 'y', null],
      ['(?:(?P<a>x)|y)(?P=a)', 'xx', hit('xx', 0, { a: 'x' })],
    ]);
  });

  describe('groups inside repetitions and lookarounds', () => {
    check([
      ['(?:(?P<u>a)|b)+', 'ab', hit('ab', 0, { u: 'a' })],
      ['(?:(?P<u>a)|(?P<v>b))*c', 'abac', hit('abac', 0, { u: 'a', v: 'b' })],
      ['(?=(?P<la>\\w+))\\w', 'ab', hit('a', 0, { la: 'ab' })],
      ['(?<=(?P<lb>a))b', 'ab', hit('b', 1, { lb: 'a' })],
      ['(?<!a)b', 'ab cb', hit('b', 4)],
    ]);
  });

  describe('regexes anchored at the start: checked there before the RegExp runs', () => {
    check([
      ['(?i)^abc', 'Abc', hit('Abc')],
      ['^[aA]b|^c', 'cd', hit('c')],
      ['^(?:x?)y', 'y', hit('y')],
      ['^a*b', 'b', hit('b')],
      ['^(?=a)ab', 'ab', hit('ab')],
      ['\\Aab', 'ab', hit('ab')],
      ['(?i)^\u017fx', 'Sx', hit('Sx')],
      ['^\u{1F600}a', '\u{1F600}a', hit('\u{1F600}a')],
      ['^(?:a|)b', 'b', hit('b')],
      ['^a|b', 'cb', hit('b', 1)],
      ['^(?:ab|ac)d', 'acd', hit('acd')],
      ['(?m)^b', 'a\nb', hit('b', 2)],
      ['^(?P<x>Fa)iled (?P<y>\\w+)', 'Failed it', hit('Failed it', 0, { x: 'Fa', y: 'it' })],
    ]);
    it('finds what each must begin with', () => {
      assert.deepEqual(translatePythonRegex('^Failed (?:password|none) for').start, { prefix: 'Failed ', firstUnits: new Set(['F'.charCodeAt(0)]) });
      assert.deepEqual(translatePythonRegex('^(?:ab|ac)d').start, { prefix: 'a', firstUnits: new Set(['a'.charCodeAt(0)]) });
      assert.deepEqual(translatePythonRegex('^[iI]nvalid').start, { prefix: '', firstUnits: new Set(['I', 'i'].map((c) => c.charCodeAt(0))) });
      assert.equal(translatePythonRegex('^a|b').start, undefined);
      assert.equal(translatePythonRegex('^a?').start, undefined);
      assert.equal(translatePythonRegex('(?m)^a').start, undefined);
    });
    it('never refuses a text the RegExp matches', () => {
      const patterns = ['^ab?c', '(?i)^s[a-c]', '^(?:a|b*)c', '^(?=a)a\\w', '^\u{1F600}|^a', '^(?:(?P<q>a)|b)(?(q)c|d)', '^[^a]b', '^.a'];
      const compiled = patterns.map((pattern) => {
        const translated = translatePythonRegex(pattern);
        return { pattern, python: compilePythonRegex(pattern), regex: new RegExp(translated.source, translated.flags) };
      });
      fc.assert(fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'S', 's', '\u017f', '\u{1F600}', '\n', ' '), { maxLength: 6 }), (chars) => {
        const text = chars.join('');
        for (const { pattern, python, regex } of compiled) {
          assert.equal(python.test(text), regex.test(text), `${pattern} on ${JSON.stringify(text)}`);
        }
      }), { numRuns: 2000 });
    });
  });
});

describe('Python regex errors', () => {
  /** Python 3.11 refuses each of these with the message quoted (position included). */
  const refusedByPython: readonly (readonly [string, string])[] = [
    ['a(?i)b', 'global flags not at the start of the expression at position 1'],
    ['(?P<a>a)(?P<a>b)', "redefinition of group name 'a'"],
    ['a**', 'multiple repeat at position 2'],
    ['(?P<1a>x)', "bad character in group name '1a' at position 4"],
    ['\\q', 'bad escape \\q at position 0'],
    ['[z-a]', 'bad character range z-a at position 1'],
    ['[\\d-z]', 'bad character range \\d-z at position 1'],
    ['(?<=ab|c)d', 'look-behind requires fixed-width pattern'],
    ['\\8', 'invalid group reference 8 at position 1'],
    ['\\777', 'octal escape value \\777 outside of range 0-0o377 at position 0'],
    ['(ab', 'missing ), unterminated subpattern at position 0'],
    ['^*', 'nothing to repeat at position 1'],
    ['(?P=zz)', "unknown group name 'zz' at position 4"],
    ['(a\\1)', 'cannot refer to an open group at position 2'],
    ['ab)', 'unbalanced parenthesis at position 2'],
  ];
  for (const [pattern, message] of refusedByPython) {
    it(`refuses ${JSON.stringify(pattern)} as Python does`, () => {
      assert.throws(
        () => translatePythonRegex(pattern),
        (error: unknown) =>
          error instanceof InputError && error.message.includes(message) && error.message.includes(`'${pattern}'`),
      );
    });
  }

  /** Python accepts these; JavaScript has no way to express them, so they fail loudly. */
  const notExpressible: readonly (readonly [string, string])[] = [
    ['\\N{EM DASH}', 'named Unicode escape'],
    ['(?:(?P<a>x)?(?(a)y|z))+', 'set inside a repetition'],
    ['(?i)(?P<a>x)(?P=a)', 'case-insensitive backreference'],
    ['(?:(?:(?P<a>x)y)+z)+', 'named group inside nested repetitions'],
  ];
  for (const [pattern, construct] of notExpressible) {
    it(`names the construct it cannot express in ${JSON.stringify(pattern)}`, () => {
      assert.throws(
        () => translatePythonRegex(pattern),
        (error: unknown) =>
          error instanceof InputError && error.message.includes(construct) && error.message.includes(`'${pattern}'`),
      );
    });
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIni, sourceLines, type IniFile } from '../../src/config/index.js';
import { InputError } from '../../src/core/index.js';

function values(ini: IniFile, section: string): Record<string, string> {
  const options = section === 'DEFAULT' ? ini.defaults : ini.sections.find((s) => s.name === section)?.options;
  assert.ok(options !== undefined, `section [${section}] is missing`);
  return Object.fromEntries([...options].map(([k, o]) => [k, o.value.text]));
}

// Every expectation here was checked against fail2ban's own parser (SafeConfigParserWithIncludes).
const DIALECT = `# full comment
; another
[Definition]
Key1 = value ; inline comment
key2: a;b # not a comment
key3 =
   first
\tsecond

   third
    # comment in the middle
   ; and another
   fourth
  [looks-like-section]

key4 = trailing blank lines follow


[definition]
key1 = other section, other case
[DEFAULT]
d = 1
[Init?family=inet6]
x = 6
empty =
semi=;x
`;

describe('fail2ban INI dialect: one file', () => {
  const ini = parseIni(DIALECT, '/cfg/dialect.conf');

  it('reads key = value and key: value, lower-cases keys, strips " ;" comments but keeps "#" and ";" inside words', () => {
    const definition = values(ini, 'Definition');
    assert.equal(definition.key1, 'value');
    assert.equal(definition.key2, 'a;b # not a comment');
    assert.equal(values(ini, 'Init?family=inet6').semi, ';x');
    assert.equal(values(ini, 'Init?family=inet6').empty, '');
  });

  it('continues a value on deeper-indented lines, keeping inner blank lines and dropping comment lines', () => {
    assert.equal(values(ini, 'Definition').key3, '\nfirst\nsecond\n\nthird\nfourth\n[looks-like-section]');
    assert.equal(values(ini, 'Definition').key4, 'trailing blank lines follow');
  });

  it('keeps section names case-sensitive and [DEFAULT] apart', () => {
    assert.deepEqual(ini.sections.map((s) => s.name), ['Definition', 'definition', 'Init?family=inet6']);
    assert.equal(values(ini, 'definition').key1, 'other section, other case');
    assert.deepEqual(values(ini, 'DEFAULT'), { d: '1' });
  });

  it('knows the file line of every line of a continued value', () => {
    const key3 = ini.sections[0]?.options.get('key3');
    assert.ok(key3 !== undefined, 'key3 is missing');
    assert.equal(key3.line, 6);
    assert.deepEqual(sourceLines(key3.value).map((l) => [l.line, l.text]), [
      [6, ''], [7, 'first'], [8, 'second'], [9, ''], [10, 'third'], [13, 'fourth'], [14, '[looks-like-section]'],
    ]);
  });

  it('joins [DEFAULT] blocks and accepts CRLF line ends', () => {
    const crlf = parseIni('[DEFAULT]\r\nk = 1\r\n[DEFAULT]\r\nj = 2\r\n  more\r\n', 'x.conf');
    assert.deepEqual(values(crlf, 'DEFAULT'), { k: '1', j: '2\nmore' });
  });

  for (const [text, expected] of [
    ['key = 1\n[a]\n', /^\/cfg\/bad\.conf:1: expected a \[section\] before this line: key = 1$/],
    ['[a]\njust text\n', /^\/cfg\/bad\.conf:2: expected "key = value": just text$/],
    ['[a]\n = 1\n', /^\/cfg\/bad\.conf:2: missing key before "=" or ":": = 1$/],
    ['[a]\nk = 1\n[a]\n', /^\/cfg\/bad\.conf:3: section \[a\] appears twice in this file: \[a\]$/],
    ['[a]\nk = 1\nK = 2\n', /^\/cfg\/bad\.conf:3: key "k" appears twice in \[a\]: K = 2$/],
    ['[DEFAULT]\nk = 1\n[DEFAULT]\nk = 2\n', /^\/cfg\/bad\.conf:4: key "k" appears twice in \[DEFAULT\]: k = 2$/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} naming file:line and the text`, () => {
      assert.throws(() => parseIni(text, '/cfg/bad.conf'), (e: unknown) => e instanceof InputError && expected.test(e.message));
    });
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptionSpec, parseOptionSpecList } from '../../src/config/index.js';
import { InputError } from '../../src/core/index.js';

const at = (offset: number): string => `jail.local:${7 + offset}`;

// Expectations checked against fail2ban's extractOptions / splitWithOptions.
describe('option lists: name[k=v, ...]', () => {
  for (const [text, name, options] of [
    ['sshd', 'sshd', {}],
    ['sshd[mode=aggressive]', 'sshd', { mode: 'aggressive' }],
    ['sshd[mode=aggressive, logtype=journal]', 'sshd', { mode: 'aggressive', logtype: 'journal' }],
    [`x[a="1,2", b='c]d', c=  spaced out ]`, 'x', { a: '1,2', b: 'c]d', c: 'spaced out' }],
    ['x[a=1][b=2]', 'x', { a: '1', b: '2' }],
    ['x[a=1,]', 'x', { a: '1' }],
    ['x[]', 'x', {}],
    ['x[a="unclosed]', 'x', { a: '"unclosed' }],
    ['iptables[name=SSH, port="ssh,2222",\n    protocol=tcp]', 'iptables', { name: 'SSH', port: 'ssh,2222', protocol: 'tcp' }],
  ] as const) {
    it(`reads ${JSON.stringify(text)}`, () => {
      assert.deepEqual(parseOptionSpec(text, at), { name, options });
    });
  }

  for (const [text, expected] of [
    ['x[a=1', /^jail\.local:\d+: missing "\]": x\[a=1$/],
    ['x[a=1]tail', /^jail\.local:\d+: unexpected text after "\]": tail$/],
    ['x[a="q" , b=2]', /^jail\.local:\d+: expected "," or "\]" after the value of "a": , b=2\]$/],
    ['x[=1]', /^jail\.local:\d+: expected name=value: =1\]$/],
    ['x[a=1,,b=2]', /^jail\.local:\d+: expected name=value: ,b=2\]$/],
    ['x[c = 1]', /^jail\.local:\d+: expected "=" after "c": = 1\]$/],
    ['[a=1]', /^jail\.local:\d+: expected a name: \[a=1\]$/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} on one line with where and what`, () => {
      assert.throws(() => parseOptionSpec(text, at), (e: unknown) => e instanceof InputError && expected.test(e.message));
    });
  }
});

describe('option lists: several specs (action = ...)', () => {
  it('splits at whitespace and new lines, keeping a [...] that spans lines and quoted commas', () => {
    const text = 'iptables-multiport[name=SSH, port="ssh,2222", protocol=tcp]\n  ' +
      'sendmail-whois[name=SSH, dest=root, sender="fail2ban@example.com"]\n hostsdeny  abuseipdb[abuseipdb_apikey="k",\n' +
      '    abuseipdb_category="18,22"]';
    assert.deepEqual(parseOptionSpecList(text, at), [
      { name: 'iptables-multiport', options: { name: 'SSH', port: 'ssh,2222', protocol: 'tcp' } },
      { name: 'sendmail-whois', options: { name: 'SSH', dest: 'root', sender: 'fail2ban@example.com' } },
      { name: 'hostsdeny', options: {} },
      { name: 'abuseipdb', options: { abuseipdb_apikey: 'k', abuseipdb_category: '18,22' } },
    ]);
  });

  it('names the line of the bad spec', () => {
    const text = 'good[a=1]\nbad[a=1]x';
    assert.throws(() => parseOptionSpecList(text, (offset) => `jail.local:${text.slice(0, offset).split('\n').length}`),
      (e: unknown) => e instanceof InputError && e.message === 'jail.local:2: expected a space or a new line after "]": x');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddressList } from '../../src/core/index.js';

describe('plain ban lists', () => {
  it('reads addresses and networks, skips comments and blank lines, reports bad lines by number', () => {
    const text = [
      '# ip.deny kept by hand',
      '203.0.113.7',
      '',
      '  198.51.100.0/24   # a whole scanner network',
      'not-an-address',
      '2001:DB8::66',
      '1.2.3',
      '\t',
      '203.0.113.8 # trailing comment',
    ].join('\n');
    const { entries, problems } = parseAddressList(text);
    assert.deepEqual(entries.map((e) => [e.lineno, e.address.text]), [
      [2, '203.0.113.7'], [4, '198.51.100.0/24'], [6, '2001:db8::66'], [9, '203.0.113.8'],
    ]);
    assert.deepEqual(problems, [{ lineno: 5, text: 'not-an-address' }, { lineno: 7, text: '1.2.3' }]);
  });

  it('handles Windows line endings', () => {
    assert.deepEqual(parseAddressList('203.0.113.7\r\n198.51.100.1\r\n').entries.map((e) => e.address.text), ['203.0.113.7', '198.51.100.1']);
  });
});

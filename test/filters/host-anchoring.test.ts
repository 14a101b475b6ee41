/**
 * The guard that shipped-filters.test.ts runs on every shipped expression: it must flag the
 * shapes that let a client's text supply the address, and pass those that pin it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandFailTags } from '../../src/filter/index.js';
import { checkHostAnchoring } from './host-anchoring.js';

const runsOf = (regex: string): string[] => checkHostAnchoring(expandFailTags(regex)).problems.map((p) => p.run);

describe('host anchoring guard', () => {
  it('flags a free run before the address when nothing pins what follows', () => {
    assert.deepEqual(runsOf('^Invalid user .* from <ADDR>'), ['.*']);
    assert.deepEqual(runsOf('^Invalid user .*? from <HOST> port \\d+'), ['.*?']);
    assert.deepEqual(runsOf('^Invalid user \\S+ from <ADDR>'), ['\\S+']);
    assert.deepEqual(runsOf('^warning: [\\w.-]+\\[<ADDR>\\]: SASL'), ['[\\--.\\w]+']);
    assert.deepEqual(runsOf('^user=<(.*)>, rip=<ADDR>, lip='), ['.*']);
  });

  it('flags a run before the address when a run after it can take any text', () => {
    assert.deepEqual(runsOf('^x (.*) from <ADDR> port .*$'), ['.*']);
    assert.deepEqual(runsOf('^Failed \\S+ for (.*) from <ADDR> port \\d+ ssh2(?:: [^,]+)?$'), ['\\S+', '.*']);
  });

  it('flags the address inside a repetition', () => {
    const verdict = checkHostAnchoring(expandFailTags('^(?:\\w+ from <ADDR> )+$'));
    assert.deepEqual(verdict.problems.map((p) => p.because), ['the address sits inside a repetition']);
  });

  it('passes fixed text before the address, whatever follows', () => {
    assert.deepEqual(runsOf('^ROOT LOGIN REFUSED FROM <ADDR>'), []);
    assert.deepEqual(runsOf('^Received disconnect from <ADDR> port \\d+:11: .*'), []);
    assert.deepEqual(runsOf('^drop connection #\\d+ from \\[<ADDR>\\]:\\d+ on'), []);
  });

  it('passes a run before the address when fixed text pins it to the end of the line', () => {
    assert.deepEqual(runsOf('^Invalid user (.*) from <ADDR> port \\d+$'), []);
    assert.deepEqual(runsOf('^Invalid user (.*) from <ADDR>(?: port \\d+)?\\]?\\s*$'), []);
    assert.deepEqual(runsOf('^x (.*) from <ADDR> port \\d+ ssh2(?:: [A-Z]+ SHA256:\\S+)?$'), []);
    assert.deepEqual(runsOf('^(?:a (.*) <ADDR> b$|c)'), []);
  });

  it('leaves runs of whitespace and of digits alone', () => {
    assert.deepEqual(runsOf('^\\s*\\[\\d+\\]\\s+from <ADDR>'), []);
  });

  it('does not pin with an alternative that stops short of the end', () => {
    assert.deepEqual(runsOf('^for (\\S+) from <ADDR> port \\d+(?:: |$)'), ['\\S+']);
  });

  it('reads an allowance and its reason', () => {
    const verdict = checkHostAnchoring(expandFailTags('^for (?#guard: account names of this host have no spaces)(\\S+) from <ADDR>'));
    assert.equal(verdict.allowance, 'account names of this host have no spaces');
    assert.equal(checkHostAnchoring(expandFailTags('^for (?#guard: short)(\\S+) from <ADDR>')).allowance, undefined, 'a reason is a sentence');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffEntries } from '../../src/reconcile/diff.js';

const e = (jail: string, address: string, expiresAt: number | null = null) =>
  ({ jail, address, family: address.includes(':') ? 6 as const : 4 as const, expiresAt });

describe('diffEntries', () => {
  it('adds what is missing, removes what is extra, counts what matches', () => {
    const { diff, unchanged } = diffEntries(
      [e('sshd', '203.0.113.1'), e('sshd', '203.0.113.2'), e('recidive', '203.0.113.1')],
      [e('sshd', '203.0.113.1'), e('sshd', '2001:db8::9'), e('postfix', '203.0.113.2')],
    );
    assert.equal(unchanged, 1);
    assert.deepEqual(diff.add.map((x) => `${x.jail} ${x.address}`), ['sshd 203.0.113.2', 'recidive 203.0.113.1']);
    assert.deepEqual(diff.remove.map((x) => `${x.jail} ${x.address}`), ['sshd 2001:db8::9', 'postfix 203.0.113.2']);
  });

  it('finds nothing to do when equal', () => {
    const same = [e('sshd', '203.0.113.1'), e('sshd', '198.51.100.0/24')];
    assert.deepEqual(diffEntries(same, same), { diff: { add: [], remove: [] }, unchanged: 2 });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntryTally } from '../../src/reconcile/entry-tally.js';

const entry = (address: string, jail: string): { address: string; jail: string; family: 4 | 6 } => ({ address, jail, family: address.includes(':') ? 6 : 4 });

describe('the firewall entries tally (metrics)', () => {
  it('a full reconcile sets a backend\'s counts per jail; changes applied since move them', () => {
    const tally = new EntryTally();
    tally.reconciled('nftables', [entry('203.0.113.1', 'sshd'), entry('203.0.113.2', 'sshd'), entry('198.51.100.0/24', 'manual')]);
    tally.changed('nftables', [], [entry('203.0.113.3', 'sshd')]);
    tally.changed('nftables', [entry('198.51.100.0/24', 'manual')], []);
    assert.deepEqual(tally.all(), [{ backend: 'nftables', jail: 'sshd', count: 3 }, { backend: 'nftables', jail: 'manual', count: 0 }]);
  });

  it('a backend whose reconcile failed is left out until one succeeds: its entries are unknown', () => {
    const tally = new EntryTally();
    tally.reconciled('ipset', [entry('203.0.113.1', 'sshd')]);
    tally.reconciled('ipset', undefined);
    tally.changed('ipset', [], [entry('203.0.113.2', 'sshd')]);
    assert.deepEqual(tally.all(), []);
    tally.reconciled('ipset', [entry('203.0.113.2', 'sshd')]);
    assert.deepEqual(tally.all(), [{ backend: 'ipset', jail: 'sshd', count: 1 }]);
  });
});

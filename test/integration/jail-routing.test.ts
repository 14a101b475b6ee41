import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forJails, routeJails } from '../../src/backends/index.js';
import { createIpsetBackend } from '../../src/backends/ipset.js';
import { createNftablesBackend } from '../../src/backends/nftables.js';
import { nowSeconds } from '../../src/core/index.js';
import { reconcile } from '../../src/reconcile/index.js';
import { checkStructure } from '../../src/reconcile/drift.js';
import { banOf, entry, inNetns, keys } from '../helpers/backend.js';

describe('jails routed to the firewall their banaction names', () => {
  it('routeJails: the configured backends hold every jail without one of its own', () => {
    const routes = routeJails(['nftables'], [{ name: 'sshd', backends: [] }, { name: 'web', backends: ['ipset'] }]);
    assert.deepEqual([...routes.keys()].sort(), ['ipset', 'nftables']);
    const holds = (backend: string, jail: string): boolean => routes.get(backend)!(jail);
    assert.deepEqual([holds('nftables', 'sshd'), holds('nftables', 'manual'), holds('nftables', 'web')], [true, true, false]);
    assert.deepEqual([holds('ipset', 'sshd'), holds('ipset', 'web')], [false, true]);
    assert.deepEqual([...routeJails(['none'], []).keys()], []);
  });

  it('a routed nftables holds only its jails, and leaves what other jails put there alone', inNetns(createNftablesBackend, async (ns, nft) => {
    const now = nowSeconds();
    const desired = [entry('sshd', '203.0.113.70'), entry('web', '203.0.113.71'), entry('manual', '2001:db8::70')];
    const all = await reconcile(desired.map((e) => ({
      address: e.address, jail: e.jail, bannedAt: now, expiresAt: null, source: 'manual' as const, reason: null, failures: 0, banCount: 1, liftedAt: null, liftedBy: null, forced: false,
    })), [forJails(nft, (jail) => jail !== 'web')], now);
    assert.deepEqual([all[0]?.added, all[0]?.error], [2, null]);
    assert.deepEqual(keys(await nft.list()), ['manual 2001:db8::70', 'sshd 203.0.113.70']);
    ns.run(['nft', 'add', 'set', 'inet', 'f2b-store', 'addr4-web', '{ type ipv4_addr; flags timeout; }']);
    ns.run(['nft', 'add', 'element', 'inet', 'f2b-store', 'addr4-web', '{ 203.0.113.72 }']);
    const again = await reconcile([], [forJails(nft, (jail) => jail !== 'web')], now);
    assert.deepEqual([again[0]?.removed, again[0]?.error], [2, null]);
    assert.deepEqual(keys(await nft.list()), ['web 203.0.113.72'], 'the other jail\'s entry is not its to remove');
  }));

  it('the drift tick\'s structural check of a routed ipset looks at its own jails\' sets only', inNetns(createIpsetBackend, async (ns, inner) => {
    const now = nowSeconds();
    const ipset = forJails(inner, (jail) => jail !== 'web');
    const jails = [{ name: 'sshd', blocktype: 'reject' as const }, { name: 'web', blocktype: 'reject' as const }];
    await reconcile([banOf(entry('sshd', '203.0.113.70'), now), banOf(entry('web', '203.0.113.71'), now)], [ipset], now, { jails: ['sshd', 'web'] });
    assert.doesNotMatch(ns.run(['ipset', 'list', '-n']), /f2bs4-web/, 'no set for the jail held elsewhere');
    assert.equal(await checkStructure(ipset, jails, now, () => undefined), undefined);
    ns.run(['iptables', '-F', 'INPUT']);
    assert.equal(await checkStructure(ipset, jails, now, () => undefined), 'no rule matches ipset f2bs4-sshd');
  }));
});

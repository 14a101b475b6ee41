import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Ban, BanRequest } from '../../src/core/index.js';
import { banBatchChange, beginBanBatch } from '../../src/reconcile/index.js';
import { storePerTest } from '../helpers/store.js';

const T0 = 1_800_000_000;
const HOUR = 3600;

function request(address: string, jail = 'sshd', expiresAt: number | null = T0 + HOUR): BanRequest {
  return { address, jail, expiresAt, source: 'manual' };
}

const keys = (bans: readonly Ban[]): string[] => bans.map((ban) => `${ban.jail} ${ban.address}`).sort();

describe('a batch of bans, before and after', () => {
  const store = storePerTest();

  it('leaves out the bans already in force in their jail, and keeps what blocked each address before', () => {
    store().ban(request('203.0.113.7', 'sshd'), T0);
    store().ban(request('198.51.100.0/24', 'recidive'), T0);
    const batch = beginBanBatch(store(), [request('203.0.113.7', 'sshd'), request('203.0.113.7', 'nginx'), request('198.51.100.9')], T0);
    assert.deepEqual(batch.fresh.map((d) => `${d.jail} ${d.address}`), ['nginx 203.0.113.7', 'sshd 198.51.100.9']);
    assert.deepEqual(keys(batch.inForce), ['sshd 203.0.113.7']);
    assert.deepEqual(keys(batch.before.get('203.0.113.7') ?? []), ['sshd 203.0.113.7']);
    assert.deepEqual(keys(batch.before.get('198.51.100.9') ?? []), ['recidive 198.51.100.0/24']);
  });

  it('gives applyChange what blocked the fresh bans\' addresses before and what blocks them once written', () => {
    store().ban(request('203.0.113.7', 'sshd'), T0);
    store().ban(request('203.0.113.8', 'sshd'), T0);
    store().ban(request('198.51.100.0/24', 'recidive'), T0);
    const batch = beginBanBatch(store(), [request('203.0.113.7', 'nginx'), request('203.0.113.8', 'sshd'), request('198.51.100.9')], T0);
    const written = batch.fresh.map((decision) => store().ban(decision, T0).ban);
    const { before, after } = banBatchChange(batch, written);
    // 203.0.113.8 was banned in its jail already: not part of the change.
    assert.deepEqual(keys(before), ['recidive 198.51.100.0/24', 'sshd 203.0.113.7']);
    assert.deepEqual(keys(after), ['nginx 203.0.113.7', 'recidive 198.51.100.0/24', 'sshd 198.51.100.9', 'sshd 203.0.113.7']);
  });

  it('counts a written network as blocking the other addresses of the batch it holds', () => {
    const batch = beginBanBatch(store(), [request('198.51.100.0/24', 'recidive'), request('198.51.100.9')], T0);
    const written = batch.fresh.map((decision) => store().ban(decision, T0).ban);
    const { before, after } = banBatchChange(batch, written);
    assert.deepEqual(before, []);
    assert.deepEqual(keys(after), ['recidive 198.51.100.0/24', 'recidive 198.51.100.0/24', 'sshd 198.51.100.9']);
  });

  it('tells what blocks the addresses once written as the store does, networks per ipv6prefix among them', () => {
    store().ban(request('2001:db8::/32', 'manual'), T0);
    store().ban(request('2001:db8:2::/64', 'recidive'), T0);
    const addresses = ['2001:db8:1::/64', '2001:db8:1::5', '2001:db8:1::/80', '2001:db8:2::7', '203.0.113.9'];
    const batch = beginBanBatch(store(), addresses.map((address) => request(address)), T0);
    const written = batch.fresh.map((decision) => store().ban(decision, T0).ban);
    const { after } = banBatchChange(batch, written);
    assert.deepEqual(keys(after), keys([...store().activeTouchingAll(addresses, T0).values()].flat()));
    assert.equal(after.filter((ban) => ban.address === '2001:db8:1::/64').length, 3, 'the /64 blocks itself, the address and the /80 inside it');
  });

  it('reads what the store slice it is given holds: the daemon adds bans held until the store takes them', () => {
    const held: Ban = { ...store().ban(request('203.0.113.7', 'sshd'), T0).ban, jail: 'held' };
    const view = {
      activeTouchingAll: (addresses: readonly string[], now: number): Map<string, Ban[]> => new Map(
        [...store().activeTouchingAll(addresses, now)].map(([address, bans]) => [address, address === held.address ? [...bans, held] : bans])),
    };
    const batch = beginBanBatch(view, [request('203.0.113.7', 'held'), request('203.0.113.7', 'nginx')], T0);
    assert.deepEqual(batch.fresh.map((d) => d.jail), ['nginx']);
    assert.deepEqual(keys(batch.inForce), ['held 203.0.113.7']);
  });

  it('is empty for an empty batch', () => {
    const batch = beginBanBatch(store(), [], T0);
    assert.deepEqual(batch, { fresh: [], inForce: [], before: new Map() });
    assert.deepEqual(banBatchChange(batch, []), { before: [], after: [] });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BannedView } from '../../src/daemon/banned-view.js';

const NOW = 1_800_000_000;

describe('BannedView: says "banned" only where the store said so', () => {
  it('knows a noted ban until it expires, in its jail only; a permanent one stays', () => {
    const view = new BannedView();
    view.sync(1, NOW);
    view.note({ jail: 'sshd', address: '203.0.113.5', expiresAt: NOW + 600 }, NOW);
    view.note({ jail: 'sshd', address: '203.0.113.6', expiresAt: null }, NOW);
    assert.equal(view.has('sshd', '203.0.113.5', NOW + 599), true);
    assert.equal(view.has('sshd', '203.0.113.5', NOW + 600), false, 'expired');
    assert.equal(view.has('recidive', '203.0.113.5', NOW), false, 'another jail');
    assert.equal(view.has('sshd', '203.0.113.6', NOW + 10 ** 9), true, 'permanent');
  });

  it('keeps the later expiry, and ignores a ban expired already', () => {
    const view = new BannedView();
    view.sync(1, NOW);
    view.note({ jail: 'sshd', address: '203.0.113.5', expiresAt: NOW + 600 }, NOW);
    view.note({ jail: 'sshd', address: '203.0.113.5', expiresAt: NOW + 60 }, NOW);
    assert.equal(view.has('sshd', '203.0.113.5', NOW + 300), true);
    view.note({ jail: 'sshd', address: '203.0.113.7', expiresAt: NOW }, NOW);
    assert.equal(view.has('sshd', '203.0.113.7', NOW - 1), false);
  });

  it('forgets an address unbanned by hand, and everything when another process committed or the version is unknown', () => {
    const view = new BannedView();
    view.sync(1, NOW);
    for (const address of ['203.0.113.5', '203.0.113.6']) view.note({ jail: 'sshd', address, expiresAt: null }, NOW);
    view.forget('203.0.113.5');
    assert.equal(view.has('sshd', '203.0.113.5', NOW), false);
    view.sync(1, NOW);
    assert.equal(view.has('sshd', '203.0.113.6', NOW), true, 'the same data version keeps it');
    view.sync(2, NOW);
    assert.equal(view.has('sshd', '203.0.113.6', NOW), false, 'a new data version empties it');
    view.note({ jail: 'sshd', address: '203.0.113.6', expiresAt: null }, NOW);
    view.sync(undefined, NOW);
    assert.equal(view.has('sshd', '203.0.113.6', NOW), false, 'an unreadable version empties it');
  });
});

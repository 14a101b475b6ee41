import assert from 'node:assert/strict';
import type { BanSource } from '../../src/core/index.js';
import type { BanStore } from '../../src/store/index.js';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 24 * HOUR;

/** A ban made `ago` seconds before now. */
export interface SeedBan {
  readonly address: string;
  readonly jail: string;
  readonly source: BanSource;
  readonly ago: number;
}

/**
 * Bans for the stats tests: every age well inside the default 30 days and the last 24 hours, or
 * (40 days) well outside them, so the numbers hold whenever the test runs.
 */
export const SEED_BANS: readonly SeedBan[] = [
  // 203.0.113.7: four bans in the period, in two jails; and one long before it.
  { address: '203.0.113.7', jail: 'sshd', source: 'filter', ago: 5 * MINUTE },
  { address: '203.0.113.7', jail: 'sshd', source: 'filter', ago: 2 * HOUR },
  { address: '203.0.113.7', jail: 'sshd', source: 'filter', ago: 3 * DAY },
  { address: '203.0.113.7', jail: 'recidive', source: 'filter', ago: 3 * DAY - HOUR },
  { address: '203.0.113.7', jail: 'sshd', source: 'filter', ago: 40 * DAY },
  // The rest of 203.0.113.0/24.
  { address: '203.0.113.8', jail: 'sshd', source: 'filter', ago: 2 * HOUR + MINUTE },
  { address: '203.0.113.200', jail: 'postfix', source: 'import', ago: 10 * DAY },
  // 2001:db8:1::/48, written two ways by RFC 5952.
  { address: '2001:db8:1::5', jail: 'sshd', source: 'filter', ago: 90 * MINUTE },
  { address: '2001:db8:1:ff::1', jail: 'sshd', source: 'filter', ago: 20 * DAY },
  { address: '2001:db8:1:ff::1', jail: 'sshd', source: 'fail2ban', ago: 21 * DAY },
  // 2001:db8::/48 (its third group is zero) beside it.
  { address: '2001:db8::66', jail: 'sshd', source: 'manual', ago: 28 * DAY },
  // Networks: a /28 inside 198.51.100.0/24, and a /16, wider than a /24, which counts as itself.
  { address: '198.51.100.16/28', jail: 'manual', source: 'manual', ago: 6 * HOUR },
  { address: '10.1.0.0/16', jail: 'manual', source: 'fleet', ago: 26 * HOUR },
];

/** The networks `stats` makes of SEED_BANS over the default 30 days, most banned first (ties by key: IPv4 before IPv6). */
export const SEED_NETWORKS = [
  { network: '203.0.113.0/24', bans: 6, addresses: 3 },
  { network: '2001:db8:1::/48', bans: 3, addresses: 2 },
  { network: '10.1.0.0/16', bans: 1, addresses: 1 },
  { network: '198.51.100.0/24', bans: 1, addresses: 1 },
  { network: '2001:db8::/48', bans: 1, addresses: 1 },
] as const;

/** Records each seed as one ban row, oldest first: bans of ten minutes, so a later ban of the same address and jail is a new row. */
export function seedBans(store: BanStore, now: number, seeds: readonly SeedBan[] = SEED_BANS): void {
  for (const s of [...seeds].sort((a, b) => b.ago - a.ago)) {
    const at = now - s.ago;
    const { change } = store.ban({ address: s.address, jail: s.jail, expiresAt: at + 600, source: s.source, ...(s.source === 'fleet' ? { origin: 'web2' } : {}) }, at);
    assert.equal(change, 'new', `${s.address} in ${s.jail}, ${s.ago} s ago`);
  }
}

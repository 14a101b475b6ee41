import type { BanRequest } from '../src/core/index.js';

const HOUR = 3600;
const NETWORK_EVERY = 2000;
const IPV6_EVERY = 10;

/** addressAt() yields distinct addresses for indexes below this. */
export const MAX_BANS = 2_000_000;

/**
 * The i-th address, canonical and distinct: IPv4 scattered over the 64 /16s of 100.64.0.0/10,
 * every 10th an IPv6 address in 2001:db8::/32, every 2,000th a network (198.18.0.0/15 /24s or
 * 2001:db8:ffff::/48 /64s), none of which contains another stored address.
 */
export function addressAt(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_BANS) throw new RangeError(`address index ${i} out of range`);
  if (i % NETWORK_EVERY === NETWORK_EVERY - 1) {
    const k = Math.floor(i / NETWORK_EVERY);
    const h = k >> 1;
    return k % 2 === 0 ? `198.${18 + (h >> 8)}.${h & 255}.0/24` : `2001:db8:ffff:${(h + 1).toString(16)}::/64`;
  }
  if (i % IPV6_EVERY === 0) return `2001:db8:${(1 + (i >>> 12)).toString(16)}:${(1 + (i & 0xfff)).toString(16)}::1`;
  const p = (Math.imul(i, 0x9e3779b1) >>> 0) & 0x3fffff;
  return `100.${64 + (p >>> 16)}.${(p >>> 8) & 255}.${p & 255}`;
}

export const WORKLOAD = 'IPv4 in 100.64.0.0/10 (~90%), IPv6 in 2001:db8::/32 (~10%), every 2,000th ban a permanent '
  + 'manual /24 or /64 network; jails sshd 70%, postfix-sasl 25%, recidive 5% (half of them permanent); timed bans 1 h to 7 d; '
  + 'sshd bans carry one matched log line';

/** Mostly timed sshd and postfix-sasl bans, permanent recidive bans now and then, manual network bans. */
export function requestAt(i: number, now: number): BanRequest {
  const address = addressAt(i);
  if (address.includes('/')) return { address, jail: 'manual', expiresAt: null, source: 'manual', reason: 'abusive network' };
  const slot = i % 20;
  const jail = slot < 14 ? 'sshd' : slot < 19 ? 'postfix-sasl' : 'recidive';
  const permanent = jail === 'recidive' && i % 40 === 39;
  return {
    address,
    jail,
    expiresAt: permanent ? null : now + HOUR * (1 + (i % 168)),
    source: 'filter',
    failures: 3 + (i % 5),
    matches: jail === 'sshd' ? [`Failed password for invalid user admin from ${address} port 22 ssh2`] : [],
  };
}

export function* banRequests(count: number, now: number): Generator<BanRequest> {
  for (let i = 0; i < count; i++) yield requestAt(i, now);
}

/** A reproducible pseudo-random sequence (mulberry32) of numbers in [0, 1). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A reproducible pseudo-random sequence of indexes below `limit`. */
export function randomIndexes(seed: number, limit: number): () => number {
  const next = random(seed);
  return () => Math.floor(next() * limit);
}

/**
 * `ipv6prefix = 64`: the real daemon counts the failures of an IPv6 /64 together, so addresses
 * that each fail once, too few alone, get their /64 banned, read back from real nftables in a
 * namespace; a /64 holding an ignored address gets only the address that completed the count.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { sshdDaemon, sshdFailure, type SshdDaemon } from '../helpers/sshd-daemon.js';

const MAXRETRY = 20;

describe('the daemon counts and bans an IPv6 /64 (ipv6prefix = 64)', () => {
  let s: SshdDaemon;
  /** The elements of sshd's nftables sets, each set read back with `nft list set`. */
  const sshdElements = (): string => [...s.table().matchAll(/^\s*set (\S*sshd\S*) \{/gm)]
    .map(([, name = '']) => s.ns.run(['nft', 'list', 'set', 'inet', 'f2b-store', name])).join('\n');
  /** One failure for each of `count` addresses of `prefix` (`2001:db8:1:2:`), in one write. */
  const failEach = (prefix: string, from: number, count: number): void => {
    appendFileSync(s.authLog, Array.from({ length: count }, (_, i) => sshdFailure(`${prefix}:${(from + i).toString(16)}`)).join(''));
  };

  before(async () => {
    s = sshdDaemon(`maxretry = ${MAXRETRY}\nipv6prefix = 64\nignoreip = 127.0.0.1/8 ::1 2001:db8:9:9::5\n`);
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('20 addresses of one /64 failing once each: the /64 is banned, in nftables', async () => {
    failEach('2001:db8:1:2:', 1, MAXRETRY - 1);
    failEach('2001:db8:1:3:', 1, 1);
    await waitFor('the first 20 failures counted', async () => (await s.counts()).totalFailed === MAXRETRY, 20_000);
    assert.deepEqual(s.list(), [], `${MAXRETRY - 1} failures of the /64 ban nothing`);
    failEach('2001:db8:1:2:', MAXRETRY, 1);
    await waitFor('the /64 banned', () => s.list().length === 1, 20_000);
    const [ban] = s.list();
    assert.equal(ban!.address, '2001:db8:1:2::/64');
    assert.equal(ban!.failures, MAXRETRY);
    await waitFor('the /64 in sshd\'s nftables set', () => /[{\s,]2001:db8:1:2::\/64[\s,}]/.test(sshdElements()), 10_000);
    assert.doesNotMatch(sshdElements(), /2001:db8:1:3:/, 'the address of another /64 is not banned');
  });

  it('a /64 holding an ignored address: the address completing the count alone, and the log says why', async () => {
    failEach('2001:db8:9:9:', 0x10, MAXRETRY);
    await waitFor('the address banned', () => s.activeBans('2001:db8:9:9::23').length === 1, 20_000);
    assert.equal(s.list().some((b) => b.address === '2001:db8:9:9::/64'), false);
    await waitFor('the address in sshd\'s nftables set', () => /[{\s,]2001:db8:9:9::23[\s,}]/.test(sshdElements()), 10_000);
    const why = /NOTICE \[sshd\] banning 2001:db8:9:9::23 alone, not 2001:db8:9:9::\/64: ignoreip 2001:db8:9:9::5$/m;
    await waitFor('the log line saying why', () => why.test(s.daemon!.log()), 10_000);
  });
});

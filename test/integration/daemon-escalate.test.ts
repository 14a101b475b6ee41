/**
 * Escalation through the real daemon: five banned addresses of one /24 in the sshd jail (decided
 * from the log, or made by the CLI in another process) ban the /24 in real nftables in a namespace;
 * `unban` of the /24 lifts it and leaves its addresses banned; a /24 holding an address of this
 * host is never banned.
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { sshdDaemon, type BanJson, type SshdDaemon } from '../helpers/sshd-daemon.js';

const NETWORK = '198.51.100.0/24';

describe('the daemon escalates to a network (escalate = 5/24 in 1h)', () => {
  let s: SshdDaemon;
  const ok = (...rest: string[]): void => {
    const result = s.cli(...rest);
    assert.equal(result.code, 0, result.stderr);
  };
  const sshdBans = (address: string): BanJson[] => s.activeBans(address).filter((ban) => ban.jail === 'sshd');

  before(async () => {
    s = sshdDaemon('escalate = 5/24 in 1h\n');
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('five banned addresses of a /24 ban the /24 in nftables for the longest bantime; unban of the /24 lifts it', async () => {
    const members = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'];
    for (const address of members.slice(0, 3)) {
      s.fail(address, 3);
      await waitFor(`sshd's ban of ${address}`, () => sshdBans(address).length === 1, 20_000);
    }
    ok('ban', members[3]!, '--jail', 'sshd', '--for', '2h');
    await waitFor(`${members[3]} in nftables`, () => s.inTable(members[3]!), 10_000);
    assert.equal(sshdBans(NETWORK).length, 0, 'four addresses are not enough');
    assert.equal(s.inTable(NETWORK), false);

    ok('ban', members[4]!, '--jail', 'sshd', '--for', '30m');
    await waitFor(`the sshd ban of ${NETWORK}`, () => sshdBans(NETWORK).length === 1, 20_000);
    const [ban] = sshdBans(NETWORK);
    assert.equal(Date.parse(ban!.expiresAt!) - Date.parse(ban!.bannedAt), 2 * 3600 * 1000, 'the longest of the members\' bantimes');
    await waitFor(`${NETWORK} in nftables`, () => s.inTable(NETWORK), 10_000);
    assert.match(s.ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']), /198\.51\.100\.0\/24/);

    ok('unban', NETWORK);
    await waitFor(`${NETWORK} out of nftables`, () => !s.inTable(NETWORK), 10_000);
    assert.equal(sshdBans(NETWORK).length, 0);
    for (const address of members) assert.equal(sshdBans(address).length, 1, `${address} stays banned`);
    await waitFor('the members back in nftables', () => members.every((address) => s.inTable(address)), 10_000);
  });

  it('never bans a /24 holding an address of this host, and says why in its log', async () => {
    const own = Object.values(networkInterfaces()).flat().find((info) => info && !info.internal && info.family === 'IPv4');
    assert.ok(own, 'this host has an IPv4 address');
    const octets = own.address.split('.');
    const network = `${octets.slice(0, 3).join('.')}.0/24`;
    const others = [...Array(254).keys()].map((i) => `${octets.slice(0, 3).join('.')}.${i + 1}`).filter((a) => a !== own.address).slice(0, 5);
    for (const address of others) ok('ban', address, '--jail', 'sshd', '--for', '1h');
    const why = new RegExp(`not escalating to ${network.replace(/\./g, '\\.')}: ignoreself \\(${own.address.replace(/\./g, '\\.')}\\)`);
    await waitFor('the daemon saying why it does not escalate', () => why.test(s.daemon!.log()), 20_000);
    assert.equal(sshdBans(network).length, 0);
    assert.equal(s.inTable(network), false);
  });
});

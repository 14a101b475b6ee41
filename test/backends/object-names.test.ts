/**
 * The names f2b-store gives firewall objects, over every valid jail name (core's checkJailName:
 * 1-24 of [A-Za-z0-9_.-], starting with a letter or digit): each maps back to exactly the jail
 * (and family, and kind) it was made from, which makes the mapping injective, fits its firewall's
 * limit, and is never a name fail2ban's actions use.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { firewalldIpset } from '../../src/backends/firewalld.js';
import { exportSetNames } from '../../src/backends/ipset-export.js';
import { parseSetName, setName, type SetId } from '../../src/backends/nftables-plan.js';
import {
  chainName, CHAIN_NAME_MAX, IPSET_NAME_MAX, ipsetName, ipsetOfTemp, ipsetTempName, parseChainName, parseIpsetName, parseLegacyChainName, parseLegacyIpsetName,
} from '../../src/backends/object-names.js';
import { checkJailName, type Family } from '../../src/core/index.js';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const REST = `${ALNUM}_.-`;
/** Any valid jail name, lengths near the limit and runs of `-`, `6`, `4` as likely as any other. */
const jailName = fc.tuple(
  fc.constantFrom(...ALNUM),
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...REST), maxLength: 23 }),
    fc.string({ unit: fc.constantFrom(...REST), minLength: 21, maxLength: 23 }),
    fc.string({ unit: fc.constantFrom('-', '6', '4', 's', '.'), maxLength: 23 }),
  ),
).map(([first, rest]) => first + rest);
const family = fc.constantFrom<Family>(4, 6);
/** A jail name and one made from it by the edits that turned two jails into one name before. */
const neighbours = fc.tuple(jailName, fc.constantFrom('-6', '6', '-4', 's', '-', '')).chain(([jail, suffix]) =>
  fc.constantFrom(`${jail}${suffix}`, jail.endsWith(suffix) ? jail.slice(0, jail.length - suffix.length) : jail, `f2bs-${jail}`)
    .map((other): [string, string] => [jail, other.length <= 24 && /^[A-Za-z0-9]/.test(other) ? other : jail]));
/** fail2ban 1.0.2's names (action.d/iptables*.conf, firewallcmd-ipset.conf, shorewall-ipset-proto6.conf): `f2b-<name>`, `f2b-<name>6`. */
const isFail2bans = (name: string): boolean => name.startsWith('f2b-');

describe('firewall object names', () => {
  it('the generator makes only valid jail names, some of the longest', () => {
    fc.assert(fc.property(jailName, (jail) => checkJailName(jail) === jail));
    assert.ok(fc.sample(jailName, 1000).some((jail) => jail.length === 24), 'jails of 24 characters are tried');
  });

  it('ipsets (ipset backend and firewalld): back to their jail and family, at most 30 characters (31 with the rebuild mark), none of fail2ban\'s', () => {
    fc.assert(fc.property(jailName, family, (jail, f) => {
      const name = ipsetName(jail, f);
      assert.deepEqual(parseIpsetName(name), { jail, family: f });
      assert.ok(name.length + 1 <= IPSET_NAME_MAX, `${name} and its rebuild set fit`);
      assert.equal(ipsetOfTemp(ipsetTempName(name)), name);
      assert.equal(parseIpsetName(ipsetTempName(name)), undefined, 'a rebuild set is no jail\'s set');
      assert.equal(firewalldIpset(jail, f), name);
      assert.match(name, /^[A-Za-z0-9_.:-]+$/, 'firewalld\'s ipset name alphabet');
      assert.ok(!isFail2bans(name));
      assert.equal(parseLegacyIpsetName(name, f), undefined, 'never taken for an earlier f2b-store\'s');
    }), { numRuns: 2000 });
  });

  it('ipsets of different jails or families never share a name', () => {
    fc.assert(fc.property(neighbours, family, family, ([a, b], f1, f2) => {
      assert.equal(ipsetName(a, f1) === ipsetName(b, f2), a === b && f1 === f2, `${a}/${f1} and ${b}/${f2}`);
    }), { numRuns: 2000 });
    assert.notEqual(ipsetName('sshd', 6), ipsetName('sshd-6', 4));
  });

  it('iptables chains: back to their jail, at most 28 characters, none of fail2ban\'s, distinct for distinct jails', () => {
    fc.assert(fc.property(jailName, (jail) => {
      const name = chainName(jail);
      assert.equal(parseChainName(name), jail);
      assert.ok(name.length <= CHAIN_NAME_MAX, `${name} fits`);
      assert.ok(!isFail2bans(name) && parseLegacyChainName(name) === undefined);
    }), { numRuns: 2000 });
    fc.assert(fc.property(neighbours, ([a, b]) => (chainName(a) === chainName(b)) === (a === b)), { numRuns: 2000 });
    assert.equal(chainName('a'.repeat(23)), `f2bs-${'a'.repeat(23)}`);
    assert.equal(chainName('a'.repeat(24)), `f2bs${'a'.repeat(24)}`);
  });

  it('nftables sets (in f2b-store\'s own table): back to their jail, kind and family, within nft\'s limit', () => {
    const kind = fc.constantFrom<SetId['kind']>('addr', 'net');
    fc.assert(fc.property(jailName, kind, family, (jail, k, f) => {
      const name = setName({ kind: k, family: f, jail });
      assert.deepEqual(parseSetName(name), { kind: k, family: f, jail });
      // NFT_SET_MAXNAMELEN is 256 since Linux 4.14 and was 32 before: within the older one too.
      assert.ok(name.length <= 31, name);
    }), { numRuns: 2000 });
  });

  it('names parse back only from what f2b-store makes', () => {
    for (const name of ['f2bs4-', 'f2bs5-sshd', 'f2bs4--x', 'f2bs4-a b', 'f2bs-', 'f2bssshd', `f2bs-${'a'.repeat(24)}`, 'f2b-sshd', 'f2b-sshd6']) {
      assert.equal(parseIpsetName(name), undefined, name);
      assert.equal(parseChainName(name), undefined, name);
    }
  });

  it('export sets stay clear of the backend\'s and fail2ban\'s names', () => {
    assert.deepEqual(exportSetNames('f2b_export'), { 4: 'f2b_export', 6: 'f2b_export-6' });
    for (const name of ['f2b-sshd', 'f2bs4-sshd', 'f2bs6']) assert.throws(() => exportSetNames(name), /bad set name/, name);
  });
});

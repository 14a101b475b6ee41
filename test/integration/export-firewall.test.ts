import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { createNetns, type Netns } from '../helpers/netns.js';

/** `timeout N` of one member in `ipset list` output. */
function memberTimeout(listing: string, address: string): number | undefined {
  const match = new RegExp(`^${address.replace(/[.]/g, '\\.')} timeout (\\d+)$`, 'm').exec(listing);
  return match ? Number(match[1]) : undefined;
}

describe('ipset and nft exports loaded by the real tools in a network namespace', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  const cli = (...args: string[]): CliResult => runCli(['--db', join(tmp.dir, 'bans.sqlite3'), ...args]);
  const exported = (...args: string[]): string => {
    const file = join(tmp.dir, `export-${args.join('-').replace(/[^\w-]/g, '_')}`);
    const result = cli('export', ...args, '--file', file);
    assert.equal(result.code, 0, result.stderr);
    return file;
  };

  before(() => {
    tmp = tempDir();
    ns = createNetns();
    assert.match(ns.name, /^f2bt-/);
    for (const args of [
      ['203.0.113.7', '--jail', 'sshd', '--for', '1h'],
      ['203.0.113.7', '--jail', 'web', '--permanent'],
      ['203.0.113.8', '--jail', 'sshd', '--for', '20y'],
      ['198.51.100.0/24', '--jail', 'sshd', '--for', '1d'],
      ['198.51.100.64/26', '--jail', 'web', '--for', '2d'],
      ['2001:db8::7', '--jail', 'sshd', '--for', '2h'],
      ['2001:db8:1::/48', '--jail', 'sshd', '--permanent'],
    ]) assert.equal(cli('ban', ...args).code, 0);
  });
  after(() => {
    ns.remove();
    tmp.cleanup();
  });

  it('ipset restore loads the export: both sets, every address once, remaining times; loading it again changes nothing', () => {
    const file = exported('ipset');
    for (let load = 0; load < 2; load++) ns.run(['ipset', 'restore'], readFileSync(file, 'utf8'));
    const v4 = ns.run(['ipset', 'list', 'f2b_export']);
    assert.match(v4, /^Type: hash:net$/m);
    assert.match(v4, /^Number of entries: 4$/m);
    assert.equal(memberTimeout(v4, '203.0.113.7'), 0, 'permanent in one jail: no timeout');
    assert.ok((memberTimeout(v4, '203.0.113.8') ?? 0) > 2_147_000, 'a 20-year ban at the kernel cap');
    assert.ok((memberTimeout(v4, '198.51.100.0/24') ?? 0) > 86_000, 'about a day left');
    assert.ok((memberTimeout(v4, '198.51.100.64/26') ?? 0) > 2 * 86_000, 'hash:net takes a network inside another');
    const v6 = ns.run(['ipset', 'list', 'f2b_export-6']);
    assert.match(v6, /^Header: family inet6 /m);
    assert.ok((memberTimeout(v6, '2001:db8::7') ?? 0) > 7000, 'about two hours left');
    assert.equal(memberTimeout(v6, '2001:db8:1::/48'), 0);
    // `ipset test` exits non-zero (ns.run throws) for an address not in the set.
    ns.run(['ipset', 'test', 'f2b_export', '198.51.100.99']);
    assert.throws(() => ns.run(['ipset', 'test', 'f2b_export', '198.51.101.1']), /is NOT in set/);
  });

  it('ipset restore takes a named export of one jail beside it', () => {
    ns.run(['ipset', 'restore'], readFileSync(exported('ipset', '--set', 'web-bans', '--jail', 'web'), 'utf8'));
    const listing = ns.run(['ipset', 'list', 'web-bans']);
    assert.match(listing, /^Number of entries: 2$/m);
    assert.equal(memberTimeout(listing, '203.0.113.7'), 0);
    assert.match(ns.run(['ipset', 'list', '-n']), /^f2b_export$/m);
  });

  it('nft -f loads the export: table and sets, elements with their timeouts; loading it again changes nothing', () => {
    const file = exported('nft');
    for (let load = 0; load < 2; load++) ns.run(['nft', '-f', file]);
    const table = JSON.parse(ns.run(['nft', '-j', 'list', 'table', 'inet', 'f2b-export'])) as {
      nftables: { set?: { name: string; elem?: unknown[] } }[];
    };
    const elements = new Map(table.nftables.flatMap((o) => (o.set ? [[o.set.name, o.set.elem ?? []] as const] : [])));
    assert.deepEqual([...elements.keys()].sort(), ['addr4', 'addr6', 'net4', 'net6']);
    const text = (set: string): string => JSON.stringify(elements.get(set));
    assert.equal(elements.get('addr4')?.length, 2);
    assert.equal(elements.get('addr6')?.length, 1);
    // The /26 lies inside the /24, which an interval set cannot hold beside it: only the /24 is there.
    assert.equal(elements.get('net4')?.length, 1);
    assert.match(text('net4'), /"addr":"198\.51\.100\.0","len":24/);
    assert.match(text('net6'), /"addr":"2001:db8:1::","len":48/);
    const addr4 = ns.run(['nft', 'list', 'set', 'inet', 'f2b-export', 'addr4']);
    assert.match(addr4, /203\.0\.113\.8 timeout 3650d expires/, 'a 20-year ban at the ten-year cap');
    assert.match(addr4, /203\.0\.113\.7[,\s]/, 'the permanent one, without a timeout');
    assert.doesNotMatch(addr4, /203\.0\.113\.7 timeout/);
    assert.match(ns.run(['nft', 'list', 'set', 'inet', 'f2b-export', 'addr6']), /2001:db8::7 timeout (1h59m\d+s|2h) expires/);
  });

  it('a chain matching the sets blocks their addresses, and survives a reload of a newer export', () => {
    ns.run(['nft', 'add chain inet f2b-export input { type filter hook input priority 0; policy accept; }']);
    ns.run(['nft', 'add rule inet f2b-export input ip saddr @addr4 drop']);
    assert.equal(cli('unban', '203.0.113.8').code, 0);
    ns.run(['nft', '-f', exported('nft', '--since', '1d')]);
    const listing = ns.run(['nft', 'list', 'table', 'inet', 'f2b-export']);
    assert.match(listing, /ip saddr @addr4 drop/);
    assert.doesNotMatch(listing, /203\.0\.113\.8/);
    assert.match(listing, /203\.0\.113\.7/);
  });
});

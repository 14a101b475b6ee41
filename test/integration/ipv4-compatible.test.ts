/**
 * An IPv4-compatible address (`::203.0.113.7` = `::cb00:7107`) is IPv6 in every spelling, and an
 * IPv4-mapped one (`::ffff:198.51.100.7`) IPv4: what nft, ipset and ip6tables print back (inet_ntop writes
 * `::203.0.113.7`) reads as the address banned, so a second reconcile changes nothing.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { storeBansJson } from '../helpers/store.js';

interface Report { name: string; added: number; removed: number; unchanged: number; error: string | null }

for (const backend of ['nftables', 'ipset', 'iptables'] as const) {
  describe(`IPv4-compatible and IPv4-mapped addresses in ${backend}`, () => {
    let tmp: ReturnType<typeof tempDir>;
    let ns: Netns;
    const db = (): string => join(tmp.dir, 'bans.sqlite3');
    const cli = (...rest: string[]): CliResult => runCli(['--db', db(), '--netns', ns.name, '--backend', backend, ...rest]);
    // The active bans as `list --json` gives them, read in this process: what is checked is the spelling stored, not the CLI's printing.
    const list = <T>(): T[] => storeBansJson<T>(db(), (store, now) => store.active(now));
    const ruleset = (): string => ({ nftables: () => ns.run(['nft', 'list', 'ruleset']), ipset: () => ns.run(['ipset', 'list']), iptables: () => ns.run(['ip6tables-save']) + ns.run(['iptables-save']) })[backend]();
    const reconcile = (): Report => {
      const result = cli('--json', 'reconcile');
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout) as { backends: Report[] }).backends[0]!;
    };

    before(() => {
      tmp = tempDir();
      ns = createNetns();
    });
    after(() => {
      ns?.remove();
      tmp?.cleanup();
    });

    /**
     * Bans the hosts with one call and the network with another, and returns each ban's change: a
     * call with a network runs a full reconcile, one of hosts only applies what touches them, as a
     * call per address did; a process per address (~0.4 s of CPU each) proved nothing more.
     */
    const ban = (hosts: readonly string[], network: string): string[] => [hosts, [network]].flatMap((addresses) => {
      const result = cli('--json', 'ban', ...addresses, '--for', '1h');
      assert.equal(result.code, 0, result.stderr);
      const said = JSON.parse(result.stdout) as { change: string; bans?: { change: string }[] };
      return (said.bans ?? [said]).map((b) => b.change);
    });

    it('bans each once whatever the spelling, and reads them back as banned', () => {
      assert.deepEqual(ban(['::203.0.113.7', '::ffff:198.51.100.7'], '::203.0.113.0/120'), ['new', 'new', 'new']);
      assert.deepEqual(list<{ address: string }>().map((ban) => ban.address).sort(), ['198.51.100.7', '::cb00:7100/120', '::cb00:7107']);
      const text = ruleset();
      assert.match(text, /::203\.0\.113\.7|::cb00:7107/, text);
      assert.match(text, /198\.51\.100\.7/, text);
      const again = reconcile();
      assert.deepEqual([again.added, again.removed, again.error], [0, 0, null], JSON.stringify(again));
    });

    it('the other spelling of each is the same ban, from the CLI and from an imported list', () => {
      const changes = ban(['::cb00:7107', '198.51.100.7'], '::cb00:7163/120');
      assert.ok(changes.length === 3 && !changes.includes('new'), changes.join());
      const file = join(tmp.dir, 'ip.deny');
      writeFileSync(file, '::203.0.113.7\n::cb00:7107\n::ffff:cb00:7107\n::ffff:198.51.100.7\n');
      const imported = cli('--json', 'import', 'list', file);
      assert.equal(imported.code, 0, imported.stderr);
      assert.deepEqual(list<{ address: string; jail: string }>().map((ban) => `${ban.jail} ${ban.address}`).sort(), [
        'import 203.0.113.7', 'import 198.51.100.7', 'import ::cb00:7107', 'manual 198.51.100.7', 'manual ::cb00:7100/120', 'manual ::cb00:7107',
      ].sort());
      // import records; the import jail's own sets are filled by the next reconcile.
      const filled = reconcile();
      assert.deepEqual([filled.added, filled.removed, filled.error], [3, 0, null], JSON.stringify(filled));
      const again = reconcile();
      assert.deepEqual([again.added, again.removed, again.error], [0, 0, null], JSON.stringify(again));
    });
  });
}

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { scaled } from '../helpers/slowness.js';

interface Report { name: string; added: number; removed: number; unchanged: number; error: string | null }

describe('the CLI and daemon with real nftables in a namespace', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  let args: string[];
  const cli = (...rest: string[]): CliResult => runCli([...args, ...rest]);
  const table = (): string => {
    try {
      return ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']);
    } catch {
      return '';
    }
  };
  const reconcile = (): Report => {
    const result = cli('--json', 'reconcile');
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { backends: Report[] }).backends[0]!;
  };

  before(() => {
    tmp = tempDir();
    ns = createNetns();
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = nftables\nschedule = * * * * * *\n');
    args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, '--netns', ns.name];
    ns.run(['nft', 'add', 'table', 'inet', 'foreign']);
    ns.run(['nft', 'add', 'chain', 'inet', 'foreign', 'in', '{ type filter hook input priority 0; }']);
    ns.run(['nft', 'add', 'rule', 'inet', 'foreign', 'in', 'tcp', 'dport', '9999', 'drop']);
  });
  after(() => {
    ns?.remove();
    tmp?.cleanup();
  });

  it('ban puts IPv4, IPv6 and a network into the firewall at once', () => {
    for (const address of ['203.0.113.7', '2001:db8::66', '198.51.100.0/24']) {
      const result = cli('ban', address, '--for', '1h');
      assert.equal(result.code, 0, result.stderr);
    }
    const text = table();
    for (const address of ['203.0.113.7', '2001:db8::66', '198.51.100.0/24']) assert.ok(text.includes(address), `${address} in\n${text}`);
  });

  it('unban takes it out at once', () => {
    assert.equal(cli('unban', '203.0.113.7').code, 0);
    assert.ok(!table().includes('203.0.113.7'), 'gone from the ruleset');
  });

  it('reconcile restores exactly the active bans after nft flush ruleset, and leaves a foreign table alone', () => {
    const foreign = ns.run(['nft', 'list', 'table', 'inet', 'foreign']);
    ns.run(['nft', 'flush', 'ruleset']);
    ns.run(['nft', '-f', '-'], `table inet foreign {\n${foreign.split('\n').slice(1).join('\n')}`);
    const restored = reconcile();
    assert.deepEqual([restored.added, restored.removed, restored.error], [2, 0, null]);
    const text = table();
    assert.ok(text.includes('2001:db8::66') && text.includes('198.51.100.0/24') && !text.includes('203.0.113.7'), text);
    assert.equal(ns.run(['nft', 'list', 'table', 'inet', 'foreign']), foreign);
  });

  it('a second reconcile changes nothing', () => {
    const again = reconcile();
    assert.deepEqual([again.added, again.removed, again.unchanged, again.error], [0, 0, 2, null]);
  });

  it('the daemon repairs a flushed ruleset by itself within 5 s, and SIGTERM leaves the bans', async () => {
    const daemon = startDaemon(args);
    try {
      await waitFor('daemon start', () => daemon.log().includes('started'), 10_000);
      // Not checked empty here: a tick of the daemon (every second) may repair it at once.
      ns.run(['nft', 'flush', 'ruleset']);
      const took = await waitFor('repair', () => table().includes('2001:db8::66'), 5_000);
      assert.ok(took <= scaled(5_000), `repaired in ${took} ms`);
      await waitFor('the repair log line', () => /reconcile \([^)]+\) nftables: added 2, removed 0/.test(daemon.log()), 5_000);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.log());
    }
    assert.ok(table().includes('198.51.100.0/24'), 'bans stay after SIGTERM');
  });

  it('a missing network namespace is exit 1 naming the command, the ban still recorded', () => {
    const result = runCli([...args.slice(0, -2), '--netns', 'f2bt-does-not-exist', 'ban', '203.0.113.9']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^f2b-store: the ban is recorded, but applying it failed: nftables: .*nft .*Cannot open network namespace "f2bt-does-not-exist".*next reconcile retries\n$/m);
    assert.match(cli('list').stdout, /203\.0\.113\.9/);
  });
});

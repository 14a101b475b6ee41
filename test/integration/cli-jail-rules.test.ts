import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';
import { createNetns, type Netns } from '../helpers/netns.js';

/**
 * The rules of jails with ports, as the CLI makes them and as the daemon makes them from the same
 * configuration: a web jail's ban never blocks SSH, whoever put it in the firewall.
 */
describe('the CLI builds each jail\'s rule from its configuration, as the daemon does (nftables in a namespace)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  let args: string[];
  const cli = (...rest: string[]): CliResult => runCli([...args, ...rest]);
  const ok = (...rest: string[]): CliResult => {
    const result = cli(...rest);
    assert.equal(result.code, 0, `${rest.join(' ')}: ${result.stderr}`);
    return result;
  };
  /** Our rules, each with its handle: the ones that match a set of banned sources. */
  const rules = (): string[] => ns.run(['nft', '-a', 'list', 'ruleset']).split('\n').map((line) => line.trim()).filter((line) => /saddr @/.test(line));

  before(() => {
    tmp = tempDir();
    ns = createNetns();
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    for (const log of ['auth.log', 'access.log']) writeFileSync(join(tmp.dir, log), '');
    const files = {
      'f2b-store.conf': ['[reconcile]', 'backends = nftables', 'schedule = * * * * * *'],
      'jail.local': [
        '[sshd]', 'enabled = true', 'filter = sshd', `logpath = ${join(tmp.dir, 'auth.log')}`, 'port = ssh,2222', 'banaction = nftables-multiport',
        '[web]', 'enabled = true', 'filter = nginx-http-auth', `logpath = ${join(tmp.dir, 'access.log')}`, 'port = http,https', 'banaction = nftables-multiport',
      ],
    };
    for (const [name, lines] of Object.entries(files)) writeFileSync(join(config, name), `${lines.join('\n')}\n`);
    args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, '--netns', ns.name];
  });
  after(() => {
    ns?.remove();
    tmp?.cleanup();
  });

  it('ban --jail puts the address behind that jail\'s ports only, for both families', () => {
    ok('ban', '203.0.113.11', '--jail', 'sshd');
    ok('ban', '203.0.113.12', '--jail', 'web');
    const made = rules();
    assert.equal(made.filter((rule) => rule.includes('dport { 22, 2222 }')).length, 4, made.join('\n'));
    assert.equal(made.filter((rule) => rule.includes('dport { 80, 443 }')).length, 4, made.join('\n'));
    assert.equal(made.length, 8, `no rule for every port:\n${made.join('\n')}`);
  });

  it('unban, reconcile, status and a manual ban leave the jails\' rules as they are', () => {
    const made = rules().filter((rule) => rule.includes('dport'));
    ok('unban', '203.0.113.11');
    ok('ban', '203.0.113.13', '--jail', 'sshd');
    ok('reconcile');
    ok('status');
    ok('ban', '198.51.100.0/24', '--jail', 'web');
    ok('--backend', 'nftables', 'ban', '203.0.113.14', '--jail', 'sshd');
    ok('ban', '203.0.113.15');
    assert.deepEqual(rules().filter((rule) => rule.includes('dport')), made, 'the same rules, the same handles: none was replaced');
  });

  it('the daemon, starting on what the CLI made, finds the rules it would make', async () => {
    const before = rules();
    const daemon = startDaemon(args);
    try {
      await waitFor('the daemon watching its logs', () => daemon.log().includes('watching'), 20_000);
      assert.deepEqual(rules(), before, `the daemon replaced a rule:\n${daemon.log()}`);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.log());
    }
  });
});

/**
 * The real fail2ban 1.0.2 and f2b-store side by side in one namespace, with jails of the same
 * names: fail2ban's `iptables-ipset` action (ipsets f2b-sshd, f2b-sshd6) and its `iptables` action
 * (chain f2b-web), f2b-store's ipset and iptables backends at once. Neither may touch what the other
 * made: both sets of bans stay in the firewall, and each is lifted by its own tool only.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { privateFail2ban, type PrivateFail2ban } from '../helpers/fail2ban.js';
import { createNetns, type Netns } from '../helpers/netns.js';

const FILTER = '[Definition]\nfailregex = ^auth failure from <HOST>$\ndatepattern = {NONE}\n';
/** fail2ban's own actions, as Debian's fail2ban 1.0.2 installs them. */
const action = (name: string): string => readFileSync(`/etc/fail2ban/action.d/${name}.conf`, 'utf8');
/** fail2ban's bans, by the object its action keeps them in. */
const THEIRS = { sshd4: '198.51.100.77', sshd6: '2001:db8::77', web: '198.51.100.78' };
/** f2b-store's bans, in jails of the same names. */
const OURS = { sshd4: '203.0.113.61', sshd6: '2001:db8::61', web: '203.0.113.62' };

describe('fail2ban (iptables-ipset and iptables actions) and f2b-store (ipset and iptables backends) in one firewall', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  let fail2ban: PrivateFail2ban;
  let daemon: DaemonProcess | undefined;
  let storeArgs: string[];
  const cli = (...args: string[]): CliResult => runCli([...storeArgs, ...args]);
  const tryRun = (argv: readonly string[]): string => {
    try {
      return ns.run(argv);
    } catch {
      return '';
    }
  };
  const members = (set: string): string[] => tryRun(['ipset', 'list', set]).split('Members:\n')[1]?.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean) ?? [];
  const rules = (tool: 'iptables' | 'ip6tables'): string => tryRun([`${tool}-save`, '-t', 'filter']);
  const inChain = (tool: 'iptables' | 'ip6tables', chain: string, address: string): boolean =>
    rules(tool).split('\n').some((line) => line.startsWith(`-A ${chain} -s ${address}/`));
  const ourObjects = (): Record<string, boolean> => ({
    'ipset sshd 4': members('f2bs4-sshd').includes(OURS.sshd4),
    'ipset sshd 6': members('f2bs6-sshd').includes(OURS.sshd6),
    'ipset web 4': members('f2bs4-web').includes(OURS.web),
    'iptables sshd 4': inChain('iptables', 'f2bs-sshd', OURS.sshd4),
    'iptables sshd 6': inChain('ip6tables', 'f2bs-sshd', OURS.sshd6),
    'iptables web 4': inChain('iptables', 'f2bs-web', OURS.web),
  });
  const theirObjects = (): Record<string, boolean> => ({
    'ipset f2b-sshd': members('f2b-sshd').includes(THEIRS.sshd4),
    'ipset f2b-sshd6': members('f2b-sshd6').includes(THEIRS.sshd6),
    'its rule on f2b-sshd': rules('iptables').includes('-A INPUT -p tcp -m tcp --dport 22 -m set --match-set f2b-sshd src -j REJECT'),
    'its rule on f2b-sshd6': rules('ip6tables').includes('-A INPUT -p tcp -m tcp --dport 22 -m set --match-set f2b-sshd6 src -j REJECT'),
    'chain f2b-web': inChain('iptables', 'f2b-web', THEIRS.web),
    'its jump to f2b-web': rules('iptables').includes('-A INPUT -p tcp -m tcp --dport 80 -j f2b-web'),
  });
  const all = (objects: Record<string, boolean>): boolean => Object.values(objects).every(Boolean);

  before(async () => {
    tmp = tempDir();
    ns = createNetns();
    storeArgs = ['--db', join(tmp.dir, 'store.sqlite3'), '--netns', ns.name];
    const log = join(tmp.dir, 'auth.log');
    writeFileSync(log, '');
    const jail = (name: string, action: string): string =>
      `[${name}]\nenabled = true\nfilter = f2bt\nlogpath = ${log}\nmaxretry = 2\nbantime = 1h\naction = ${action}\n`;
    fail2ban = privateFail2ban(ns, {
      'filter.d/f2bt.conf': FILTER,
      'action.d/iptables.conf': action('iptables'),
      'action.d/iptables-ipset.conf': action('iptables-ipset'),
      'jail.local': [
        jail('sshd', 'iptables-ipset[name=sshd, port=22, protocol=tcp]'),
        jail('web', 'iptables[name=web, port=80, protocol=tcp]'),
      ].join('\n'),
    });
    await fail2ban.start(['sshd', 'web']);
    fail2ban.client(['set', 'sshd', 'banip', THEIRS.sshd4, THEIRS.sshd6]);
    fail2ban.client(['set', 'web', 'banip', THEIRS.web]);
    await waitFor('fail2ban\'s bans in its sets and chain', () => all(theirObjects()), 10_000);
  });
  after(async () => {
    await daemon?.stop();
    await fail2ban?.remove();
    ns?.remove();
    tmp?.cleanup();
  });

  it('f2b-store started after fail2ban puts its bans in, and leaves fail2ban\'s sets, chain, rules and bans as they are', async () => {
    for (const [jail, address] of [['sshd', OURS.sshd4], ['sshd', OURS.sshd6], ['web', OURS.web]] as const) {
      const result = cli('--backend', 'none', 'ban', address, '--jail', jail);
      assert.equal(result.code, 0, result.stderr);
    }
    daemon = startDaemon([...storeArgs, '--backend', 'ipset,iptables']);
    const running = daemon;
    await waitFor('the first reconcile logged', () => ['ipset', 'iptables'].every((b) => running.log().includes(`reconcile (start) ${b}:`)), 15_000);
    assert.deepEqual(theirObjects(), Object.fromEntries(Object.keys(theirObjects()).map((k) => [k, true])), `fail2ban's are intact:\n${running.log()}`);
    assert.deepEqual(ourObjects(), Object.fromEntries(Object.keys(ourObjects()).map((k) => [k, true])), `f2b-store's are in:\n${running.log()}`);
    assert.doesNotMatch(running.log(), /removed [1-9]|failed|error|skipped/i, running.log());
    assert.match(running.log(), /iptables: chain f2b-web left as it is: fail2ban names its chains so/, 'the chain of the old name is told of');
  });

  it('a reconcile finds nothing to change and touches nothing of fail2ban\'s', () => {
    const result = cli('--backend', 'ipset,iptables', '--json', 'reconcile');
    assert.equal(result.code, 0, result.stderr);
    const reports = (JSON.parse(result.stdout) as { backends: { name: string; added: number; removed: number; error: string | null }[] }).backends;
    assert.deepEqual(reports.map((r) => [r.name, r.added, r.removed, r.error]), [['ipset', 0, 0, null], ['iptables', 0, 0, null]]);
    assert.ok(all(theirObjects()), JSON.stringify(theirObjects()));
  });

  it('fail2ban\'s unban lifts only its ban; f2b-store\'s unban lifts only its own', async () => {
    fail2ban.client(['set', 'sshd', 'unbanip', THEIRS.sshd4]);
    await waitFor('fail2ban\'s unban', () => !members('f2b-sshd').includes(THEIRS.sshd4), 10_000);
    assert.ok(all(ourObjects()), `f2b-store's bans stay: ${JSON.stringify(ourObjects())}`);

    const theirs = cli('--backend', 'ipset,iptables', 'unban', THEIRS.web);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.match(theirs.stdout, /was not banned/);
    assert.ok(inChain('iptables', 'f2b-web', THEIRS.web), 'f2b-store cannot lift a ban of fail2ban\'s');

    const ours = cli('--backend', 'ipset,iptables', 'unban', OURS.web);
    assert.equal(ours.code, 0, ours.stderr);
    assert.ok(!members('f2bs4-web').includes(OURS.web) && !inChain('iptables', 'f2bs-web', OURS.web), 'out of f2b-store\'s set and chain');
    assert.ok(inChain('iptables', 'f2b-web', THEIRS.web) && members('f2b-sshd6').includes(THEIRS.sshd6), 'fail2ban\'s remaining bans stay');
  });

  it('fail2ban stopping takes away its own objects only; f2b-store\'s bans stay', async () => {
    await fail2ban.stop();
    assert.deepEqual([members('f2b-sshd6'), rules('iptables').includes('f2b-web')], [[], false], 'fail2ban removed its objects');
    assert.ok(members('f2bs4-sshd').includes(OURS.sshd4) && members('f2bs6-sshd').includes(OURS.sshd6), 'f2b-store\'s sets hold their bans');
    assert.ok(inChain('iptables', 'f2bs-sshd', OURS.sshd4) && inChain('ip6tables', 'f2bs-sshd', OURS.sshd6), 'and its chains');
    const result = cli('--backend', 'ipset,iptables', '--json', 'reconcile', '--dry-run');
    const reports = (JSON.parse(result.stdout) as { backends: { added: number; removed: number }[] }).backends;
    assert.deepEqual(reports.map((r) => [r.added, r.removed]), [[0, 0], [0, 0]], 'nothing of f2b-store\'s to repair');
    assert.doesNotMatch(daemon?.log() ?? '', /NOTICE drift check|failed|error/i, daemon?.log());
  });

  it('fail2ban started beside the running f2b-store makes its objects and restores its bans; f2b-store\'s stay', async () => {
    await fail2ban.start(['sshd', 'web']);
    await waitFor('fail2ban\'s restored bans in its own set and chain',
      () => members('f2b-sshd6').includes(THEIRS.sshd6) && inChain('iptables', 'f2b-web', THEIRS.web), 15_000);
    assert.doesNotMatch(fail2ban.log(), /ERROR/, fail2ban.log());
    assert.ok(members('f2bs4-sshd').includes(OURS.sshd4) && inChain('ip6tables', 'f2bs-sshd', OURS.sshd6), 'f2b-store\'s bans stay');
  });
});

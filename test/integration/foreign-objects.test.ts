/**
 * What f2b-store does with firewall objects it did not make: one under its own name skips that
 * jail only (said in the reconcile report and the daemon log, the other jails restored), and
 * the sets an earlier f2b-store made under the old names (`f2b-<jail>`, `f2b-<jail>-6`) move to
 * the new ones once, while fail2ban's sets of those names are left alone. Real ipset and
 * iptables, each scene in a namespace of its own (a fresh one is a rebooted host).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { createNetns, type Netns } from '../helpers/netns.js';

/** The names f2b-store gives jail cj's IPv6 set and jail web's chain, taken here by someone else. */
const CJ_SET = 'f2bs6-cj';
const WEB_CHAIN = 'f2bs-web';

interface Report {
  name: string;
  added: number;
  removed: number;
  error: string | null;
  skipped?: { jail: string; error: string }[];
  notes?: string[];
}

describe('firewall objects f2b-store did not make', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  const spaces: Netns[] = [];
  let daemon: DaemonProcess | undefined;
  const space = (): Netns => {
    const ns = createNetns();
    spaces.push(ns);
    return ns;
  };
  const cli = (ns: Netns, ...args: string[]): CliResult => runCli(['--db', join(tmp.dir, 'store.sqlite3'), '--config', config, '--netns', ns.name, ...args]);
  const record = (jail: string, address: string): void => {
    const result = runCli(['--db', join(tmp.dir, 'store.sqlite3'), '--backend', 'none', 'ban', address, '--jail', jail]);
    assert.equal(result.code, 0, result.stderr);
  };
  const tryRun = (ns: Netns, argv: readonly string[]): string => {
    try {
      return ns.run(argv);
    } catch {
      return '';
    }
  };
  const members = (ns: Netns, set: string): string[] =>
    (tryRun(ns, ['ipset', 'list', set]).split('Members:\n')[1] ?? '').split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean).sort();
  const chain = (ns: Netns, tool: 'iptables' | 'ip6tables', name: string): string[] =>
    tryRun(ns, [`${tool}-save`, '-t', 'filter']).split('\n').filter((l) => l.startsWith(`-A ${name} `) || (l.startsWith('-A INPUT ') && l.includes(name)));

  before(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'config');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = ipset, iptables\nschedule = * * * * * *\n[daemon]\nlogfile =\n');
  });
  after(async () => {
    await daemon?.stop();
    for (const ns of spaces) ns.remove();
    tmp?.cleanup();
  });

  it('jails sshd and sshd-6, whose sets once shared a name, both reach the firewall', () => {
    const ns = space();
    assert.equal(cli(ns, 'ban', '2001:db8::61', '--jail', 'sshd').code, 0);
    const second = cli(ns, 'ban', '203.0.113.61', '--jail', 'sshd-6');
    assert.equal(second.code, 0, second.stderr);
    const result = cli(ns, '--json', 'reconcile');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([members(ns, 'f2bs6-sshd'), members(ns, 'f2bs4-sshd-6'), members(ns, 'f2bs4-sshd'), members(ns, 'f2bs6-sshd-6')],
      [['2001:db8::61'], ['203.0.113.61'], [], []]);
  });

  it('a set and a chain of its names that it did not make skip their jail only: the others are restored at start, report and log say which', async () => {
    record('cj', '2001:db8::99');
    record('cj', '203.0.113.99');
    record('web', '203.0.113.62');
    const ns = space();
    ns.run(['ipset', 'create', CJ_SET, 'hash:ip', 'family', 'inet6']);
    ns.run(['ipset', 'add', CJ_SET, '2001:db8::cafe']);
    ns.run(['iptables', '-N', WEB_CHAIN]);
    ns.run(['iptables', '-A', WEB_CHAIN, '-s', '198.51.100.9', '-j', 'DROP']);

    daemon = startDaemon(['--db', join(tmp.dir, 'store.sqlite3'), '--config', config, '--netns', ns.name]);
    const running = daemon;
    await waitFor('the first reconcile of both backends', () => ['ipset', 'iptables'].every((b) => running.log().includes(`reconcile (start) ${b}: added`)), 15_000);
    assert.match(running.log(), new RegExp(`reconcile \\(start\\) ipset: jail cj skipped: ipset ${CJ_SET} is hash:ip family inet6`), running.log());
    assert.match(running.log(), new RegExp(`reconcile \\(start\\) iptables: jail web skipped: iptables chain ${WEB_CHAIN} holds rules but not f2b-store's mark`));

    assert.deepEqual(members(ns, CJ_SET), ['2001:db8::cafe'], 'the foreign set holds what it held');
    assert.deepEqual(chain(ns, 'iptables', WEB_CHAIN), [`-A ${WEB_CHAIN} -s 198.51.100.9/32 -j DROP`], 'the foreign chain too, and no jump to it');
    assert.deepEqual(
      [members(ns, 'f2bs6-sshd'), members(ns, 'f2bs4-sshd-6'), members(ns, 'f2bs4-web'), members(ns, 'f2bs4-cj')],
      [['2001:db8::61'], ['203.0.113.61'], ['203.0.113.62'], []],
      'ipset: every jail but cj restored (its IPv4 set is not made either)',
    );
    assert.ok(chain(ns, 'ip6tables', 'f2bs-cj').some((l) => l.startsWith('-A f2bs-cj -s 2001:db8::99/128')), 'iptables: cj restored');
    assert.ok(chain(ns, 'iptables', 'f2bs-sshd-6').some((l) => l.startsWith('-A f2bs-sshd-6 -s 203.0.113.61/32')), 'and sshd-6');

    const result = cli(ns, '--json', 'reconcile');
    assert.equal(result.code, 1, 'a skipped jail leaves the reconcile incomplete');
    const reports = (JSON.parse(result.stdout) as { backends: Report[] }).backends;
    assert.deepEqual(reports.map((r) => [r.name, r.error, r.skipped?.map((s) => s.jail)]), [['ipset', null, ['cj']], ['iptables', null, ['web']]]);
    assert.match(result.stderr, new RegExp(`ipset: jail cj skipped: ipset ${CJ_SET} .*iptables: jail web skipped: iptables chain ${WEB_CHAIN}`));
  });

  it('once those are gone, the next ticks make the jails\' own and restore them', async () => {
    const ns = spaces.at(-1)!;
    ns.run(['ipset', 'destroy', CJ_SET]);
    ns.run(['iptables', '-F', WEB_CHAIN]);
    await waitFor('cj and web restored', () => members(ns, 'f2bs6-cj').includes('2001:db8::99') && members(ns, 'f2bs4-cj').includes('203.0.113.99')
      && chain(ns, 'iptables', WEB_CHAIN).some((l) => l.startsWith(`-A ${WEB_CHAIN} -s 203.0.113.62/32`)), 10_000);
    assert.ok(!chain(ns, 'iptables', WEB_CHAIN).some((l) => l.includes('198.51.100.9')), 'only what the store holds');
    await daemon?.stop();
    daemon = undefined;
  });

  it('sets an earlier f2b-store made move to the new names once, bans kept; fail2ban\'s sets of the old names stay', () => {
    const ns = space();
    ns.run(['ipset', 'restore'], [
      'create f2b-sshd hash:net family inet hashsize 1024 maxelem 65536 timeout 0',
      'add f2b-sshd 203.0.113.71 timeout 0',
      'add f2b-sshd 198.51.100.50 timeout 0',
      'create f2b-sshd-6 hash:net family inet6 hashsize 1024 maxelem 65536 timeout 0',
      'add f2b-sshd-6 2001:db8::61 timeout 0',
      'create f2b-web hash:ip family inet hashsize 1024 maxelem 65536 timeout 0',
      'add f2b-web 198.51.100.78 timeout 0',
      '',
    ].join('\n'));
    ns.run(['iptables', '-I', 'INPUT', '-m', 'set', '--match-set', 'f2b-sshd', 'src', '-j', 'REJECT']);
    ns.run(['ip6tables', '-I', 'INPUT', '-m', 'set', '--match-set', 'f2b-sshd-6', 'src', '-j', 'REJECT']);
    ns.run(['iptables', '-I', 'INPUT', '-p', 'tcp', '--dport', '80', '-m', 'set', '--match-set', 'f2b-web', 'src', '-j', 'REJECT']);

    // The first command after the upgrade is a ban, as fail2ban's action runs it.
    const first = cli(ns, '--backend', 'ipset', '--json', 'ban', '203.0.113.71', '--jail', 'sshd');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((JSON.parse(first.stdout) as { backends: Report[] }).backends.flatMap((r) => r.notes ?? []), [
      'ipset: f2b-sshd, a set of an earlier f2b-store, removed after copying its entries into f2bs4-sshd',
      'ipset: f2b-sshd-6, a set of an earlier f2b-store, removed after copying its entries into f2bs6-sshd',
    ]);
    const sets = ns.run(['ipset', 'list', '-n']).split('\n').filter(Boolean).sort();
    assert.ok(!sets.includes('f2b-sshd') && !sets.includes('f2b-sshd-6'), `the old sets are gone: ${sets.join(' ')}`);
    assert.deepEqual([members(ns, 'f2bs4-sshd'), members(ns, 'f2bs6-sshd')], [['203.0.113.71'], ['2001:db8::61']], 'bans in the new sets, as the store holds them');
    const rules = ns.run(['iptables-save', '-t', 'filter']) + ns.run(['ip6tables-save', '-t', 'filter']);
    assert.doesNotMatch(rules, /--match-set f2b-sshd(-6)? /, 'the old rules are gone');
    assert.match(rules, /--match-set f2bs4-sshd src/);
    assert.deepEqual(members(ns, 'f2b-web'), ['198.51.100.78'], 'fail2ban\'s set is left');
    assert.match(rules, /-A INPUT -p tcp -m tcp --dport 80 -m set --match-set f2b-web src -j REJECT/, 'and its rule');

    const again = cli(ns, '--backend', 'ipset', 'reconcile');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '', 'nothing more to move');
  });
});

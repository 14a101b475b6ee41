import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { syslogDate } from '../helpers/sshd-daemon.js';

/** fail2ban-client habits: several addresses per ban and unban, a list on stdin, unban --all; with real nftables in a namespace. */
describe('ban and unban of several addresses at once', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  let args: string[];
  const cli = (rest: string[], input?: string): CliResult => runCli([...args, ...rest], input === undefined ? {} : { input });
  const ok = (rest: string[], input?: string): string => {
    const result = cli(rest, input);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };
  const elements = (): string => ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']);
  const active = (): string[] => (JSON.parse(ok(['--json', 'list'])) as { address: string; jail: string }[]).map((b) => `${b.jail} ${b.address}`).sort();

  before(() => {
    tmp = tempDir();
    ns = createNetns();
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = nftables\n');
    args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config, '--netns', ns.name];
  });
  after(() => {
    ns?.remove();
    tmp?.cleanup();
  });

  it('bans every address given and every line of --file -, into the firewall at once', () => {
    const out = ok(['ban', '203.0.113.1', '2001:db8::1', '--jail', 'sshd', '--for', '1h']);
    assert.match(out, /^banned 203\.0\.113\.1 in jail sshd .*\nbanned 2001:db8::1 in jail sshd /);
    ok(['ban', '--file', '-', '--jail', 'web'], '# from the web log\n203.0.113.2\n\n203.0.113.3  # twice\n198.51.100.0/24\n');
    assert.deepEqual(active(), ['sshd 2001:db8::1', 'sshd 203.0.113.1', 'web 198.51.100.0/24', 'web 203.0.113.2', 'web 203.0.113.3']);
    const table = elements();
    for (const address of ['203.0.113.1', '2001:db8::1', '203.0.113.2', '203.0.113.3', '198.51.100.0/24']) assert.ok(table.includes(address), `${address} missing in\n${table}`);
  });

  it('one bad address among several changes nothing and names where it was', () => {
    const before = active();
    const result = cli(['ban', '--file', '-'], '203.0.113.20\n203.0.113.21\n203.0.113.300\n');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^f2b-store: stdin:3: not an IP address.*"203\.0\.113\.300".*nothing was changed\n$/);
    assert.deepEqual(active(), before);
    assert.ok(!elements().includes('203.0.113.20'));
  });

  it('--json of one address keeps the one-ban answer; of several, lists them', () => {
    const one = JSON.parse(ok(['--json', 'ban', '203.0.113.30'])) as { ban: { address: string }; change: string };
    assert.equal(one.ban.address, '203.0.113.30');
    assert.equal(one.change, 'new');
    // --for 2d: later than the first ban's day, whatever second each call falls in.
    const many = JSON.parse(ok(['--json', 'ban', '203.0.113.31', '203.0.113.30', '--for', '2d'])) as { bans: { ban: { address: string }; change: string }[] };
    assert.deepEqual(many.bans.map((b) => [b.ban.address, b.change]), [['203.0.113.31', 'new'], ['203.0.113.30', 'extended']]);
  });

  it('unban of several addresses lifts each and says which were not banned', () => {
    const out = ok(['unban', '203.0.113.30', '203.0.113.31', '203.0.113.99']);
    assert.equal(out, 'unbanned 203.0.113.30 in jail manual\nunbanned 203.0.113.31 in jail manual\n203.0.113.99 was not banned\n');
    assert.ok(!elements().includes('203.0.113.30'));
  });

  it('unban --all --jail lifts one jail, unban --all the rest; the firewall follows; the history stays', () => {
    assert.equal(ok(['unban', '--all', '--jail', 'web']), 'unbanned 3 bans in 1 jail\n');
    assert.deepEqual(active(), ['sshd 2001:db8::1', 'sshd 203.0.113.1']);
    assert.ok(!elements().includes('203.0.113.2'));
    assert.ok(elements().includes('203.0.113.1'));
    assert.equal(ok(['unban', '--all']), 'unbanned 2 bans in 1 jail\n');
    assert.deepEqual(active(), []);
    assert.doesNotMatch(elements(), /203\.0\.113|2001:db8|198\.51\.100/);
    assert.match(ok(['show', '203.0.113.2']), /unban/);
    assert.equal(ok(['unban', '--all']), 'no active bans\n');
  });

  it('--all with addresses, or no address at all, is bad input', () => {
    const both = cli(['unban', '--all', '203.0.113.1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--all lifts every ban: give it no addresses/);
    const none = cli(['unban']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give an address to unban, or --file/);
  });

  it('a running daemon forgets the failures of every address unbanned at once', async () => {
    const log = join(tmp.dir, 'auth.log');
    writeFileSync(log, '');
    const jailDir = join(tmp.dir, 'etc');
    writeFileSync(join(jailDir, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${log}\nmaxretry = 3\nfindtime = 1h\n`);
    const failed = (): number => (JSON.parse(ok(['--json', 'status', 'sshd'])) as { jails: { currentlyFailed: number }[] }).jails[0]!.currentlyFailed;
    const fail = (address: string): string => `${syslogDate()} host sshd[1]: Failed password for root from ${address} port 22 ssh2\n`;
    let daemon: DaemonProcess | undefined;
    try {
      daemon = startDaemon(args);
      await waitFor('the daemon following its log', () => /watching \d+ log files/.test(daemon!.log()), 10_000);
      writeFileSync(log, fail('203.0.113.40') + fail('203.0.113.41') + fail('203.0.113.40') + fail('203.0.113.41'), { flag: 'a' });
      await waitFor('two addresses failing', () => failed() === 2, 10_000);
      ok(['unban', '203.0.113.40', '203.0.113.41']);
      assert.equal(failed(), 0, 'the daemon forgot both at once');
      // One more failure each is the first again: nobody reaches maxretry 3.
      writeFileSync(log, fail('203.0.113.40') + fail('203.0.113.41'), { flag: 'a' });
      await waitFor('two addresses failing again', () => failed() === 2, 10_000);
      assert.deepEqual(active(), []);
    } finally {
      await daemon?.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isoTime } from '../../src/core/index.js';
import { BIN, runCli, SAFE_CONFIG, tempDir, type CliResult } from '../helpers/cli.js';
import { waitForLogged } from '../helpers/daemon.js';
import { fail2banBips, privateFail2ban, type PrivateFail2ban } from '../helpers/fail2ban.js';
import { createNetns, type Netns } from '../helpers/netns.js';
import { storeBansJson } from '../helpers/store.js';

interface BanJson {
  address: string; jail: string; bannedAt: string; expiresAt: string | null; source: string; failures: number; banCount: number;
  liftedAt: string | null; liftedBy: string | null;
}

const ACTION = new URL('../../actions/f2b-store.conf', import.meta.url);
const FILTER = '[Definition]\nfailregex = ^auth failure from <HOST>$\ndatepattern = {NONE}\n';

/**
 * The real fail2ban 1.0.2 detects, and bans through actions/f2b-store.conf: f2b-store records the
 * bans and puts them into its nftables table, both in the namespace fail2ban runs in.
 */
describe('fail2ban delegating its bans to f2b-store (actions/f2b-store.conf)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let ns: Netns;
  let fail2ban: PrivateFail2ban;
  let storeArgs: string[];
  const jails = ['web', 'forever', 'repeat'];
  const logs: Record<string, string> = {};
  const cli = (...args: string[]): CliResult => runCli([...storeArgs, ...args]);
  const bans = (...args: string[]): BanJson[] => {
    const result = cli('--json', 'list', ...args);
    // Until fail2ban's first ban makes the database, list says there is none instead of printing [].
    if (result.code === 1 && result.stderr.startsWith('f2b-store: no database at ')) return [];
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as BanJson[];
  };
  // Without the kernel's countdown (`expires 59m56s`), which differs from one listing to the next.
  const table = (): string => {
    try {
      return ns.run(['nft', 'list', 'table', 'inet', 'f2b-store']).replace(/ expires \S+/g, '');
    } catch {
      return '';
    }
  };
  const fail = (jail: string, address: string): void => {
    appendFileSync(logs[jail] ?? '', `auth failure from ${address}\n`.repeat(2));
  };
  // Polled: read in this process, as `list --json --jail` reads the store.
  const active = (jail: string): BanJson[] => storeBansJson<BanJson>(join(tmp.dir, 'store.sqlite3'), (store, now) => store.active(now, jail));
  const banned = (address: string, jail: string): boolean => active(jail).some((b) => b.address === address);
  // fail2ban's log on a timeout: what it read, decided and ran is the only account of why a ban did not come.
  const waitForBan = (what: string, check: () => boolean, ms: number): Promise<number> => waitForLogged(what, check, ms, () => fail2ban.log());
  // The action's `f2b-store ban` (or unban) changes the store and the firewall one after the other: it is done once both show it.
  const done = (address: string, jail: string, held = true): boolean => banned(address, jail) === held && table().includes(address) === held;

  before(async () => {
    tmp = tempDir();
    ns = createNetns();
    for (const name of jails) {
      logs[name] = join(tmp.dir, `${name}.log`);
      writeFileSync(logs[name], '');
    }
    storeArgs = ['--db', join(tmp.dir, 'store.sqlite3'), '--config', SAFE_CONFIG, '--netns', ns.name];
    // fail2ban runs the action with the test's environment: everything it needs is on the command line.
    const f2bStore = [process.execPath, BIN, ...storeArgs, '--backend', 'nftables'].join(' ');
    const jail = (name: string, options: string): string =>
      `[${name}]\nenabled = true\nfilter = f2bt\nlogpath = ${logs[name]}\nmaxretry = 2\nfindtime = 10m\n${options}\n` +
      `action = f2b-store[f2b_store="${f2bStore}"]\n`;
    fail2ban = privateFail2ban(ns, {
      'action.d/f2b-store.conf': readFileSync(ACTION, 'utf8'),
      'filter.d/f2bt.conf': FILTER,
      'jail.local': [
        jail('web', 'bantime = 1h'),
        jail('forever', 'bantime = -1'),
        jail('repeat', 'bantime = 3\nbantime.increment = true'),
      ].join('\n'),
    });
    await fail2ban.start(jails);
  });
  after(async () => {
    await fail2ban?.remove();
    ns?.remove();
    tmp?.cleanup();
  });

  it('a ban fail2ban decides is in f2b-store and in its nftables table, with fail2ban as its source', async () => {
    fail('web', '203.0.113.7');
    fail('web', '2001:db8::7');
    await waitForBan('f2b-store to hold both bans', () => done('203.0.113.7', 'web') && done('2001:db8::7', 'web'), 10_000);
    for (const ban of bans('--jail', 'web')) {
      assert.equal(ban.source, 'fail2ban');
      assert.equal(ban.expiresAt && Date.parse(ban.expiresAt) - Date.parse(ban.bannedAt), 3_600_000, 'for the jail\'s bantime');
    }
    const text = table();
    assert.ok(text.includes('203.0.113.7') && text.includes('2001:db8::7'), text);
  });

  it('bantime = -1 becomes a permanent ban', async () => {
    fail('forever', '198.51.100.9');
    await waitForBan('the permanent ban', () => done('198.51.100.9', 'forever'), 10_000);
    assert.equal(bans('--jail', 'forever')[0]?.expiresAt, null);
    assert.ok(table().includes('198.51.100.9'), 'in the firewall');
  });

  it('fail2ban-client unbanip lifts it in f2b-store and its firewall', async () => {
    fail('web', '203.0.113.8');
    await waitForBan('the ban of 203.0.113.8', () => done('203.0.113.8', 'web'), 10_000);
    fail2ban.client(['set', 'web', 'unbanip', '203.0.113.8']);
    await waitForBan('the unban', () => done('203.0.113.8', 'web', false), 10_000);
    const [ban] = JSON.parse(cli('--json', 'show', '203.0.113.8').stdout) as BanJson[];
    assert.equal(ban?.liftedBy, 'unban');
    assert.ok(!table().includes('203.0.113.8'), 'out of the firewall');
  });

  it('stopping and starting fail2ban loses nothing and duplicates nothing', async () => {
    const before = bans('--all');
    const firewall = table();
    assert.equal(before.filter((b) => b.liftedAt === null).length, 3);
    await fail2ban.stop();
    assert.deepEqual(bans('--all'), before, 'stopping fail2ban lifted nothing');
    assert.equal(table(), firewall, 'and left the firewall alone');
    await fail2ban.start(jails);
    // fail2ban restores its bans a moment after the jails start.
    await waitForBan('fail2ban to restore its 3 bans', () => fail2ban.log().match(/Restore Ban /g)?.length === 3, 10_000);
    const list = /Banned IP list:\s*(.*)/.exec(fail2ban.client(['status', 'web']))?.[1]?.split(/\s+/).sort();
    assert.deepEqual(list, ['2001:db8::7', '203.0.113.7'], 'fail2ban holds them again');
    // An actionban for a restored ban would run right after "Restore Ban": give it the time to (not) happen.
    await sleep(1000);
    assert.deepEqual(bans('--all'), before, 'no new row, no count added');
  });

  it('its database imported into a fresh store gives the same bans, with fail2ban\'s time, length and count', async () => {
    await fail2ban.stop();
    const copy = join(tmp.dir, 'fail2ban.sqlite3');
    copyFileSync(fail2ban.db, copy);
    const fresh = ['--db', join(tmp.dir, 'fresh.sqlite3')];
    const first = runCli([...fresh, '--json', 'import', 'fail2ban-db', copy]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { imported: 3, skipped: 0 });
    const imported = JSON.parse(runCli([...fresh, '--json', 'list']).stdout) as BanJson[];
    const bips = fail2banBips(copy);
    assert.equal(bips.length, 3, 'the unbanned address left fail2ban\'s database');
    for (const bip of bips) {
      const ban = imported.find((b) => b.address === bip.ip && b.jail === bip.jail);
      assert.ok(ban, `${bip.ip} in ${bip.jail} imported`);
      assert.deepEqual(
        [ban.bannedAt, ban.expiresAt, ban.banCount, ban.failures, ban.source],
        [isoTime(bip.timeofban), bip.bantime === -1 ? null : isoTime(bip.timeofban + bip.bantime), bip.bancount, 2, 'fail2ban'],
      );
    }
    const delegated = bans().map((b) => `${b.jail} ${b.address} ${b.expiresAt === null}`).sort();
    assert.deepEqual(imported.map((b) => `${b.jail} ${b.address} ${b.expiresAt === null}`).sort(), delegated, 'the same bans as delegated');
    const again = runCli([...fresh, '--json', 'import', 'fail2ban-db', copy]);
    assert.deepEqual(JSON.parse(again.stdout), { imported: 0, skipped: 3 });
    assert.deepEqual(JSON.parse(runCli([...fresh, '--json', 'list']).stdout), imported);
  });

  it('importing into the store the action filled adds nothing either', () => {
    const before = bans('--all');
    const result = cli('--json', 'import', 'fail2ban-db', join(tmp.dir, 'fail2ban.sqlite3'));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { imported: 0, skipped: 3 });
    assert.deepEqual(bans('--all'), before);
  });

  it('a longer ban from bantime.increment (actionprolong) lengthens the ban in f2b-store', async () => {
    await fail2ban.start(jails);
    fail('repeat', '203.0.113.50');
    await waitForBan('the first ban', () => banned('203.0.113.50', 'repeat'), 20_000);
    await waitForBan('the first ban to end', () => !banned('203.0.113.50', 'repeat'), 20_000);
    // fail2ban ignores failures of an address it still holds banned: wait for its own unban too.
    await waitForBan('fail2ban\'s unban', () => /\[repeat\] Unban 203\.0\.113\.50/.test(fail2ban.log()), 20_000);
    fail('repeat', '203.0.113.50');
    const length = (): number => {
      const ban = active('repeat')[0];
      return ban?.expiresAt ? (Date.parse(ban.expiresAt) - Date.parse(ban.bannedAt)) / 1000 : 0;
    };
    // fail2ban doubles the second ban (3 s → 6 s) just after running actionban with the first length.
    await waitForBan('the second ban, doubled', () => length() >= 6, 20_000);
    const bip = fail2banBips(fail2ban.db).find((b) => b.jail === 'repeat');
    assert.deepEqual([bip?.bantime, bip?.bancount], [6, 2], 'fail2ban counted and doubled it');
  });
});

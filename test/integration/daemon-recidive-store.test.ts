/**
 * A jail with `source = bans` reads no log: the real daemon counts the bans its store recorded
 * in sshd — decided from the log, or made by the CLI in another process — and at maxretry bans
 * the address in its own jail for its own bantime, in real nftables in a namespace.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { askDaemon, controlSocketFor, type ReloadResult } from '../../src/daemon/index.js';
import { waitFor } from '../helpers/daemon.js';
import { scaled } from '../helpers/slowness.js';
import { JAIL, sshdDaemon, type BanJson, type SshdDaemon } from '../helpers/sshd-daemon.js';

const RECIDIVE = '\n[recidive-store]\nenabled = true\nsource = bans\nbans.jails = sshd\nfindtime = 1d\nbantime = 1w\nmaxretry = 3\n';
const WEEK = 7 * 86_400;

describe('the daemon bans a repeat offender from the bans in its store (source = bans)', () => {
  let s: SshdDaemon;
  const ok = (...rest: string[]): void => {
    const result = s.cli(...rest);
    assert.equal(result.code, 0, result.stderr);
  };
  const bansIn = (jail: string, address: string): BanJson[] => s.activeBans(address).filter((ban) => ban.jail === jail);
  /** The elements of the nftables sets of `jail` (their names carry the jail's). */
  const inJailSet = (jail: string, address: string): boolean => [...s.table().matchAll(/set (\S+) \{([^}]*(?:\{[^}]*\})?[^}]*)\}/g)]
    .some(([, name = '', body = '']) => name.includes(jail) && new RegExp(`[{\\s,]${address.replace(/\./g, '\\.')}[\\s,}]`).test(body));
  const recidiveBan = async (address: string): Promise<void> => {
    await waitFor(`the recidive-store ban of ${address}`, () => bansIn('recidive-store', address).length === 1, 20_000);
    const [ban] = bansIn('recidive-store', address);
    assert.equal(Date.parse(ban!.expiresAt!) - Date.parse(ban!.bannedAt), WEEK * 1000, 'for its own bantime');
    assert.equal(ban!.failures, 3);
    await waitFor(`${address} in recidive-store's nftables set`, () => inJailSet('recidive-store', address), 10_000);
  };

  before(async () => {
    s = sshdDaemon(RECIDIVE);
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('three bans decided from the log, each lifted by hand before the next, make recidive-store ban it for a week', async () => {
    const address = '203.0.113.7';
    for (let ban = 1; ban <= 3; ban++) {
      s.fail(address, 3);
      await waitFor(`sshd's ban #${ban} of ${address}`, () => bansIn('sshd', address).length === 1, 20_000);
      if (ban < 3) {
        assert.equal(bansIn('recidive-store', address).length, 0, `not after ${ban} bans`);
        ok('unban', address, '--jail', 'sshd');
      }
    }
    await recidiveBan(address);
    // In f2b-store's ban log, where the log-based recidive would read it.
    assert.match(readFileSync(s.banLog, 'utf8'), /\[recidive-store\] Ban 203\.0\.113\.7$/m);
    const status = s.cli('--json', 'status', 'recidive-store');
    assert.equal(status.code, 0, status.stderr);
    const [jail] = (JSON.parse(status.stdout) as { jails: Record<string, unknown>[] }).jails;
    assert.deepEqual([jail?.currentlyFailed, jail?.totalFailed], [0, 3], 'its failures are the sshd bans it counted; the address is banned now');
  });

  it('three bans made by the CLI in sshd (another process) do the same, through the change log', async () => {
    const address = '198.51.100.23';
    for (let ban = 1; ban <= 3; ban++) {
      ok('ban', address, '--jail', 'sshd', '--for', '1h');
      if (ban < 3) ok('unban', address);
    }
    await recidiveBan(address);
    assert.equal(bansIn('sshd', address).length, 1, 'the sshd ban stays beside it');
  });

  it('a reload takes a changed maxretry, and bans recorded before it count', async () => {
    const address = '198.51.100.25';
    ok('ban', address, '--jail', 'sshd', '--for', '1h');
    ok('unban', address);
    writeFileSync(join(s.config, 'jail.local'), JAIL(s.authLog, RECIDIVE.replace('maxretry = 3', 'maxretry = 2')));
    ok('reload', 'recidive-store');
    ok('ban', address, '--jail', 'sshd', '--for', '1h');
    await waitFor(`the recidive-store ban of ${address}`, () => bansIn('recidive-store', address).length === 1, 20_000);
    // Back to maxretry 3 for the next test: asked on the control socket as `reload` asks it, the
    // CLI's reload having been tested above (a process: ~0.4 s of CPU).
    writeFileSync(join(s.config, 'jail.local'), JAIL(s.authLog, RECIDIVE));
    const back = await askDaemon(controlSocketFor(s.db), { command: 'reload' }, scaled(60_000)) as ReloadResult | undefined;
    assert.ok(back?.reloaded === true && back.jails.includes('recidive-store'), JSON.stringify(back));
  });

  it('after a restart, one more ban counts with the ones before it', async () => {
    const address = '198.51.100.24';
    ok('ban', address, '--jail', 'sshd', '--for', '1h');
    ok('unban', address);
    ok('ban', address, '--jail', 'sshd', '--for', '1h');
    ok('unban', address);
    assert.equal(await s.stop(), 0);
    await s.start();
    assert.equal(bansIn('recidive-store', address).length, 0, 'two bans are not enough');
    ok('ban', address, '--jail', 'sshd', '--for', '1h');
    await recidiveBan(address);
  });
});

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../helpers/daemon.js';
import { damagePages, integrityProblems, rootPage } from '../helpers/damage.js';
import { sshdDaemon, type SshdDaemon } from '../helpers/sshd-daemon.js';

const BANS = 1500;

describe('the daemon on a damaged database, with real nftables in a namespace', () => {
  let s: SshdDaemon;
  const elements = (): number => {
    const set = JSON.parse(s.ns.run(['nft', '-j', 'list', 'set', 'inet', 'f2b-store', 'addr4-sshd'])) as { nftables: { set?: { elem?: unknown[] } }[] };
    return set.nftables.reduce((n, o) => n + (o.set?.elem?.length ?? 0), 0);
  };

  before(async () => {
    s = sshdDaemon();
    const list = join(s.dir, 'bans.txt');
    writeFileSync(list, Array.from({ length: BANS }, (_, i) => `198.51.${i >> 8}.${i & 255}\n`).join(''));
    const imported = s.cli('import', 'list', list, '--jail', 'sshd');
    assert.equal(imported.code, 0, imported.stderr);
    await s.start();
    await waitFor(`${BANS} bans in nftables`, () => elements() === BANS, 20_000);
    await s.stop();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('keeps every set element, still bans new attackers (held in memory), and says so once, not on every tick nor with a stack', async () => {
    // The root of the bans table: no ban can be read or written.
    damagePages(s.db, rootPage(s.db, 'bans'), 1);
    assert.notDeepEqual(integrityProblems(s.db), [], 'SQLite sees the damage');
    assert.equal(s.cli('list').code, 1, 'the store cannot be read');
    const before = s.table();
    const daemon = await s.start();
    s.fail('203.0.113.50', 4);
    // The schedule runs every second: several drift checks, and the batch of failures, meet the damage.
    await waitFor('the new attacker banned in the firewall', () => s.inTable('203.0.113.50'), 5_000);
    await sleep(5_000);
    assert.equal(elements(), BANS + 1, 'every earlier ban kept, and the new one');
    const addresses = (table: string): string[] => (table.match(/\b\d+\.\d+\.\d+\.\d+(\/\d+)?\b/g) ?? []).sort();
    assert.deepEqual(addresses(s.table()), [...addresses(before), '203.0.113.50'].sort(), 'the firewall is as it was but for the new ban');
    const log = daemon.log();
    assert.match(log, /203\.0\.113\.50 banned .*held in memory until the database takes writes/, 'the new ban is held until the database can take it');
    const damaged = log.split('\n').filter((line) => line.includes(`database ${s.db} is damaged (`));
    assert.equal(damaged.length, 1, log);
    assert.match(damaged[0]!, /run f2b-store repair; until then the firewall keeps every ban it has, and new bans go to it held in memory/);
    assert.doesNotMatch(log, /^\s+at |NODE-CRON|failed/m, log);
    assert.equal(daemon.child.exitCode, null, 'still running');
    assert.equal(await s.stop(), 0);
  });
});

/**
 * Bans and unbans made by another process (the CLI) reach the running daemon's backends as
 * changes read from the store's change log, not by a full reconcile; and changes made while the
 * daemon was stopped are in its firewall after it starts again. The CLI calls here touch no
 * firewall themselves (`--backend none`), so only the daemon can have put them there.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { sshdDaemon, type SshdDaemon } from '../helpers/sshd-daemon.js';

interface LiveStatus {
  daemon: { running: boolean; lastReconcile?: { reason: string; at: string } | null };
}

describe('the daemon takes in other processes\' changes from the change log', () => {
  let s: SshdDaemon;
  const quiet = (...rest: string[]): void => {
    const result = s.cli('--backend', 'none', ...rest);
    assert.equal(result.code, 0, result.stderr);
  };
  const lastReconcile = (): string | undefined => {
    const result = s.cli('--json', 'status');
    assert.equal(result.code, 0, result.stderr);
    const last = (JSON.parse(result.stdout) as LiveStatus).daemon.lastReconcile;
    // Every --json time is ISO-8601, as in list and show.
    if (last) assert.match(last.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    return last?.reason;
  };
  const daemonLog = (): string => s.daemon?.log() ?? '';
  /** The daemon's line comes after its firewall change: waited for, not assumed already there. */
  const logged = (line: RegExp): Promise<number> => waitFor(`the daemon's log to say ${line}`, () => line.test(daemonLog()), 10_000);

  before(async () => {
    s = sshdDaemon();
    await s.start();
  });
  after(async () => {
    await s?.cleanup();
  });

  it('applies a CLI ban and unban from another process without a full reconcile', async () => {
    quiet('ban', '203.0.113.50', '--for', '1h');
    await waitFor('the CLI\'s ban in nftables', () => s.inTable('203.0.113.50'), 10_000);
    await logged(/took in 1 change made by another process \(up to #\d+\): ban 203\.0\.113\.50 in manual; applied to nftables without a full reconcile/);
    quiet('unban', '203.0.113.50');
    await waitFor('the CLI\'s unban in nftables', () => !s.inTable('203.0.113.50'), 10_000);
    await logged(/took in 1 change made by another process \(up to #\d+\): lift 203\.0\.113\.50 in manual;/);
    assert.equal(lastReconcile(), 'start', `no full reconcile since the start:\n${daemonLog()}`);
    assert.doesNotMatch(daemonLog(), /failed/);
  });

  it('takes in a ban the CLI applied itself too, and one extended, without a failure', async () => {
    assert.equal(s.cli('ban', '203.0.113.51', '--for', '1h').code, 0);
    assert.ok(s.inTable('203.0.113.51'));
    quiet('ban', '203.0.113.51', '--for', '2h');
    await logged(/extend 203\.0\.113\.51 in manual/);
    assert.ok(s.inTable('203.0.113.51'), s.table());
    assert.equal(lastReconcile(), 'start');
    assert.doesNotMatch(daemonLog(), /failed/);
  });

  it('after a restart, holds what changed while it was stopped, and follows the log again', async () => {
    assert.equal(await s.stop(), 0);
    quiet('ban', '203.0.113.60', '--for', '1h');
    quiet('unban', '203.0.113.51');
    assert.ok(s.inTable('203.0.113.51') && !s.inTable('203.0.113.60'), 'the stopped daemon changed nothing');
    await s.start();
    assert.ok(s.inTable('203.0.113.60') && !s.inTable('203.0.113.51'), s.table());
    quiet('ban', '203.0.113.61', '--for', '1h');
    await waitFor('the ban after the restart in nftables', () => s.inTable('203.0.113.61'), 10_000);
    await logged(/took in 1 change made by another process \(up to #\d+\): ban 203\.0\.113\.61 in manual/);
    assert.equal(lastReconcile(), 'start');
  });

  it('a CLI ban or import tells the daemon, which takes it in at once, not at its next drift tick', async () => {
    await s.stop();
    // A drift check once a year: only the CLI's word can bring the change in within the bound.
    const conf = join(s.config, 'f2b-store.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('schedule = * * * * * *', 'schedule = 0 0 0 1 1 *'));
    await s.start();
    quiet('ban', '203.0.113.70', '--for', '1h');
    await waitFor('the CLI\'s ban in nftables', () => s.inTable('203.0.113.70'), 10_000);
    const list = join(s.config, 'list.txt');
    writeFileSync(list, '203.0.113.71\n203.0.113.72\n');
    quiet('import', 'list', list, '--for', '1h');
    await waitFor('the imported bans in nftables', () => s.inTable('203.0.113.71') && s.inTable('203.0.113.72'), 10_000);
    assert.equal(lastReconcile(), 'start');
  });
});

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { JAIL, sshdFailure } from '../helpers/sshd-daemon.js';

interface StatusJson {
  backends: { name: string; extra: number; kept: number }[];
  daemon: { lastReconcile: { backends: { name: string; kept: number }[] } };
}

/**
 * `start` on a database that cannot account for what the firewall holds (a typo in --db, a new
 * empty file) keeps those entries, says so once, and goes on banning; `reconcile --yes` is the
 * explicit word that removes them. hosts.deny is the firewall here: a file anyone can read.
 */
describe('the daemon on a new database keeps what the firewall holds', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let config: string;
  let authLog: string;
  let daemon: DaemonProcess | undefined;
  const addresses = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`);
  const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('ALL: '));
  const typo = (): string => join(tmp.dir, 'bans.sqlite3.typo');
  const cli = (db: string, ...rest: string[]): CliResult => runCli(['--db', db, '--config', config, ...rest]);
  const keptSaid = (): string[] => (daemon?.log() ?? '').split('\n').filter((line) => /hosts-deny holds \d+ entries that no ban in the database wants/.test(line));

  before(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'hosts.deny');
    writeFileSync(file, 'sshd: 10.9.9.9\n');
    config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\nschedule = * * * * * *\nfullcheck = 1s\n[hosts-deny]\nfile = ${file}\n`);
    authLog = join(tmp.dir, 'auth.log');
    writeFileSync(authLog, '');
    writeFileSync(join(config, 'jail.local'), JAIL(authLog));
    const real = join(tmp.dir, 'bans.sqlite3');
    const imported = runCli(['--db', real, '--config', config, 'import', 'list', '-'], { input: `${addresses.join('\n')}\n` });
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(cli(real, 'reconcile').code, 0);
    assert.equal(lines().length, 20);
  });
  after(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('starting on a new database removes nothing, and says once what it found, what it kept and how to go on', async () => {
    daemon = startDaemon(['--db', typo(), '--config', config]);
    await waitFor('the daemon watching its log', () => daemon!.log().includes('watching'), 20_000);
    await waitFor('the kept entries told', () => keptSaid().length > 0, 10_000);
    // Full checks run every second: a few of them pass.
    await sleep(3_000);
    assert.equal(lines().length, 20, `nothing removed:\n${daemon.log()}`);
    assert.deepEqual(keptSaid(), [keptSaid()[0]], `said once:\n${daemon.log()}`);
    assert.match(keptSaid()[0]!, /reconcile: hosts-deny holds 20 entries that no ban in the database wants, and the database has held fewer bans than that \(new, empty, or not the one meant: check --db\): kept them; new bans are applied as usual\. To remove them: f2b-store reconcile --yes/);
  });

  it('goes on banning, and status tells the kept entries', async () => {
    appendFileSync(authLog, sshdFailure('203.0.113.50').repeat(3));
    await waitFor('the new ban in hosts.deny', () => lines().includes('ALL: 203.0.113.50'), 10_000);
    assert.equal(lines().length, 21);
    const status = JSON.parse(cli(typo(), '--json', 'status').stdout) as StatusJson;
    assert.deepEqual(status.backends.map((b) => [b.name, b.extra, b.kept]), [['hosts-deny', 20, 20]]);
    assert.deepEqual(status.daemon.lastReconcile.backends.map((b) => [b.name, b.kept]), [['hosts-deny', 20]]);
    assert.match(cli(typo(), 'status').stdout, /hosts-deny: out of sync: 0 missing, 20 extra .*20 of the extra kept/);
    assert.equal(keptSaid().length, 1);
  });

  it('reconcile --yes removes them, and the daemon does not put them back', async () => {
    const refused = cli(typo(), 'reconcile');
    assert.equal(refused.code, 1, 'without --yes, the command refuses as the daemon keeps');
    assert.match(refused.stderr, /refusing to remove 20 of the 21 entries hosts-deny holds/);
    const forced = cli(typo(), '--json', 'reconcile', '--yes');
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(lines(), ['ALL: 203.0.113.50']);
    await sleep(3_000);
    assert.deepEqual(lines(), ['ALL: 203.0.113.50'], daemon!.log());
    const status = JSON.parse(cli(typo(), '--json', 'status').stdout) as StatusJson;
    assert.deepEqual(status.daemon.lastReconcile.backends.map((b) => [b.name, b.kept]), [['hosts-deny', 0]]);
    assert.equal(await daemon!.stop(), 0);
    daemon = undefined;
  });
});

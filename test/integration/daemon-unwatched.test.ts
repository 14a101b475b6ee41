import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';

describe('a jail whose log file does not exist and that cannot read the journal instead', () => {
  const tmp = tempDir();
  let daemon: DaemonProcess | undefined;
  after(async () => {
    await daemon?.stop();
    tmp.cleanup();
  });

  it('is a warning in the daemon\'s log at start, and status shows it watching nothing', async () => {
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    const log = join(tmp.dir, 'missing', 'auth.log');
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = none\n');
    // A file backend named: with auto, where journald runs, the jail would read the journal instead (daemon-journal.test.ts).
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nbackend = polling\nlogpath = ${log}\n`);
    const args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config];
    daemon = startDaemon(args);
    await waitFor('the warning', () => daemon!.log().includes(`WARNING jail sshd watches no log file: nothing matches ${log} (a system that logs only to the journal needs backend = systemd)`), 15_000);
    const status = JSON.parse(runCli([...args, '--json', 'status', 'sshd']).stdout) as { daemon: { running: boolean }; jails: { files: string[] }[] };
    assert.equal(status.daemon.running, true);
    assert.deepEqual(status.jails[0]!.files, []);
    assert.match(runCli([...args, 'status', 'sshd']).stdout, /File list:\t\n/);
  });
});

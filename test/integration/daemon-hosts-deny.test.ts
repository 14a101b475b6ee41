import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { scaled } from '../helpers/slowness.js';

describe('daemon drift loop (hosts-deny)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let daemon: DaemonProcess;
  let file: string;
  let args: string[];
  const has = (line: string): boolean => existsSync(file) && readFileSync(file, 'utf8').includes(`${line}\n`);

  before(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'hosts.deny');
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\nschedule = * * * * * *\nfullcheck = 1s\n[hosts-deny]\nfile = ${file}\n`);
    args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config];
    assert.equal(runCli([...args, '--backend', 'none', 'ban', '203.0.113.7', '--permanent']).code, 0);
    assert.equal(runCli([...args, '--backend', 'none', 'ban', '203.0.113.8', '--for', '10s']).code, 0);
  });
  after(async () => {
    await daemon?.stop();
    tmp.cleanup();
  });

  it('applies the stored bans at start', async () => {
    daemon = startDaemon(args);
    // The 10 s ban is there too unless the start took longer than it lasts (a 3 s one ran out at load 14).
    await waitFor('bans at start', () => has('ALL: 203.0.113.7') && has('ALL: 203.0.113.8'), 10_000);
    assert.ok(existsSync(join(tmp.dir, 'f2b-store.pid')));
  });

  it('repairs a wiped file by itself, within the schedule', async () => {
    writeFileSync(file, 'sshd: 10.0.0.1\n');
    const took = await waitFor('repair', () => has('ALL: 203.0.113.7'), 5_000);
    assert.ok(took < scaled(5_000));
    assert.match(readFileSync(file, 'utf8'), /^sshd: 10\.0\.0\.1\n/);
  });

  it('removes a ban when it expires', async () => {
    await waitFor('expiry', () => !has('ALL: 203.0.113.8'), 20_000);
    assert.ok(has('ALL: 203.0.113.7'));
  });

  it('refuses a second daemon on the same database', () => {
    const second = runCli([...args, 'start']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /another f2b-store daemon \(pid \d+\) already runs/);
  });

  it('stop ends it and leaves the bans in place', async () => {
    const result = runCli([...args, 'stop']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /stopped daemon pid \d+/);
    assert.equal(await daemon.stop(), 0, 'exited by itself, cleanly');
    assert.ok(has('ALL: 203.0.113.7'));
    assert.ok(!existsSync(join(tmp.dir, 'f2b-store.pid')));
    assert.match(daemon.log(), /SIGTERM: stopping; bans stay in the firewall/);
  });

  it('stop --flush removes them from the backend, not from the database', () => {
    const result = runCli([...args, 'stop', '--flush']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!has('ALL: 203.0.113.7'));
    assert.match(runCli([...args, 'list']).stdout, /203\.0\.113\.7/);
  });
});

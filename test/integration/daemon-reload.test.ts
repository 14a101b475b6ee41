import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { syslogDate } from '../helpers/sshd-daemon.js';
import { storeBansJson } from '../helpers/store.js';



describe('the daemon reloads its jails on SIGHUP (no firewall: backends = none)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let daemon: DaemonProcess;
  let args: string[];
  let config: string;
  const authLog = (): string => join(tmp.dir, 'auth.log');
  const mailLog = (): string => join(tmp.dir, 'mail.log');
  const failSsh = (address: string): void => appendFileSync(authLog(),
    `${syslogDate()} web1 sshd[4242]: Failed password for root from ${address} port 52144 ssh2\n`);
  // Polled: read in this process, as `list` reads the store.
  const banned = (): string[] => storeBansJson<{ address: string; jail: string }>(join(tmp.dir, 'bans.sqlite3'), (store, now) => store.active(now))
    .map((b) => `${b.jail} ${b.address}`).sort();
  const jails = (extra = ''): void => writeFileSync(join(config, 'jail.local'),
    `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${authLog()}\nmaxretry = 3\n${extra}`);

  before(async () => {
    tmp = tempDir();
    config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = none\n[daemon]\nlogfile = ${join(tmp.dir, 'bans.log')}\n`);
    writeFileSync(authLog(), '');
    writeFileSync(mailLog(), '');
    jails();
    args = ['--db', join(tmp.dir, 'bans.sqlite3'), '--config', config];
    daemon = startDaemon(args);
    await waitFor('the daemon watching its log', () => daemon.log().includes('watching 1 log files'), 15_000);
  });
  after(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('keeps the counters of an unchanged jail and starts a new one', async () => {
    failSsh('203.0.113.30');
    failSsh('203.0.113.30');
    await waitFor('two failures counted', () => /"totalFailed":2/.test(runCli([...args, '--json', 'status']).stdout), 5_000);
    jails(`\n[postfix-sasl]\nenabled = true\nfilter = postfix-sasl\nlogpath = ${mailLog()}\nmaxretry = 2\n`);
    daemon.child.kill('SIGHUP');
    await waitFor('the reload', () => daemon.log().includes('SIGHUP: reloaded; jails: sshd, postfix-sasl'), 10_000);
    failSsh('203.0.113.30');
    await waitFor('the third failure bans', () => banned().includes('sshd 203.0.113.30'), 5_000);
    for (let i = 0; i < 2; i++) {
      appendFileSync(mailLog(), `${syslogDate()} mail postfix/smtpd[77]: warning: unknown[198.51.100.31]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n`);
    }
    await waitFor('the new jail bans', () => banned().includes('postfix-sasl 198.51.100.31'), 5_000);
  });

  it('keeps running on the old jails when the new configuration is broken', async () => {
    writeFileSync(join(config, 'jail.local'), '[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\nmaxretry = lots\n');
    daemon.child.kill('SIGHUP');
    await waitFor('the refusal', () => /SIGHUP: the configuration has a problem, keeping the running one: .*jail\.local:5/.test(daemon.log()), 10_000);
    for (let i = 0; i < 3; i++) failSsh('203.0.113.32');
    await waitFor('the old sshd jail still bans', () => banned().includes('sshd 203.0.113.32'), 5_000);
    assert.ok(banned().includes('sshd 203.0.113.30'), 'earlier bans kept');
  });

  it('refuses a reload with a filter that does not compile, and the jail sharing its log goes on banning', async () => {
    jails(`\n[postfix-sasl]\nenabled = true\nfilter = postfix-sasl\nlogpath = ${mailLog()}\nmaxretry = 2\n`);
    daemon.child.kill('SIGHUP');
    await waitFor('the reload', () => daemon.log().split('SIGHUP: reloaded; jails: sshd, postfix-sasl').length === 3, 10_000);
    mkdirSync(join(config, 'filter.d'), { recursive: true });
    writeFileSync(join(config, 'filter.d', 'broken.conf'), '[Definition]\nfailregex = ^(broken <HOST>\n');
    jails(`\n[postfix-sasl]\nenabled = true\nfilter = postfix-sasl\nlogpath = ${mailLog()}\nmaxretry = 2\n`
      + `\n[broken]\nenabled = true\nfilter = broken\nlogpath = ${mailLog()}\n`);
    daemon.child.kill('SIGHUP');
    await waitFor('the refusal', () => /SIGHUP: the configuration has a problem, keeping the running one: .*filter\.d\/broken\.conf:2/.test(daemon.log()), 10_000);
    for (let i = 0; i < 2; i++) {
      appendFileSync(mailLog(), `${syslogDate()} mail postfix/smtpd[77]: warning: unknown[198.51.100.33]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n`);
    }
    await waitFor('the jail on the shared log still bans', () => banned().includes('postfix-sasl 198.51.100.33'), 5_000);
  });

  it('f2b-store reload asks the daemon over its socket: a broken configuration is exit 2 with the problem, a sound one names the jails', async () => {
    const broken = runCli([...args, 'reload']);
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr, /^f2b-store: the configuration has a problem, so the daemon keeps the running one: .*filter\.d\/broken\.conf:2.*\n$/);
    jails(`\n[postfix-sasl]\nenabled = true\nfilter = postfix-sasl\nlogpath = ${mailLog()}\nmaxretry = 2\n`);
    const sound = runCli([...args, 'reload', 'postfix-sasl']);
    assert.equal(sound.code, 0, sound.stderr);
    assert.equal(sound.stdout, 'reloaded; jails: sshd, postfix-sasl\n');
    await waitFor('the daemon to log the reload', () => /\breload: reloaded; jails: sshd, postfix-sasl/.test(daemon.log()), 5_000);
    const missing = runCli([...args, '--json', 'reload', 'dovecot']);
    assert.equal(missing.code, 2);
    assert.deepEqual(JSON.parse(missing.stdout), { reloaded: true, jails: ['sshd', 'postfix-sasl'] });
    assert.match(missing.stderr, /no enabled jail "dovecot" after the reload \(running: sshd, postfix-sasl\)/);
    failSsh('203.0.113.34');
    failSsh('203.0.113.34');
    failSsh('203.0.113.34');
    await waitFor('sshd still bans after the reloads', () => banned().includes('sshd 203.0.113.34'), 5_000);
  });

  it('f2b-store reload without a daemon says there is none (exit 1)', () => {
    const result = runCli(['--db', join(tmp.dir, 'elsewhere', 'bans.sqlite3'), '--config', config, 'reload']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no daemon answers on .*elsewhere\/f2b-store\.sock: nothing to reload/);
  });

  it('refuses to start with a filter that does not compile, naming its file and line', () => {
    jails(`\n[broken]\nenabled = true\nfilter = broken\nlogpath = ${mailLog()}\n`);
    const result = runCli([...args.map((a) => (a.endsWith('bans.sqlite3') ? join(tmp.dir, 'other.sqlite3') : a)), 'start']);
    assert.equal(result.code, 2, `exit 2: ${result.stderr}`);
    assert.match(result.stderr, /filter\.d\/broken\.conf:2/, 'names the file and line');
    assert.equal(result.stderr.trim().split('\n').length, 1, 'in one line');
  });
});

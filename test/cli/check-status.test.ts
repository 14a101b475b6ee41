import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

describe('check and status without a daemon (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  let db: string;

  before(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'etc');
    db = join(tmp.dir, 'bans.sqlite3');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = none\n');
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${join(tmp.dir, 'auth.log')}\n\n[web]\nenabled = false\nfilter = nginx-http-auth\nlogpath = /var/log/nginx/error.log\n`);
  });
  after(() => tmp.cleanup());

  it('check accepts the shipped defaults, fail2ban\'s own tree and a small jail.local', () => {
    for (const dir of [join(tmp.dir, 'missing'), '/etc/fail2ban', config]) {
      const result = runCli(['--config', dir, 'check']);
      assert.equal(result.code, 0, `${dir}: ${result.stderr}`);
      // On a machine without /var/log/auth.log where journald runs, sshd reads the journal and check says so.
      assert.match(result.stdout, /^configuration OK \(.*\): \d+ jails, 1 enabled: sshd\n(?:jail sshd: no log file matches .*: it reads the systemd journal instead \(backend = auto\)\n)?$/);
    }
  });

  it('check warns of a jail whose log files do not exist (it would watch nothing), and --strict refuses it', () => {
    const dir = join(tmp.dir, 'nolog');
    mkdirSync(dir);
    const logs = join(tmp.dir, 'logs');
    // A file backend named: with auto, where journald runs, the jail would read the journal instead (daemon-journal.test.ts).
    writeFileSync(join(dir, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nbackend = polling\nlogpath = ${logs}/auth.log\n           ${logs}/*/secure\n`);
    const warned = runCli(['--config', dir, 'check']);
    assert.equal(warned.code, 0, warned.stderr);
    assert.equal(warned.stderr, `f2b-store: warning: jail sshd: no log file matches ${logs}/auth.log, ${logs}/*/secure: it watches nothing until one appears `
      + '(a system that logs only to the journal needs backend = systemd)\n');
    const strict = runCli(['--config', dir, 'check', '--strict']);
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /^f2b-store: jail sshd: no log file matches .*; --strict refuses warnings\n$/);
    mkdirSync(join(logs, 'host1'), { recursive: true });
    writeFileSync(join(logs, 'host1', 'secure'), '');
    const found = runCli(['--config', dir, 'check', '--strict']);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(found.stderr, '');
    assert.deepEqual((JSON.parse(runCli(['--config', dir, '--json', 'check']).stdout) as { warnings: string[] }).warnings, []);
  });

  it('check names a broken f2b-store.conf by file and line, and warns of unknown sections and keys with a did-you-mean', () => {
    const dir = join(tmp.dir, 'typos');
    mkdirSync(dir);
    const conf = join(dir, 'f2b-store.conf');
    for (const [text, problem] of [
      ['[reconcile\nbackends = none\n', /f2b-store\.conf:1: a section header needs its closing "\]": \[reconcile\n$/],
      ['backends = none\n[reconcile]\n', /f2b-store\.conf:1: expected a \[section\] before this line: backends = none\n$/],
    ] as const) {
      writeFileSync(conf, text);
      const result = runCli(['--config', dir, 'check']);
      assert.equal(result.code, 2, text);
      assert.match(result.stderr, problem);
    }
    writeFileSync(conf, '[reconcile]\nbackends = none\nschedul = * * * * * *\n[lockuot]\nprotect = 192.0.2.1\n[daemon]\nfoo = 1\n');
    const warned = runCli(['--config', dir, 'check']);
    assert.equal(warned.code, 0, warned.stderr);
    assert.deepEqual(warned.stderr.trim().split('\n'), [
      `f2b-store: warning: ${conf}:3: unknown key "schedul" in [reconcile] (did you mean schedule?): ignored`,
      `f2b-store: warning: ${conf}:4: unknown section [lockuot] (did you mean lockout?): ignored`,
      `f2b-store: warning: ${conf}:7: unknown key "foo" in [daemon] (known: logfile, loglevel, logtarget, syslogsocket): ignored`,
    ]);
    assert.equal(runCli(['--config', dir, 'check', '--strict']).code, 2);
  });

  it('check refuses a broken jail with one line naming the file, line and value', () => {
    const broken = join(tmp.dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'jail.local'), '[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\nmaxretry = lots\n');
    const result = runCli(['--config', broken, 'check']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^f2b-store: .*broken\/jail\.local:5: .*maxretry.*lots.*\n$/);
  });

  it('status reads jails and bans from the database and the configuration', () => {
    assert.equal(runCli(['--db', db, '--config', config, 'ban', '203.0.113.7', '--jail', 'sshd', '--for', '1h']).code, 0);
    assert.equal(runCli(['--db', db, '--config', config, 'ban', '203.0.113.8', '--jail', 'sshd', '--for', '1h']).code, 0);
    assert.equal(runCli(['--db', db, '--config', config, 'unban', '203.0.113.8']).code, 0);
    const result = runCli(['--db', db, '--config', config, '--json', 'status']);
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as { daemon: { running: boolean }; jails: Record<string, unknown>[]; backends: unknown[] };
    assert.deepEqual(status.daemon, { running: false });
    assert.deepEqual(status.jails, [
      { name: 'sshd', enabled: true, currentlyFailed: 0, totalFailed: null, currentlyBanned: 1, totalBanned: 2, files: [join(tmp.dir, 'auth.log')], droppedLines: null, notRecords: null, journal: null },
      { name: 'web', enabled: false, currentlyFailed: 0, totalFailed: null, currentlyBanned: 0, totalBanned: 0, files: [], droppedLines: null, notRecords: null, journal: null },
    ]);
    assert.deepEqual(status.backends, []);
    const text = runCli(['--db', db, '--config', config, 'status', 'sshd']);
    // fail2ban-client status JAIL's layout, which scripts parse.
    assert.equal(text.stdout.split('\n').slice(0, 9).join('\n'), [
      'Status for the jail: sshd', '|- Filter', '|  |- Currently failed:\t0', '|  |- Total failed:\t-', `|  \`- File list:\t${join(tmp.dir, 'auth.log')}`,
      '`- Actions', '   |- Currently banned:\t1', '   |- Total banned:\t2', '   `- Banned IP list:\t203.0.113.7',
    ].join('\n'));
    assert.match(/Banned IP list:\s*(.*)/.exec(text.stdout)?.[1] ?? '', /^203\.0\.113\.7$/);
    assert.match(text.stdout, /daemon: not running/);
    const one = JSON.parse(runCli(['--db', db, '--config', config, '--json', 'status', 'sshd']).stdout) as { jails: { name: string; banned: string[] }[] };
    assert.deepEqual(one.jails.map((j) => [j.name, j.banned]), [['sshd', ['203.0.113.7']]]);
    const unknown = runCli(['--db', db, '--config', config, 'status', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no jail "nope" \(jails: sshd, web\)/);
  });

  it('status of a source = bans jail counts as failed the addresses with bans in its findtime not banned in it yet', () => {
    const recidive = join(tmp.dir, 'etc-recidive');
    mkdirSync(recidive);
    writeFileSync(join(recidive, 'f2b-store.conf'), '[reconcile]\nbackends = none\n');
    writeFileSync(join(recidive, 'jail.local'), '[recidive-store]\nenabled = true\nsource = bans\nfindtime = 1d\nbantime = 1w\nmaxretry = 3\n');
    const store = join(tmp.dir, 'recidive.sqlite3');
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--db', store, '--config', recidive, ...args]);
    assert.equal(cli('ban', '--jail', 'sshd', '198.51.100.1', '198.51.100.2').code, 0);
    assert.equal(cli('ban', '--jail', 'postfix', '198.51.100.1').code, 0);
    assert.equal(cli('ban', '--jail', 'recidive-store', '198.51.100.2').code, 0);
    const result = cli('--json', 'status', 'recidive-store');
    assert.equal(result.code, 0, result.stderr);
    const [jail] = (JSON.parse(result.stdout) as { jails: Record<string, unknown>[] }).jails;
    assert.deepEqual([jail?.currentlyFailed, jail?.currentlyBanned], [1, 1], '198.51.100.2 is banned in it already');
  });
});

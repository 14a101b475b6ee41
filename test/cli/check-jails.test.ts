import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { startDaemon, waitFor } from '../helpers/daemon.js';

describe('check and start warn of misspelt jail options and of actions that cannot run here (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  let local: string;
  let expected: string[];

  before(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'etc');
    mkdirSync(join(config, 'action.d'), { recursive: true });
    writeFileSync(join(tmp.dir, 'auth.log'), '');
    writeFileSync(join(config, 'f2b-store.conf'), '[reconcile]\nbackends = none\n[daemon]\nlogfile =\n');
    // An action calling a program no host has: nothing runs before a ban, so the daemon can start with it.
    writeFileSync(join(config, 'action.d', 'page-ops.conf'), '[Definition]\nactionban = f2bt-no-such-pager --to ops "<ip>" || logger paged\n');
    local = join(config, 'jail.local');
    writeFileSync(local, `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${join(tmp.dir, 'auth.log')}\naction = page-ops\n`
      + 'maxrety = 3\nbantme = 1h\nport = ssh\nmytime = 1h\n');
    expected = [
      `${local}:6: unknown option "maxrety" in [sshd] (did you mean maxretry?): ignored`,
      `${local}:7: unknown option "bantme" in [sshd] (did you mean bantime?): ignored`,
      `${local}:5: jail sshd: action "page-ops" cannot run here: f2bt-no-such-pager not found (install it, or choose another action)`,
    ];
  });
  after(() => tmp.cleanup());

  it('check: warnings on stderr and exit 0; --json lists them; --strict refuses them', () => {
    const warned = runCli(['--config', config, 'check']);
    assert.equal(warned.code, 0, warned.stderr);
    assert.deepEqual(warned.stderr.trim().split('\n'), expected.map((w) => `f2b-store: warning: ${w}`));
    assert.match(warned.stdout, /^configuration OK .*: 1 jails, 1 enabled: sshd\n$/);
    assert.deepEqual((JSON.parse(runCli(['--config', config, '--json', 'check']).stdout) as { warnings: string[] }).warnings, expected);
    const strict = runCli(['--config', config, 'check', '--strict']);
    assert.equal(strict.code, 2);
    assert.equal(strict.stderr, `f2b-store: ${expected[0]} (and 2 more warnings); --strict refuses warnings\n`);
  });

  it('check: a misspelt value of a closed set is an error with a did-you-mean', () => {
    const dir = join(tmp.dir, 'values');
    mkdirSync(dir);
    for (const [text, problem] of [
      ['enabled = ture', /jail\.local:2: \[sshd\] enabled: expected true or false .*not "ture" \(did you mean true\?\)\n$/],
      ['enabled = true\nbackend = pooling', /jail\.local:5: \[sshd\] backend: unknown backend "pooling" \(did you mean polling\?\)/],
      ['enabled = true\naction = sendmal-whois', /jail\.local:5: \[sshd\] action: no action "sendmal-whois" \(did you mean sendmail-whois\?\) in /],
      ['enabled = true\nlogformat = dockr', /jail\.local:5: \[sshd\] logformat: expected plain, docker, cri, not "dockr" \(did you mean docker\?\)/],
      ['enabled = true\nlogtimezone = Mars/Olympus', /jail\.local:5: \[sshd\] logtimezone: expected UTC, an offset like \+0200 or UTC-03:00, or a zone abbreviation like CET, not "Mars\/Olympus"\n$/],
    ] as const) {
      writeFileSync(join(dir, 'jail.local'), `[sshd]\n${text.split('\n')[0]}\nfilter = sshd\nlogpath = /var/log/auth.log\n${text.split('\n')[1] ?? ''}\n`);
      const result = runCli(['--config', dir, 'check']);
      assert.equal(result.code, 2, text);
      assert.match(result.stderr, problem);
    }
  });

  it('check warns of a logformat the jail\'s file does not follow, by its last line; --strict refuses it', () => {
    const dir = join(tmp.dir, 'formats');
    mkdirSync(dir);
    const plain = join(tmp.dir, 'plain.log');
    const docker = join(tmp.dir, 'c-json.log');
    writeFileSync(plain, 'Jan 12 10:11:12 web sshd[1]: Server listening on :: port 22.\n');
    writeFileSync(docker, `${JSON.stringify({ log: 'Server listening on :: port 22.\n', stream: 'stderr', time: '2024-01-12T10:11:12Z' })}\n`);
    const jail = (name: string, log: string, format: string): string => `[${name}]\nenabled = true\nfilter = sshd\nlogpath = ${log}\nlogformat = ${format}\n`;
    // A line still being written is not judged: the one before it is.
    const growing = join(tmp.dir, 'growing-json.log');
    writeFileSync(growing, `${readFileSync(docker, 'utf8')}{"log":"Accepted publickey for`);
    const unfinished = join(tmp.dir, 'unfinished.log');
    writeFileSync(unfinished, 'Jan 12 10:11:12 web sshd[1]: Server listening on');
    writeFileSync(join(dir, 'jail.local'), jail('told-docker', plain, 'docker') + jail('told-cri', docker, 'cri') + jail('right', docker, 'docker')
      + jail('growing', growing, 'docker') + jail('unfinished', unfinished, 'cri') + jail('not-started', join(tmp.dir, 'none', '*-json.log'), 'docker'));
    const checked = runCli(['--config', dir, 'check']);
    assert.equal(checked.code, 0, checked.stderr);
    assert.deepEqual(checked.stderr.trim().split('\n'), [
      `f2b-store: warning: jail told-docker: the last line of ${plain} is no docker record: with logformat = docker the jail skips every line that is not one (check logformat: cri or plain?)`,
      `f2b-store: warning: jail told-cri: the last line of ${docker} is no cri record: with logformat = cri the jail skips every line that is not one (check logformat: docker or plain?)`,
      // A container's log that is not there yet: no word of the journal.
      `f2b-store: warning: jail not-started: no log file matches ${join(tmp.dir, 'none', '*-json.log')}: it watches nothing until one appears `
        + '(with logformat = docker: the container\'s log appears when it starts)',
    ]);
    const strict = runCli(['--config', dir, 'check', '--strict']);
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /^f2b-store: jail told-docker: .* \(and 2 more warnings\); --strict refuses warnings\n$/);
  });

  it('start logs the same warnings when it loads the jails', async () => {
    const daemon = startDaemon(['--config', config, '--db', join(tmp.dir, 'bans.sqlite3'), '--backend', 'none']);
    try {
      await waitFor('the daemon to watch its log', () => /watching 1 log files/.test(daemon.log()), 60_000);
      for (const warning of expected) assert.ok(daemon.log().includes(` f2b-store: WARNING ${warning}\n`), `${warning} in:\n${daemon.log()}`);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.log());
    }
  });
});

describe('a jail whose filter cannot be read (the built binary)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: string;

  before(() => {
    tmp = tempDir();
    config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(tmp.dir, 'hosts.deny'), '');
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${join(tmp.dir, 'hosts.deny')}\n`);
    writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = f2bt-no-such-filter\nlogpath = ${join(tmp.dir, 'auth.log')}\n`);
  });
  after(() => tmp.cleanup());

  it('stops check, never a ban or unban by hand: those read no filter', () => {
    const checked = runCli(['--config', config, 'check']);
    assert.equal(checked.code, 2);
    assert.match(checked.stderr, /^f2b-store: .*jail\.local:3: filter "f2bt-no-such-filter": no filter "f2bt-no-such-filter" in /);
    const db = join(tmp.dir, 'bans.sqlite3');
    const banned = runCli(['--db', db, '--config', config, 'ban', '198.51.100.9', '--jail', 'sshd']);
    assert.equal(banned.code, 0, banned.stderr);
    assert.match(readFileSync(join(tmp.dir, 'hosts.deny'), 'utf8'), /^ALL: 198\.51\.100\.9$/m);
    const unbanned = runCli(['--db', db, '--config', config, 'unban', '198.51.100.9']);
    assert.equal(unbanned.code, 0, unbanned.stderr);
    assert.doesNotMatch(readFileSync(join(tmp.dir, 'hosts.deny'), 'utf8'), /198\.51\.100\.9/);
  });
});

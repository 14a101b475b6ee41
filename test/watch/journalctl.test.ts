import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError, journalSourceName, parseJournalMatch } from '../../src/core/index.js';
import { journalctlArgv, journalSourceArgs } from '../../src/watch/index.js';
import { cursorRealtime } from '../../src/watch/journalctl.js';

describe('journalctl\'s command line', () => {
  it('fail2ban\'s journal options as journalctl options: SYSTEM by default, LOCAL_ONLY unless --merge', () => {
    const cases: [Parameters<typeof journalSourceArgs>[0], string[]][] = [
      [{}, ['--system', '--merge']],
      [{ flags: 0 }, ['--merge']],
      [{ flags: 1 }, []],
      [{ flags: 5 }, ['--system']],
      [{ flags: 8 }, ['--user', '--merge']],
      [{ flags: 3 }, ['--directory=/run/log/journal']],
      [{ path: '/var/log/journal/remote' }, ['--directory=/var/log/journal/remote']],
      [{ path: '/j', flags: 4 }, ['--directory=/j', '--system']],
      [{ files: ['/j/a.journal', '/j/b*.journal'] }, ['--file=/j/a.journal', '--file=/j/b*.journal']],
      [{ namespace: 'web' }, ['--system', '--merge', '--namespace=web']],
    ];
    for (const [source, args] of cases) assert.deepEqual(journalSourceArgs(source), args, JSON.stringify(source));
  });

  it('one argument per option and per match term, never a shell; dies with its parent', () => {
    const match = parseJournalMatch('_SYSTEMD_UNIT=sshd.service + MESSAGE="a; rm -rf /"');
    const follow = journalctlArgv('journalctl', { source: { path: '/j' }, match, fields: ['HOST'], start: { cursor: 's=1;i=2' }, follow: true });
    assert.deepEqual(follow, [
      'setpriv', '--pdeathsig', 'TERM', '--', 'journalctl', '--directory=/j', '--cursor=s=1;i=2', '--follow', '--no-tail', '--all', '--output=json',
      '--output-fields=_HOSTNAME,SYSLOG_IDENTIFIER,_COMM,SYSLOG_PID,_PID,MESSAGE,_SOURCE_REALTIME_TIMESTAMP,_SOURCE_MONOTONIC_TIMESTAMP,_SYSTEMD_UNIT,HOST',
      '--no-pager', '--quiet', 'MESSAGE=a; rm -rf /', '+', '_SYSTEMD_UNIT=sshd.service',
    ]);
    const once = journalctlArgv('/usr/bin/journalctl', { source: {}, match: undefined, start: { since: 1_700_000_000.5 }, follow: false });
    assert.deepEqual(once.slice(4, 9), ['/usr/bin/journalctl', '--system', '--merge', '--since=@1700000000.5', '--all']);
    assert.throws(() => journalctlArgv('journalctl', { source: {}, match: undefined, fields: ['MESSAGE,X'], follow: true }),
      (e: unknown) => e instanceof InputError && /journal field "MESSAGE,X"/.test(e.message));
  });

  it('a source\'s name, the key its cursor is kept under', () => {
    assert.equal(journalSourceName({}), 'system');
    assert.equal(journalSourceName({ path: '/var/log/journal/remote', flags: 4 }), 'directory:/var/log/journal/remote flags=4');
    assert.equal(journalSourceName({ files: ['/j/a.journal', '/j/b*.journal'], namespace: 'web' }), 'files:/j/a.journal /j/b*.journal namespace=web');
  });

  it('the realtime of a cursor, from its t= part', () => {
    assert.equal(cursorRealtime('s=d6c6;i=1;b=0123;m=4c4b40;t=60a2418202240;x=42b4'), 1_700_000_000_123_456n);
    assert.equal(cursorRealtime('not a cursor'), undefined);
  });
});

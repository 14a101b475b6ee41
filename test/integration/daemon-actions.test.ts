import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';
import { syslogDate } from '../helpers/sshd-daemon.js';

/** An sshd jail (maxretry 2) on an empty auth.log in `dir` with `action`, and the daemon on it (no firewall backend), watching. */
async function actionDaemon(dir: string, config: string, action: string): Promise<{ daemon: DaemonProcess; args: string[] }> {
  writeFileSync(join(dir, 'auth.log'), '');
  writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = none\nschedule = * * * * * *\n[daemon]\nlogfile =\n`);
  writeFileSync(join(config, 'jail.local'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${join(dir, 'auth.log')}\nmaxretry = 2\n`
    + `action = ${action}\n`);
  const args = ['--db', join(dir, 'bans.sqlite3'), '--config', config];
  assert.equal(runCli([...args, 'check']).code, 0, 'check loads the action');
  const daemon = startDaemon(args);
  await waitFor('the daemon watching its log', () => daemon.log().includes('watching 1 log files'), 15_000);
  return { daemon, args };
}

describe('the daemon runs a jail\'s action.d actions (Debian\'s dummy action)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let daemon: DaemonProcess;
  let args: string[];
  let target: string;
  const actionFile = (): string => (existsSync(target) ? readFileSync(target, 'utf8') : '');

  before(async () => {
    tmp = tempDir();
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    target = join(tmp.dir, 'dummy.out');
    ({ daemon, args } = await actionDaemon(tmp.dir, config, `dummy[target="${target}"]`));
  });
  after(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('starts the action, bans through it, and unbans through it when the ban is lifted', async () => {
    await waitFor('actionstart', () => actionFile().startsWith('123\n'), 5_000);
    for (let i = 0; i < 2; i++) {
      appendFileSync(join(tmp.dir, 'auth.log'), `${syslogDate()} web1 sshd[77]: Failed password for root from 203.0.113.60 port 4000 ssh2\n`);
    }
    await waitFor('actionban', () => actionFile().includes('+203.0.113.60\n'), 5_000);
    assert.equal(runCli([...args, 'unban', '203.0.113.60']).code, 0);
    await waitFor('actionunban on the next reconcile', () => actionFile().includes('-203.0.113.60\n'), 8_000);
  });
});

describe('the daemon fills an action\'s tags of why with what caused the ban: <F-USER>, <matches>', () => {
  let tmp: ReturnType<typeof tempDir>;
  let daemon: DaemonProcess;
  let args: string[];
  let target: string;
  const actionFile = (): string => (existsSync(target) ? readFileSync(target, 'utf8') : '');

  before(async () => {
    tmp = tempDir();
    const config = join(tmp.dir, 'etc');
    mkdirSync(join(config, 'action.d'), { recursive: true });
    target = join(tmp.dir, 'why.out');
    writeFileSync(join(config, 'action.d', 'why-file.conf'), [
      '[Definition]',
      "actionban = printf '%%s user=%%s fid=%%s\\n%%s\\n--\\n' <ip> <F-USER> <fid> \\<matches> >> <target>",
      'actionunban =',
      '[Init]',
      'target =',
    ].join('\n'));
    ({ daemon, args } = await actionDaemon(tmp.dir, config, `why-file[target="${target}"]`));
  });
  after(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('actionban gets the user the filter captured and the matched lines, and show tells the same', async () => {
    const lines = ['root', 'admin'].map((user) => `${syslogDate()} web1 sshd[78]: Failed password for invalid user ${user} from 203.0.113.61 port 4000 ssh2`);
    appendFileSync(join(tmp.dir, 'auth.log'), lines.map((line) => `${line}\n`).join(''));
    await waitFor('actionban', () => actionFile().includes('--\n'), 8_000);
    assert.equal(actionFile(), `203.0.113.61 user=admin fid=203.0.113.61\n${lines.join('\n')}\n--\n`);
    const shown = JSON.parse(runCli([...args, '--json', 'show', '203.0.113.61']).stdout) as { why: { matches: string[]; captures: Record<string, string>; failureTimes: string[] } }[];
    assert.deepEqual(shown.map((ban) => [ban.why.matches, ban.why.captures, ban.why.failureTimes.length]), [[lines, { user: 'admin' }, 2]]);
  });
});

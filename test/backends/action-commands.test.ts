import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { actionStateFile, createActionBackend, type BanDetails } from '../../src/backends/action-commands.js';
import { fillTemplate, parseTemplate } from '../../src/backends/shell-template.js';
import type { Backend, Entry } from '../../src/backends/index.js';
import { loadAction, type LoadedAction } from '../../src/config/action-definition.js';
import type { Ban } from '../../src/core/index.js';
import { reconcile } from '../../src/reconcile/index.js';
import { tempDir } from '../helpers/cli.js';

const NOW = 1_800_000_000;
const STOCK = '/etc/fail2ban/action.d';

const entry = (address: string, expiresAt: number | null = NOW + 600, jail = 'sshd'): Entry =>
  ({ jail, address, family: address.includes(':') ? 6 : 4, expiresAt });

const ban = (address: string, bannedAt = NOW, jail = 'sshd'): Ban => ({
  address, jail, bannedAt, expiresAt: bannedAt + 3600, source: 'filter', reason: null, failures: 5, banCount: 1, liftedAt: null, liftedBy: null, forced: false,
});

const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');

describe('shell templates: where a tag stands and how its value reaches the shell', () => {
  const isTag = (name: string): boolean => ['ip', 'matches', 'F-USER'].includes(name);
  const contexts = (script: string): string[] =>
    parseTemplate(script, isTag).flatMap((part) => ('tag' in part ? [`${part.tag}:${part.context}`] : []));

  it('reads quotes, substitutions, here-documents and comments', () => {
    assert.deepEqual(contexts('echo <ip> "<ip>" \'<ip>\' "a $(printf \'%s\' "<matches>") `echo <F-USER>`"'),
      ['ip:unquoted', 'ip:double', 'ip:single', 'matches:double', 'F-USER:unquoted']);
    assert.deepEqual(contexts('x=${y:-<ip>}; echo $((<ip> + 1)) \\<ip> "\\<ip>" \'it\'"\'"\'s <ip>\''), ['ip:other', 'ip:other', 'ip:unquoted', 'ip:double', 'ip:single']);
    assert.deepEqual(contexts("cat <<EOF >> f\nuser '<F-USER>' \"<ip>\"\nEOF\necho '<ip>'"), ['F-USER:other', 'ip:other', 'ip:single']);
    assert.deepEqual(contexts("cat <<-'END'\n\t<matches>\n\tEND\necho <ip> # don't <ip>\necho '<ip>'"), ['matches:other', 'ip:unquoted', 'ip:other', 'ip:single']);
    const script = 'printf "%s\\n" "<ip>"\necho <F-USER> >> /tmp/x';
    assert.equal(parseTemplate(script, isTag).map((p) => ('tag' in p ? `<${p.tag}>` : p.text)).join(''), script, 'nothing is lost');
  });

  it('passes every value that is not plain as a parameter; the script text stays the action\'s', () => {
    const hostile = '$(touch /tmp/MARK); `id` \'x\' "y" \\ *\n<ip>';
    const parts = parseTemplate('echo <ip> <F-USER> "<matches>" \'<F-USER>\' <F-USER>', isTag);
    const filled = fillTemplate(parts, (tag) => (tag === 'ip' ? { text: '198.51.100.0/24', trusted: true } : tag === 'F-USER' ? { text: hostile } : { text: 'plain-value_1.2' }));
    assert.equal(filled.script, 'f2bV_F_USER=${1}\necho 198.51.100.0/24 "${f2bV_F_USER}" "plain-value_1.2" \'${f2bV_F_USER}\' "${f2bV_F_USER}"');
    assert.deepEqual(filled.params, [hostile]);
    const nul = fillTemplate(parts, (tag) => ({ text: tag === 'ip' ? 'a/b' : 'a\0b c' }));
    assert.deepEqual(nul.params, ['a/b', 'ab c', 'ab c'], 'NUL cannot be passed in an argument: it is dropped; "/" is plain only in our own values');
    const long = fillTemplate(parseTemplate('echo "<matches>"', isTag), () => ({ text: `${'é'.repeat(40_000)} end` }));
    assert.equal(Buffer.byteLength(long.params[0] ?? ''), 64 * 1024, 'a value is cut to 64 KiB, at a character boundary');
  });
});

describe('action.d commands as a backend', () => {
  let dir = '';
  let cleanup = (): void => undefined;
  const savedPath = process.env.PATH;
  before(() => {
    ({ dir, cleanup } = tempDir('f2bt-actions-'));
    mkdirSync(join(dir, 'action.d'));
    // `reboot` in a hostile value resolves to this harmless stand-in, which leaves a mark.
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'reboot'), `#!/bin/sh\ntouch '${join(dir, 'MARK')}'\n`);
    chmodSync(join(dir, 'bin', 'reboot'), 0o755);
    process.env.PATH = `${join(dir, 'bin')}:${savedPath ?? '/usr/bin:/bin'}`;
  });
  after(() => {
    process.env.PATH = savedPath;
    cleanup();
  });

  let serial = 0;
  function action(body: string, options: Record<string, string> = {}, jail = 'sshd'): LoadedAction {
    const name = `custom${++serial}`;
    writeFileSync(join(dir, 'action.d', `${name}.conf`), body.replaceAll('DIR', dir));
    return loadAction({ name, options, origin: { file: 'jail.local', line: 1 }, file: join(dir, 'action.d', `${name}.conf`) }, { name: jail, bantime: 600 });
  }
  function stock(name: string, options: Record<string, string>): LoadedAction {
    return loadAction({ name, options, origin: { file: 'jail.local', line: 1 }, file: join(STOCK, `${name}.conf`) }, { name: 'sshd', bantime: 600 });
  }
  function backend(loaded: LoadedAction, details?: (address: string) => BanDetails | undefined, boot = 'boot-1'): Backend {
    return createActionBackend({
      action: loaded, jail: 'sshd', stateFile: join(dir, 'state', `${loaded.actname}.json`), boot,
      ...(details === undefined ? {} : { details: (_jail: string, address: string) => details(address) }),
    });
  }

  it('keeps its record beside the database', () => {
    assert.equal(actionStateFile('/var/lib/f2b-store/f2b-store.sqlite3', 'sshd', 'sendmail-whois'), '/var/lib/f2b-store/actions/sshd-sendmail-whois.json');
    assert.equal(actionStateFile('/db/x.sqlite3', 'web', 'a/b c'), '/db/actions/web-a_b_c.json');
  });

  it("runs Debian's dummy action: start, ban, unban, flush and stop write what fail2ban writes", async () => {
    const target = join(dir, 'dummy.target');
    const log = join(dir, 'dummy.log');
    const dummy = backend(stock('dummy', { target, to_target: `>> ${log}` }));
    assert.equal(dummy.name, 'action:sshd:dummy');
    assert.equal((await dummy.ensure([], NOW)).ran.length, 1, 'actionstart runs');
    assert.deepEqual((await dummy.ensure([], NOW)).ran, [], 'and only once');
    assert.ok(existsSync(target), 'actionstart touched the target');
    const report = await dummy.apply({ add: [entry('203.0.113.7'), entry('2001:db8::1', null)], remove: [] }, [], NOW);
    assert.deepEqual(report, { added: 2, removed: 0, failed: [] });
    assert.deepEqual((await dummy.list()).map((e) => e.address).sort(), ['2001:db8::1', '203.0.113.7']);
    assert.deepEqual(await dummy.apply({ add: [], remove: [entry('203.0.113.7')] }, [], NOW), { added: 0, removed: 1, failed: [] });
    assert.equal(read(log), '123\n+203.0.113.7\n+2001:db8::1\n-203.0.113.7\n');
    await dummy.flush();
    assert.equal(read(log), '123\n+203.0.113.7\n+2001:db8::1\n-203.0.113.7\n-*\n', 'actionflush instead of one unban per address');
    assert.ok(!existsSync(target), 'actionstop removed the target');
    assert.deepEqual(await dummy.list(), []);
    assert.equal((await dummy.ensure([], NOW)).ran.length, 1, 'after a flush the action starts again');
  });

  describe('hostile values from log lines never run', () => {
    const mark = (): string => join(dir, 'MARK');
    const hostile = [
      '$(reboot)', '`reboot`', '; reboot', ';reboot;', "' ; reboot ; '", '" ; reboot ; "', 'x\nreboot', 'x\rreboot', '| reboot', '&& reboot',
      'a reboot', '$(touch MARK)', '`touch MARK`', '${PATH}', '$HOME', '*', '~root', 'a\\b\\', '\\', '\\$(reboot)', "\\'$(reboot)'",
      '<ip>', '<F-USER>', '%s%n', '-n', 'bob', 'üser ☃', '"\'"\'`$(reboot)`\'"',
    ];

    it('the reboot stand-in is what a hostile "reboot" would run', () => {
      assert.equal(execFileSync('/bin/sh', ['-c', 'command -v reboot'], { encoding: 'utf8' }).trim(), join(dir, 'bin', 'reboot'));
    });

    it('in <F-USER> and <matches>: unquoted, in "…", in \'…\', in assignments, env, $(…) and here-documents', async () => {
      const out = join(dir, 'hostile');
      mkdirSync(out);
      const loaded = action([
        '[Definition]',
        "actionban = printf '%%s' <F-USER> > <out>/<ip>.unquoted",
        `            printf '%%s' "<F-USER>" > <out>/<ip>.double`,
        `            printf '%%s' '<F-USER>' > <out>/<ip>.single`,
        `            printf '%%s' "lines: <matches>!" > <out>/<ip>.matches`,
        `            printf '%%s' <matches> > <out>/<ip>.matches-unquoted`,
        `            printf '%%s' \\<matches> > <out>/<ip>.matches-escaped`,
        `            printf '%%s' "\\<F-USER>" > <out>/<ip>.escaped`,
        `            user=<F-USER>; printf '%%s' "$user" > <out>/<ip>.assigned`,
        `            env F2B_USER=<F-USER> sh -c 'printf "%%s" "$F2B_USER"' > <out>/<ip>.env`,
        `            printf '%%s' "$(printf '%%s' "<F-USER>")" > <out>/<ip>.substituted`,
        '            cat > <out>/<ip>.heredoc <<EOF',
        '            <F-USER>',
        '            EOF',
        '[Init]',
        'out = DIR/hostile',
      ].join('\n'));
      const addresses = hostile.map((_, i) => `203.0.113.${10 + i}`);
      const details = (address: string): BanDetails => {
        const value = hostile[addresses.indexOf(address)] ?? '';
        return { bannedAt: NOW, expiresAt: NOW + 600, failures: 3, banCount: 1, matches: [value, `second ${value}`], captures: { user: value } };
      };
      const report = await backend(loaded, details).apply({ add: addresses.map((a) => entry(a)), remove: [] }, [], NOW);
      assert.deepEqual(report.failed, []);
      assert.ok(!existsSync(mark()), 'no hostile value ran a command');
      for (const [i, value] of hostile.entries()) {
        const file = (kind: string): string => read(join(out, `${addresses[i]}.${kind}`));
        const plain = /^[\w.:@%+,=-]*$/.test(value);
        const label = JSON.stringify(value);
        for (const kind of ['unquoted', 'double', 'assigned', 'env', 'substituted', 'escaped']) assert.equal(file(kind), value, `${kind} ${label}`);
        assert.equal(file('heredoc'), `${value}\n`, `heredoc ${label}`);
        assert.equal(file('matches'), `lines: ${value}\nsecond ${value}!`, `matches ${label}`);
        assert.equal(file('matches-unquoted'), `${value}\nsecond ${value}`, `unquoted matches stay one word ${label}`);
        assert.equal(file('matches-escaped'), `${value}\nsecond ${value}`, `\\<matches> is the lines, not a variable's name ${label}`);
        // In '…' only a plain value is written; any other stays the inert name of its variable (as in fail2ban 1.0.2).
        assert.equal(file('single'), plain ? value : '${f2bV_F_USER}', `single ${label}`);
      }
    });

    it("in Debian's sendmail-whois-matches mail: the log lines arrive as written", async () => {
      const mail = join(dir, 'mail.txt');
      const lines = ['Failed password for $(reboot) from 203.0.113.20', "Invalid user ' ; reboot ; ' from 203.0.113.20", 'Invalid user " `reboot` " from 203.0.113.20'];
      const loaded = stock('sendmail-whois-matches', { mailcmd: `cat >> ${mail}`, _whois_command: 'echo no whois here', dest: 'root@example.org' });
      const report = await backend(loaded, () => ({ bannedAt: NOW, expiresAt: NOW + 600, failures: 3, banCount: 1, matches: lines }))
        .apply({ add: [entry('203.0.113.20')], remove: [] }, [], NOW);
      assert.deepEqual(report.failed, []);
      assert.ok(!existsSync(mark()), 'no hostile log line ran a command');
      const [started, banned] = read(mail).split(/(?=^Subject: )|(?<=Fail2Ban)(?=Subject: )/m);
      assert.match(started ?? '', /^Subject: \[Fail2Ban\] sshd: started on /, 'actionstart mailed first');
      const text = banned ?? '';
      assert.match(text, /^Subject: \[Fail2Ban\] sshd: banned 203\.0\.113\.20 from /);
      assert.match(text, /The IP 203\.0\.113\.20 has just been banned by Fail2Ban after\n3 attempts against sshd\./);
      assert.ok(text.includes(`Matches:\n\n${lines.join('\n')}\n\n`), `the matches are in the mail:\n${text}`);
      assert.ok(text.includes('no whois here'), 'the whois command given as argument ran');
    });
  });

  it('fills the tags of a ban as fail2ban does', async () => {
    const out = join(dir, 'tags');
    mkdirSync(out);
    const loaded = action([
      '[Definition]',
      "actionban = printf '%%s|' <ip> <ip-rev> <family> <fid> <failures> <time> <bantime> <bancount> <restored> <F-USER> \"<F-NOPE>\" \"<ipmatches>\" <ipjailfailures> <sh-hostname> > DIR/tags/<ip>",
    ].join('\n'));
    const details = (address: string): BanDetails | undefined => (address === '203.0.113.5'
      ? { bannedAt: NOW - 100, expiresAt: NOW + 500, failures: 4, banCount: 2, matches: ['l1', 'l2'], captures: { user: 'bob', fid: 'id-7' } }
      : undefined);
    const actions = backend(loaded, details);
    await actions.ensure([], NOW);
    await actions.apply({ add: [entry('203.0.113.5'), entry('2001:db8::1', null)], remove: [] }, [], NOW);
    const host = execFileSync('hostname', { encoding: 'utf8' }).trim().split('.')[0];
    assert.equal(read(join(out, '203.0.113.5')), `203.0.113.5|5.113.0.203.|inet4|id-7|4|${NOW - 100}|600|2|1|bob||l1\nl2|4|${host}|`);
    assert.equal(read(join(out, '2001:db8::1')),
      `2001:db8::1|1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.|inet6|2001:db8::1|0|${NOW}|-1|0|0|||0|${host}|`,
      'a ban the store knows nothing more of: its own address, permanent, not restored');
  });

  it('reports a failing command with its output, and the next reconcile tries again', async () => {
    const log = join(dir, 'retry.log');
    const loaded = action([
      '[Definition]',
      'actionban = test -e DIR/retry.ready || { touch DIR/retry.ready; echo "firewall busy" >&2; exit 3; }',
      '            echo +<ip> >> DIR/retry.log',
    ].join('\n'));
    const actions = backend(loaded);
    const [first] = await reconcile([ban('203.0.113.8')], [actions], NOW);
    assert.equal(first?.error, null);
    assert.equal(first?.failed.length, 1);
    assert.match(first?.failed[0]?.error ?? '', /^action:sshd:custom\d+: actionban: exit 3: firewall busy$/);
    assert.deepEqual(await actions.list(), [], 'a failed ban is not recorded as held');
    const [second] = await reconcile([ban('203.0.113.8')], [actions], NOW + 10);
    assert.deepEqual([second?.added, second?.failed], [1, []]);
    assert.equal(read(log), '+203.0.113.8\n');
    const [third] = await reconcile([ban('203.0.113.8')], [actions], NOW + 20);
    assert.deepEqual([third?.added, third?.unchanged], [0, 1], 'held bans are not banned again');
  });

  it('kills the whole process group of a command that runs past its timeout', async () => {
    const pidFile = join(dir, 'timeout.pid');
    const loaded = action(['[Definition]', 'actionban = sleep 30 & echo $! > DIR/timeout.pid; wait', '[Init]', 'timeout = 1'].join('\n'));
    const started = Date.now();
    const report = await backend(loaded).apply({ add: [entry('203.0.113.9')], remove: [] }, [], NOW);
    assert.ok(Date.now() - started < 10_000, `stopped after its timeout (${Date.now() - started} ms)`);
    assert.match(report.failed[0]?.error ?? '', /actionban: timed out after 1 s/);
    const pid = Number(read(pidFile));
    assert.ok(pid > 0, 'the background child wrote its pid');
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        process.kill(pid, 0);
        await sleep(50);
      } catch {
        alive = false;
      }
    }
    assert.ok(!alive, 'the background child was killed with its shell');
  });

  it('a command that leaves a child in the background is done when its shell is', async () => {
    const loaded = action(['[Definition]', 'actionban = sleep 3 & echo +<ip> >> DIR/background.log'].join('\n'));
    const started = Date.now();
    const report = await backend(loaded).apply({ add: [entry('203.0.113.12')], remove: [] }, [], NOW);
    assert.deepEqual(report.failed, []);
    assert.ok(Date.now() - started < 2500, `did not wait for the background child (${Date.now() - started} ms)`);
    assert.equal(read(join(dir, 'background.log')), '+203.0.113.12\n');
  });

  it('runs actioncheck; a broken environment is repaired and its bans replayed', async () => {
    const log = join(dir, 'repair.log');
    const body = (repair: string): string => [
      '[Definition]',
      'actionstart = touch DIR/repair.ready; echo start >> DIR/repair.log',
      'actionstop = rm -f DIR/repair.ready; echo stop >> DIR/repair.log',
      'actioncheck = test -e DIR/repair.ready',
      repair,
      'actionban = echo +<ip> >> DIR/repair.log',
    ].join('\n');
    const withRepair = backend(action(body('actionrepair = touch DIR/repair.ready; echo repair >> DIR/repair.log')));
    await reconcile([ban('203.0.113.30')], [withRepair], NOW);
    await reconcile([ban('203.0.113.30')], [withRepair], NOW + 10);
    assert.equal(read(log), 'start\n+203.0.113.30\n', 'a passing check changes nothing');
    rmSync(join(dir, 'repair.ready'));
    const [repaired] = await reconcile([ban('203.0.113.30')], [withRepair], NOW + 20);
    assert.deepEqual([repaired?.error, repaired?.added], [null, 1]);
    assert.equal(read(log), 'start\n+203.0.113.30\nrepair\n+203.0.113.30\n');

    rmSync(log);
    const restart = backend(action(body('')));
    await reconcile([ban('203.0.113.31')], [restart], NOW);
    rmSync(join(dir, 'repair.ready'));
    await reconcile([ban('203.0.113.31')], [restart], NOW + 10);
    assert.equal(read(log), 'start\n+203.0.113.31\nstop\nstart\n+203.0.113.31\n', 'without actionrepair: actionstop, actionstart');

    const broken = backend(action(body('actionrepair = false')));
    await reconcile([ban('203.0.113.32')], [broken], NOW);
    rmSync(join(dir, 'repair.ready'));
    const [failed] = await reconcile([ban('203.0.113.32')], [broken], NOW + 10);
    assert.match(failed?.error ?? '', /: actioncheck: exit 1; actionrepair: exit 1$/, 'an environment that cannot be repaired is the backend\'s error');
  });

  it('after a reboot the action starts again and gets its bans again, unless it is norestored', async () => {
    const log = join(dir, 'boot.log');
    const body = (extra: string): string => [
      '[Definition]',
      'actionstart = echo start >> DIR/boot.log',
      'actionban = echo "+<ip> restored=<restored>" >> DIR/boot.log',
      extra,
    ].join('\n');
    const plain = action(body(''));
    await reconcile([ban('203.0.113.40')], [backend(plain, undefined, 'boot-1')], NOW);
    await reconcile([ban('203.0.113.40')], [backend(plain, undefined, 'boot-1')], NOW + 10);
    await reconcile([ban('203.0.113.40')], [backend(plain, () => ({ bannedAt: NOW, expiresAt: NOW + 3600, failures: 5, banCount: 1, matches: [] }), 'boot-2')], NOW + 20);
    assert.equal(read(log), 'start\n+203.0.113.40 restored=0\nstart\n+203.0.113.40 restored=1\n');

    rmSync(log);
    const quiet = action(body('norestored = true'));
    await reconcile([ban('203.0.113.41')], [backend(quiet, undefined, 'boot-1')], NOW);
    await reconcile([ban('203.0.113.41')], [backend(quiet, undefined, 'boot-2')], NOW + 20);
    assert.equal(read(log), 'start\n+203.0.113.41 restored=0\nstart\n');
  });

  it('an action with [Init?family=inet6] starts each family at its first ban and stops both', async () => {
    const log = join(dir, 'family.log');
    const actions = backend(action([
      '[Definition]',
      'actionstart = echo start <family> >> DIR/family.log',
      'actionstop = echo stop <family> >> DIR/family.log',
      'actionban = echo ban <ip> with <tool> >> DIR/family.log',
      'actionunban = echo unban <ip> with <tool> >> DIR/family.log',
      '[Init]',
      'tool = ip4tool',
      '[Init?family=inet6]',
      'tool = ip6tool',
    ].join('\n')));
    assert.deepEqual((await actions.ensure([], NOW)).ran, [], 'nothing starts before a ban');
    await actions.apply({ add: [entry('203.0.113.50')], remove: [] }, [], NOW);
    await actions.apply({ add: [entry('2001:db8::50'), entry('203.0.113.51')], remove: [] }, [], NOW);
    await actions.flush();
    assert.equal(read(log), [
      'start inet4', 'ban 203.0.113.50 with ip4tool', 'start inet6', 'ban 2001:db8::50 with ip6tool', 'ban 203.0.113.51 with ip4tool',
      'unban 203.0.113.50 with ip4tool', 'unban 203.0.113.51 with ip4tool', 'stop inet4', 'unban 2001:db8::50 with ip6tool', 'stop inet6', '',
    ].join('\n'));
  });

  it('an extended ban runs actionprolong, not an unban and a ban', async () => {
    const log = join(dir, 'prolong.log');
    const actions = backend(action([
      '[Definition]',
      'actionban = echo +<ip> >> DIR/prolong.log',
      'actionunban = echo -<ip> >> DIR/prolong.log',
      'actionprolong = echo "~<ip> <bantime>" >> DIR/prolong.log',
    ].join('\n')));
    await actions.apply({ add: [entry('203.0.113.60', NOW + 600)], remove: [] }, [], NOW);
    const report = await actions.apply({ add: [entry('203.0.113.60', NOW + 7200)], remove: [entry('203.0.113.60', NOW + 600)] }, [], NOW);
    assert.deepEqual(report, { added: 1, removed: 0, failed: [] });
    assert.equal(read(log), '+203.0.113.60\n~203.0.113.60 7200\n');
    assert.deepEqual((await actions.list()).map((e) => e.address), ['203.0.113.60']);
  });

  it('overlapping calls run one at a time: one address is banned once', async () => {
    const log = join(dir, 'overlap.log');
    const actions = backend(action(['[Definition]', 'actionban = sleep 0.1; echo +<ip> >> DIR/overlap.log'].join('\n')));
    const diff = { add: [entry('203.0.113.70')], remove: [] };
    await Promise.all([actions.apply(diff, [], NOW), actions.apply(diff, [], NOW), actions.ensure([], NOW)]);
    assert.equal(read(log), '+203.0.113.70\n');
  });

  it('plans the exact commands, log text only in their parameters', () => {
    const actions = backend(action(['[Definition]', 'actionban = logger -t f2b "ban <ip>: <matches>"', 'actionunban = logger -t f2b "unban <ip>"'].join('\n')),
      () => ({ bannedAt: NOW, expiresAt: null, failures: 1, banCount: 1, matches: ['$(reboot)'] }));
    const plan = actions.plan({ add: [entry('203.0.113.80')], remove: [entry('203.0.113.81')] }, [], NOW);
    assert.deepEqual(plan.map((c) => c.argv), [
      ['/bin/sh', '-c', 'logger -t f2b "unban 203.0.113.81"', 'f2b-store'],
      ['/bin/sh', '-c', 'f2bV_matches=${1}\nlogger -t f2b "ban 203.0.113.80: ${f2bV_matches}"', 'f2b-store', '$(reboot)'],
    ]);
  });

  it('keeps only its own jail', () => {
    const actions = backend(action('[Definition]\nactionban = true'));
    assert.deepEqual(actions.represent([entry('203.0.113.1'), entry('203.0.113.2', null, 'web')]), [entry('203.0.113.1')]);
  });
});

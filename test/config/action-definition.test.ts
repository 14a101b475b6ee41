import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAction, type ActionJail, type LoadedAction } from '../../src/config/action-definition.js';
import { ACTION_COMMANDS } from '../../src/core/index.js';
import type { JailAction } from '../../src/config/index.js';
import { InputError } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

const STOCK = '/etc/fail2ban/action.d';
const SSHD: ActionJail = { name: 'sshd', port: 'ssh', protocol: 'tcp', bantime: 600 };

function jailAction(name: string, options: Record<string, string> = {}, dir = STOCK): JailAction {
  const file = readdirSync(dir).includes(`${name}.conf`) ? join(dir, `${name}.conf`) : join(dir, name);
  return { name, options, origin: { file: '/etc/f2b-store/jail.local', line: 7 }, file };
}

function throwsInput(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InputError && expected.test(e.message) && !e.message.includes('\n'), `expected an InputError like ${expected}`);
}

/** What fail2ban's own ActionReader and CommandAction make of an action, per family ('' = no family). */
interface Fail2banAction {
  readonly error?: string;
  readonly timeout: number;
  readonly families: Record<string, Record<string, string>>;
}

const FAIL2BAN = `
import json, sys, logging
logging.disable(logging.CRITICAL)
from fail2ban.client.actionreader import ActionReader
from fail2ban.server.action import CommandAction
from fail2ban.server.ipdns import DNSUtils
commands = ${JSON.stringify(ACTION_COMMANDS)}
out = {'fq': DNSUtils.getHostname(fqdn=True), 'sh': DNSUtils.getHostname(fqdn=False), 'actions': []}
for item in json.loads(sys.argv[1]):
    try:
        reader = ActionReader(item['name'], item['jail'], dict(item['options']), basedir='/etc/fail2ban')
        if not reader.read(): raise Exception('cannot read')
        reader.getOptions({})
        action = CommandAction(None, item['name'])
        for cmd in reader.convert():
            if cmd[2] == 'addaction': continue
            for k, v in (cmd[4] if cmd[0] == 'multi-set' else [cmd[4:6]]): setattr(action, k, v)
        def op(tag, fam):
            v = (action._getOperation('<%s>' % tag, fam) or '').strip()
            return '' if v == '<%s>' % tag else v
        out['actions'].append({'timeout': action.timeout, 'families': dict(
            (fam, dict((t, op(t, fam)) for t in commands)) for fam in ['', 'inet4', 'inet6'])})
    except Exception as e:
        out['actions'].append({'error': str(e)})
print(json.dumps(out))
`;

function fail2banResolves(items: readonly { name: string; jail: string; options: Record<string, string> }[]): { fq: string; sh: string; actions: Fail2banAction[] } {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', FAIL2BAN, JSON.stringify(items)], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { fq: string; sh: string; actions: Fail2banAction[] };
}

/** Our commands in fail2ban's terms: per family when the action has families, else once with `<family>` left. */
function asFail2ban(action: LoadedAction, hostnames: { fq: string; sh: string }): Record<string, Record<string, string>> {
  const families = action.perFamily ? (['inet4', 'inet6'] as const) : (['inet4'] as const);
  return Object.fromEntries(families.map((family) => [
    action.perFamily ? family : '',
    Object.fromEntries(Object.entries(action.commands[family]).map(([key, script]) => [
      key, script.replaceAll('<fq-hostname>', hostnames.fq).replaceAll('<sh-hostname>', hostnames.sh),
    ])),
  ]));
}

describe('loadAction: stock action.d files resolve as fail2ban resolves them', () => {
  it('every action in /etc/fail2ban/action.d, as the sshd jail uses it without arguments', () => {
    const names = readdirSync(STOCK).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -'.conf'.length)).sort();
    assert.ok(names.length > 50, `the stock actions are installed (${names.length})`);
    const expected = fail2banResolves(names.map((name) => ({ name, jail: 'sshd', options: {} })));
    const differences: string[] = [];
    for (const [i, name] of names.entries()) {
      const theirs = expected.actions[i];
      assert.ok(theirs !== undefined && theirs.error === undefined, `fail2ban loads ${name}: ${theirs?.error}`);
      const ours = loadAction(jailAction(name), { name: 'sshd', bantime: 600 });
      const mine = asFail2ban(ours, expected);
      for (const [family, scripts] of Object.entries(mine)) {
        for (const [key, script] of Object.entries(scripts)) {
          if (script !== theirs.families[family]?.[key]) differences.push(`${name} ${family || '(any)'} ${key}:\n  ours:     ${JSON.stringify(script)}\n  fail2ban: ${JSON.stringify(theirs.families[family]?.[key])}`);
        }
      }
      if (ours.timeout !== theirs.timeout) differences.push(`${name} timeout ${ours.timeout} vs ${theirs.timeout}`);
    }
    assert.deepEqual(differences, [], differences.join('\n'));
  });

  it('with jail arguments: they win over [Init], name and actname follow, [Init?family=inet6] and timeout apply', () => {
    const items: { name: string; jail: string; options: Record<string, string> }[] = [
      { name: 'dummy', jail: 'web', options: { target: '/tmp/a b', name: 'web-extra', init: 'hello <name>' } },
      { name: 'sendmail-whois-matches', jail: 'sshd', options: { dest: 'admin@example.org', sender: 'f2b@example.org', sendername: 'Fail "2" Ban' } },
      { name: 'iptables', jail: 'sshd', options: { port: 'ssh', protocol: 'udp', name: 'other', blocktype: 'DROP' } },
      { name: 'nftables', jail: 'sshd', options: { type: 'allports', timeout: '2m' } },
      { name: 'abuseipdb', jail: 'sshd', options: { abuseipdb_apikey: 'KEY', abuseipdb_category: '18,22' } },
      { name: 'shorewall', jail: 'sshd', options: { blocktype: 'DROP' } },
      { name: 'cloudflare', jail: 'sshd', options: { cfuser: 'me@example.org', cftoken: 'T0KEN' } },
      { name: 'route', jail: 'sshd', options: { actname: 'rt' } },
    ];
    const expected = fail2banResolves(items);
    for (const [i, item] of items.entries()) {
      const theirs = expected.actions[i];
      assert.ok(theirs !== undefined && theirs.error === undefined, `fail2ban loads ${item.name}: ${theirs?.error}`);
      const ours = loadAction(jailAction(item.name, item.options), { name: item.jail, bantime: 600 });
      for (const [family, scripts] of Object.entries(asFail2ban(ours, expected))) {
        assert.deepEqual(scripts, theirs.families[family], `${item.name} ${family}`);
      }
      assert.equal(ours.timeout, theirs.timeout, `${item.name} timeout`);
    }
  });

  it('reports what the runtime needs: actname, families, start on demand, norestored, timeout, [Init]', () => {
    const dummy = loadAction(jailAction('dummy', { target: '/tmp/t', name: 'web-extra' }), { name: 'web', bantime: null });
    assert.equal(dummy.actname, 'dummy-extra');
    assert.equal(dummy.perFamily, false);
    assert.equal(dummy.startOnDemand, false);
    assert.equal(dummy.bantime, -1);
    assert.equal(dummy.init.target, '/tmp/t');
    assert.equal(dummy.init.to_target, '>> /tmp/t');
    assert.equal(dummy.init.name, 'web-extra');
    assert.ok(dummy.commands.inet4.actionban.includes('(family: <family>)'), 'without families, <family> is left for run time');

    const cloudflare = loadAction(jailAction('cloudflare'), SSHD);
    assert.equal(cloudflare.perFamily, true);
    assert.equal(cloudflare.startOnDemand, true, 'actions with families start on their first ban, as in fail2ban');
    assert.match(cloudflare.commands.inet4.actionban, /"target":"ip","value":"<ip>"/);
    assert.match(cloudflare.commands.inet6.actionban, /"target":"ip6","value":"<ip>"/);

    const mail = loadAction(jailAction('sendmail-whois-matches', { dest: 'root@example.org' }), SSHD);
    assert.equal(mail.norestored, true);
    assert.match(mail.commands.inet4.actionban, /^<matches>\\n\\n$/m, 'log lines are left for run time');
    assert.match(mail.commands.inet4.actionban, /<failures> attempts against sshd/);

    assert.equal(loadAction(jailAction('dummy', { timeout: '1m 30s' }), SSHD).timeout, 90);
    assert.equal(loadAction(jailAction('dummy', { actionstart_on_demand: 'true' }), SSHD).startOnDemand, true);
  });
});

describe('loadAction: custom actions', () => {
  let dir = '';
  let cleanup = (): void => undefined;
  before(() => {
    ({ dir, cleanup } = tempDir('f2bt-actdef-'));
    mkdirSync(join(dir, 'action.d'));
  });
  after(() => cleanup());

  function write(name: string, text: string): string {
    writeFileSync(join(dir, 'action.d', `${name}.conf`), text);
    return join(dir, 'action.d');
  }

  it('fills the jail\'s port and protocol where the action defines none, and leaves every run-time tag', () => {
    const at = write('notify', [
      '[Definition]',
      'actionban = notify-send "<name>/<actname> <port>/<protocol> ban <ip> (<ip-rev>, <family>) <bantime>s <failures> <time> <fid>: <F-USER>" <matches>',
      '            echo "<sp><br>"',
      '[Init]',
      'port = 0:65535',
    ].join('\n'));
    const action = loadAction(jailAction('notify', {}, at), SSHD);
    assert.equal(action.commands.inet4.actionban,
      'notify-send "sshd/notify 0:65535/tcp ban <ip> (<ip-rev>, <family>) <bantime>s <failures> <time> <fid>: <F-USER>" <matches>\necho " \n"');
  });

  it('an argument replaces a [Definition] key given by %(key)s', () => {
    const at = write('whois', ['[Definition]', 'lookup = whois <ip>', 'actionban = echo "`%(lookup)s`" | mail root'].join('\n'));
    const action = loadAction(jailAction('whois', { lookup: 'echo no-whois' }, at), SSHD);
    assert.equal(action.commands.inet4.actionban, 'echo "`echo no-whois`" | mail root');
  });

  it('refuses what cannot run, naming the file and line', () => {
    const py = { name: 'smtp.py', options: {}, origin: { file: '/etc/f2b-store/jail.local', line: 12 }, file: `${STOCK}/smtp.py` };
    throwsInput(() => loadAction(py, SSHD), /^\/etc\/f2b-store\/jail\.local:12: \[sshd\] action "smtp\.py": Python actions/);
    throwsInput(() => loadAction({ name: 'gone', options: {}, origin: py.origin }, SSHD), /^\/etc\/f2b-store\/jail\.local:12: \[sshd\] action "gone": no such action file/);
    const at = write('bad', ['[Definition]', 'actionban = echo <loop>', 'loop = x <loop>', 'norestored = maybe', '[Init]', 'timeout = soon'].join('\n'));
    throwsInput(() => loadAction(jailAction('bad', { norestored: '1', timeout: '5' }, at), SSHD), /bad\.conf:3: .*<loop>/);
    write('bad', ['[Definition]', 'actionban = echo', 'norestored = maybe'].join('\n'));
    throwsInput(() => loadAction(jailAction('bad', {}, at), SSHD), /bad\.conf:3: \[sshd\] norestored: expected true or false.*"maybe"/);
    write('bad', ['[Definition]', 'actionban = echo', '[Init]', 'timeout = soon'].join('\n'));
    throwsInput(() => loadAction(jailAction('bad', {}, at), SSHD), /bad\.conf:4: \[sshd\] timeout: bad duration "soon"/);
    throwsInput(() => loadAction(jailAction('dummy', { timeout: '-1' }), SSHD), /jail\.local:7: \[sshd\] timeout: must be a duration, not permanent/);
  });
});

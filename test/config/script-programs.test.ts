import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAction, onPath, scriptPrograms } from '../../src/config/index.js';
import { ACTION_COMMANDS } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

describe('scriptPrograms: the programs a shell script calls', () => {
  it('the first word of each command, after |, ||, &&, ;, &, new lines and the reserved words', () => {
    const cases: [string, string[]][] = [
      ['ufw insert 1 deny from <ip>', ['ufw']],
      ['printf %b "Subject: x" | /usr/sbin/sendmail -f "a" "b"', ['/usr/sbin/sendmail']],
      ['a && b || c; d & e\nf', ['a', 'b', 'c', 'd', 'e', 'f']],
      ['if [ -n "x" ] && ufw app info "x"\nthen\n  ufw allow\nelse\n  iptables -L\nfi', ['ufw', 'iptables']],
      ['while read line; do logger "$line"; done < /tmp/list', ['logger']],
      ['for ip in a b c; do nft add element x { $ip }; done', ['nft']],
      ['case "$1" in\n  start|begin) ipset create x;;\n  (*) conntrack -D;;\nesac; touch /run/x', ['ipset', 'conntrack', 'touch']],
      ['( printf %b "x\\n`whois <ip> || echo missing whois program`" ) | mail -s "s" root', ['whois', 'mail']],
      ['X=$(curl -s https://example.org | jq .a); echo "$X" | tr a b', ['curl', 'jq', 'tr']],
      ['{ OUT=$(cat) ; printf %b "$OUT" | iconv -f x - ; }', ['cat', 'iconv']],
      ['LANG=C sort -u file 2>&1 >/dev/null; grep x <file >>out', ['sort', 'grep']],
      ['cat <<EOF | sendmail root\nrm -rf everything\nnot a command\nEOF\nlogger done', ['cat', 'sendmail', 'logger']],
      ['echo "<ip>" >> /etc/x; printf x; true; : ; [ -f x ] && test -d y; kill -HUP 1; exit 0', []],
      ['$CMD arg; "$(which nft)" list; <mailcmd> -f x; ./local-script', ['which', './local-script']],
      ['awk \'{ print $1 | "sort" }\' file # sort | uniq\nsed -n p', ['awk', 'sed']],
      ['echo $((1 + 2)); (( i++ )); expr 1 + 1', ['expr']],
      ['notify() { curl -s "$1"; }\nfunction log_it { logger "$@"; }\nnotify x && log_it y', ['curl', 'logger']],
      ['iptables -w -I f2b-<name> 1 -s <ip> -j <blocktype> \\\n  && ip6tables -L', ['iptables', 'ip6tables']],
    ];
    for (const [script, programs] of cases) assert.deepEqual(scriptPrograms(script), programs, script);
  });

  it('every command of fail2ban\'s stock actions yields program names only', () => {
    const dir = '/etc/fail2ban/action.d';
    const seen = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.conf'))) {
      const action = loadAction({ name: file.slice(0, -5), options: {}, origin: { file: 'jail.local', line: 1 }, file: join(dir, file) },
        { name: 'sshd', port: 'ssh', protocol: 'tcp', bantime: 600 });
      for (const family of ['inet4', 'inet6'] as const) {
        for (const command of ACTION_COMMANDS) for (const program of scriptPrograms(action.commands[family][command])) seen.add(program);
      }
    }
    for (const program of seen) assert.match(program, /^(?:\/[\w./-]+|[a-z][\w.-]*)$/, `a program name: ${program}`);
    for (const expected of ['curl', 'ufw', 'whois', 'mail', '/usr/sbin/sendmail', 'nft', 'firewall-cmd', 'ipset', 'iptables', 'jq', 'dig']) {
      assert.ok(seen.has(expected), `${expected} is found`);
    }
  });
});

describe('onPath: a program is an executable file on PATH, or at its absolute path', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
    mkdirSync(join(tmp.dir, 'bin'));
    mkdirSync(join(tmp.dir, 'bin', 'adir'));
    writeFileSync(join(tmp.dir, 'bin', 'tool'), '#!/bin/sh\n');
    chmodSync(join(tmp.dir, 'bin', 'tool'), 0o755);
    writeFileSync(join(tmp.dir, 'bin', 'plain'), 'not executable\n');
  });
  after(() => tmp.cleanup());

  it('finds what the PATH holds and nothing else', () => {
    const path = `/nonexistent::${join(tmp.dir, 'bin')}`;
    assert.equal(onPath('tool', path), true);
    assert.equal(onPath('plain', path), false);
    assert.equal(onPath('adir', path), false);
    assert.equal(onPath('sh', path), false);
    assert.equal(onPath('sh', '/usr/bin:/bin'), true);
    assert.equal(onPath(join(tmp.dir, 'bin', 'tool'), ''), true);
    assert.equal(onPath(join(tmp.dir, 'bin', 'plain'), '/usr/bin'), false);
    assert.equal(onPath('./tool', join(tmp.dir, 'bin')), false);
    assert.equal(onPath('bin/sh', ''), true);
  });
});

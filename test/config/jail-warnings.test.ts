import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  jailWarnings, loadJails, misspeltJailOptions, SHIPPED_CONFIG_DIR, SHIPPED_FILTER_DIR, unresolvedFilterTags, unrunnableActions,
} from '../../src/config/index.js';
import { BACKEND_CATALOG } from '../../src/backends/index.js';
import { tempDir } from '../helpers/cli.js';

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
}

const SSHD = '[sshd]\nenabled = true\nfilter = sshd\nlogpath = /var/log/auth.log\n';

describe('misspeltJailOptions: options nothing reads that are a small edit away from one that is read', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('names file, line, section and the option meant, in every layer of the jail files', () => {
    writeFiles(tmp.dir, {
      'jail.conf': '[DEFAULT]\nbantime = 10m\ndestemail = root\naction = mail[dest=%(destemail)s]\n',
      'jail.d/ssh.conf': `${SSHD}maxrety = 3\nfitler = sshd\n`,
      'jail.local': '[DEFAULT]\ndestmail = ops@example.org\n[sshd]\nbantme = 1h\nfindtme = 1h\nlogpth = /var/log/x\nenabeld = true\nbantime.incremnt = true\n',
    });
    const local = join(tmp.dir, 'jail.local');
    const ssh = join(tmp.dir, 'jail.d/ssh.conf');
    assert.deepEqual(misspeltJailOptions(tmp.dir), [
      `${ssh}:5: unknown option "maxrety" in [sshd] (did you mean maxretry?): ignored`,
      `${ssh}:6: unknown option "fitler" in [sshd] (did you mean filter?): ignored`,
      `${local}:2: unknown option "destmail" in [DEFAULT] (did you mean destemail?): ignored`,
      `${local}:4: unknown option "bantme" in [sshd] (did you mean bantime?): ignored`,
      `${local}:5: unknown option "findtme" in [sshd] (did you mean findtime?): ignored`,
      `${local}:6: unknown option "logpth" in [sshd] (did you mean logpath?): ignored`,
      `${local}:7: unknown option "enabeld" in [sshd] (did you mean enabled?): ignored`,
      `${local}:8: unknown option "bantime.incremnt" in [sshd] (did you mean bantime.increment?): ignored`,
    ]);
  });

  it('keys that are variables (referred to by %(…)s or <…>), far from every option, or short, are no typo', () => {
    writeFiles(tmp.dir, {
      'jail.local': `[DEFAULT]\nmytime = 1h\nbantme = 2h\nport = ssh\nsport = 22\nmaxretrys = 3\n${SSHD}bantime = %(mytime)s\n`
        + 'findtime = %(bantme)s\naction = nftables[port="%(sport)s", x=<maxretrys>]\nmy_custom_notes = anything\nlogpath2 = /x\n',
    });
    assert.deepEqual(misspeltJailOptions(tmp.dir), [
      `${join(tmp.dir, 'jail.local')}:15: unknown option "logpath2" in [sshd] (did you mean logpath?): ignored`,
    ]);
  });

  it('the shipped configuration and fail2ban\'s stock tree have no such option; nor does an empty dir', () => {
    assert.deepEqual(misspeltJailOptions(SHIPPED_CONFIG_DIR), []);
    assert.deepEqual(misspeltJailOptions('/etc/fail2ban'), []);
    assert.deepEqual(misspeltJailOptions(tmp.dir), []);
  });
});

describe('unresolvedFilterTags: a misspelt choice left in a filter\'s regexes as a tag that names nothing', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  const warnings = (local: string): string[] => {
    writeFiles(tmp.dir, { 'jail.local': local });
    return unresolvedFilterTags(loadJails(tmp.dir, BACKEND_CATALOG));
  };

  it('names the jail, the option and the value meant, and the regex line', () => {
    const sshd = join(SHIPPED_FILTER_DIR, 'sshd.conf');
    const [line] = warnings('[sshd]\nenabled = true\nfilter = sshd[mode=agressive]\nlogpath = /var/log/auth.log\n');
    assert.match(line ?? '', new RegExp(`^${join(tmp.dir, 'jail.local')}:1: jail sshd: filter sshd: mode = agressive \\(did you mean aggressive\\?\\): `
      + `<mdre-agressive> names no option of the filter and stays literal text in its regex \\(${sshd}:\\d+\\)$`));
  });

  it('every mode of the shipped sshd filter, and a disabled jail, give none', () => {
    for (const mode of ['normal', 'ddos', 'extra', 'aggressive']) {
      assert.deepEqual(warnings(`[sshd]\nenabled = true\nfilter = sshd[mode=${mode}]\nlogpath = /var/log/auth.log\n`), [], mode);
    }
    assert.deepEqual(warnings('[sshd]\nenabled = false\nfilter = sshd[mode=agressive]\n'), []);
  });
});

describe('unrunnableActions: an enabled jail\'s action that calls a program this host does not have', () => {
  let tmp: ReturnType<typeof tempDir>;
  let bin: string;
  beforeEach(() => {
    tmp = tempDir();
    bin = join(tmp.dir, 'bin');
    mkdirSync(bin);
  });
  afterEach(() => tmp.cleanup());

  const install = (name: string): void => {
    writeFileSync(join(bin, name), '#!/bin/sh\n');
    chmodSync(join(bin, name), 0o755);
  };

  it('names the jail, the action, where it is given and what is missing; builtins and native actions are never looked up', () => {
    writeFiles(tmp.dir, {
      'jail.local': `${SSHD}action = nftables\n         sendmail-whois[dest=root]\n         ufw\n         notify\n\n`
        + '[off]\nenabled = false\nfilter = sshd\nlogpath = /x\naction = ufw\n',
      'action.d/notify.conf': '[Definition]\nactionstart = echo start; printf x | logger\nactionban = if [ -n "<ip>" ]; then curl -s "<url>" && true; fi\n'
        + '[Init]\nurl = https://example.org/<ip>\n',
    });
    const jails = loadJails(tmp.dir, BACKEND_CATALOG);
    const local = join(tmp.dir, 'jail.local');
    install('whois');
    install('logger');
    assert.deepEqual(unrunnableActions(jails, bin), [
      `${local}:6: jail sshd: action "sendmail-whois" cannot run here: date, /usr/sbin/sendmail not found (install them, or choose another action)`,
      `${local}:7: jail sshd: action "ufw" cannot run here: ufw not found (install it, or choose another action)`,
      `${local}:8: jail sshd: action "notify" cannot run here: curl not found (install it, or choose another action)`,
    ]);
    for (const program of ['date', 'ufw', 'curl']) install(program);
    assert.deepEqual(unrunnableActions(jails, bin), [
      `${local}:6: jail sshd: action "sendmail-whois" cannot run here: /usr/sbin/sendmail not found (install it, or choose another action)`,
    ]);
  });

  it('jailWarnings: both, misspelt options first', () => {
    writeFiles(tmp.dir, { 'jail.local': `${SSHD}action = ufw\nmaxrety = 2\n` });
    const local = join(tmp.dir, 'jail.local');
    assert.deepEqual(jailWarnings(tmp.dir, loadJails(tmp.dir, BACKEND_CATALOG), bin), [
      `${local}:6: unknown option "maxrety" in [sshd] (did you mean maxretry?): ignored`,
      `${local}:5: jail sshd: action "ufw" cannot run here: ufw not found (install it, or choose another action)`,
    ]);
  });
});

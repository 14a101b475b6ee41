import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { getOption, getQualifiedOption, readConfig, readConfigFiles, sourceLines, type ConfigTree } from '../../src/config/index.js';
import { InputError } from '../../src/core/index.js';
import { tempDir } from '../helpers/cli.js';

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
}

function value(tree: ConfigTree, section: string, key: string): string | undefined {
  return getOption(tree, section, key)?.text;
}

function throwsInput(fn: () => unknown, expected: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InputError && expected.test(e.message) && !e.message.includes('\n'));
}

describe('config tree: layering and includes', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('layers jail.conf, jail.d/*.conf, jail.local, jail.d/*.local in that order, sorted, hidden files left out', () => {
    writeFiles(tmp.dir, {
      'jail.conf': '[sshd]\nport = conf\nenabled = false\n',
      'jail.d/b.conf': '[sshd]\nport = d-b-conf\n',
      'jail.d/a.conf': '[sshd]\nport = d-a-conf\nbantime = 1h\n',
      'jail.d/.hidden.conf': '[sshd]\nport = hidden\n',
      'jail.local': '[sshd]\nport = local\nenabled = true\n',
      'jail.d/a.local': '[sshd]\nport = d-a-local\n',
    });
    const tree = readConfig(tmp.dir, 'jail');
    assert.deepEqual(tree.files.map((f) => f.slice(tmp.dir.length + 1)), ['jail.conf', 'jail.d/a.conf', 'jail.d/b.conf', 'jail.local', 'jail.d/a.local']);
    assert.equal(value(tree, 'sshd', 'port'), 'd-a-local');
    assert.equal(value(tree, 'sshd', 'enabled'), 'true');
    assert.equal(value(tree, 'sshd', 'bantime'), '1h');
    assert.equal(tree.known.get('sshd')?.get('port')?.value.text, 'local', 'known/ holds the value before the last layer');
  });

  it('a missing directory or name gives an empty tree', () => {
    assert.deepEqual(readConfig(join(tmp.dir, 'nope'), 'jail').files, []);
    assert.equal(readConfig(tmp.dir, 'jail').sections.size, 0);
  });

  it('reads [INCLUDES] before/after relative to the including file, each with its .local, and known/ across layers', () => {
    // The same tree as fail2ban reads it: common.conf, common.local, base.conf, after.conf, base.local.
    writeFiles(tmp.dir, {
      'filter.d/base.conf': '[INCLUDES]\nbefore = ../shared/common.conf\nafter = after.conf\n        optional.local\n' +
        '[DEFAULT]\nwho = base\n[Definition]\nfailregex = ^base <HOST>$\nx = %(who)s\n',
      'shared/common.conf': '[DEFAULT]\nwho = common\nshared = %(who)s-shared\n[Definition]\nfailregex = ^common <HOST>$\n',
      'shared/common.local': '[Definition]\nfailregex = %(known/failregex)s\n            ^common-local <HOST>$\n',
      'filter.d/after.conf': '[Definition]\nafter = yes\n',
      'filter.d/base.local': '[Definition]\nfailregex = %(known/failregex)s\n            ^local <HOST>$\nfromdefault = %(known/who)s\n',
    });
    const tree = readConfig(join(tmp.dir, 'filter.d'), 'base');
    assert.deepEqual(tree.files.map((f) => f.slice(tmp.dir.length + 1)), [
      'shared/common.conf', 'shared/common.local', 'filter.d/base.conf', 'filter.d/after.conf', 'filter.d/base.local',
    ]);
    assert.equal(value(tree, 'Definition', 'failregex'), '^base <HOST>$\n^local <HOST>$');
    assert.equal(value(tree, 'Definition', 'x'), 'base');
    assert.equal(value(tree, 'Definition', 'after'), 'yes');
    assert.equal(value(tree, 'Definition', 'fromdefault'), 'base', 'known/ falls back to [DEFAULT]');
    assert.equal(value(tree, 'Definition', 'shared'), 'base-shared', '%(who)s resolves where it is asked for');
  });

  it('every line of a value knows its file and line, through %(known/...)s', () => {
    writeFiles(tmp.dir, {
      'f.conf': '[Definition]\nfailregex = ^one$\n            ^two$\n',
      'f.local': '# local\n[Definition]\nfailregex = %(known/failregex)s\n            ^three$\n',
    });
    const failregex = getOption(readConfig(tmp.dir, 'f'), 'Definition', 'failregex');
    assert.ok(failregex !== undefined, 'failregex is missing');
    assert.deepEqual(sourceLines(failregex).map((l) => `${l.file.slice(tmp.dir.length + 1)}:${l.line} ${l.text}`), [
      'f.conf:2 ^one$', 'f.conf:3 ^two$', 'f.local:4 ^three$',
    ]);
  });

  it('skips a missing .local include, refuses any other missing include with file:line', () => {
    writeFiles(tmp.dir, {
      'a.conf': '[INCLUDES]\nafter = a-extra.local\n[x]\nk = 1\n',
      'b.conf': '[INCLUDES]\nbefore = common.conf\n         gone.conf\n[x]\nk = 1\n',
      'common.conf': '[x]\nj = 2\n',
    });
    assert.equal(value(readConfig(tmp.dir, 'a'), 'x', 'k'), '1');
    throwsInput(() => readConfig(tmp.dir, 'b'), new RegExp(`^${join(tmp.dir, 'b.conf')}:3: included file not found: gone\\.conf \\(${join(tmp.dir, 'gone.conf')}\\)$`));
  });

  it('ends include loops as fail2ban does, reading each file once per chain', () => {
    writeFiles(tmp.dir, {
      'a.conf': '[INCLUDES]\nbefore = b.conf\n[x]\nk = a\n',
      'b.conf': '[INCLUDES]\nbefore = a.conf\n[x]\nk = b\n',
    });
    const tree = readConfig(tmp.dir, 'a');
    assert.deepEqual(tree.files.map((f) => f.slice(tmp.dir.length + 1)), ['b.conf', 'a.conf']);
    assert.equal(value(tree, 'x', 'k'), 'a');
  });

  it('maps includes through resolveInclude (the corpus test filters include a source-tree path)', () => {
    writeFiles(tmp.dir, {
      'real/common.conf': '[DEFAULT]\nprefix = from-common\n',
      'filter.d/t.conf': '[INCLUDES]\nbefore = ../../../nowhere/common.conf\n[Definition]\nfailregex = %(prefix)s <HOST>\n',
    });
    const tree = readConfig(join(tmp.dir, 'filter.d'), 't', {
      resolveInclude: (path) => (path.endsWith('/nowhere/common.conf') ? join(tmp.dir, 'real/common.conf') : path),
    });
    assert.equal(value(tree, 'Definition', 'failregex'), 'from-common <HOST>');
  });

  it('merges [Init?family=inet6] into [Init] as key?family=inet6', () => {
    writeFiles(tmp.dir, { 'act.conf': '[Init]\nblocktype = reject\n[Init?family=inet6]\nblocktype = reject6\n' });
    const tree = readConfig(tmp.dir, 'act');
    assert.deepEqual([...(tree.sections.get('Init')?.keys() ?? [])], ['blocktype', 'blocktype?family=inet6']);
    assert.equal(value(tree, 'Init', 'blocktype?family=inet6'), 'reject6');
  });

  it('readConfigFiles refuses a file that does not exist', () => {
    throwsInput(() => readConfigFiles([join(tmp.dir, 'x.conf')]), /^config file not found: .*x\.conf$/);
  });
});

describe('config tree: %(...)s interpolation', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'i.conf');
  });
  afterEach(() => tmp.cleanup());
  const tree = (text: string): ConfigTree => {
    writeFileSync(file, text);
    return readConfig(tmp.dir, 'i');
  };

  it('resolves %(key)s from the section then [DEFAULT], %(section/key)s, %(default/key)s, %(__name__)s and %%', () => {
    const t = tree('[DEFAULT]\nport = 22\nname = default-name\n[lt_file]\nprefix = <lt>\n' +
      '[sshd]\nname = sshd-name\nall = %(port)s %(name)s %(default/name)s %(lt_file/prefix)s %(__name__)s 100%%\n');
    assert.equal(value(t, 'sshd', 'all'), '22 sshd-name default-name <lt> sshd 100%');
  });

  it('uses variables before the section, as a filter\'s arguments are', () => {
    const t = tree('[Definition]\nmode = normal\nre = mode-%(mode)s\n');
    const vars = new Map([['mode', getOption(t, 'Definition', 're') ?? assert.fail('re is missing')]]);
    assert.equal(getOption(t, 'Definition', 're', vars)?.text, 'mode-mode-normal');
  });

  it('looks up section/key, known/key and default/key names as fail2ban does for tags', () => {
    const t = tree('[DEFAULT]\nk = dflt\n[lt_x]\nk = lt\n[Definition]\nk = def\n');
    assert.equal(getQualifiedOption(t, 'Definition', 'lt_x/k')?.text, 'lt');
    assert.equal(getQualifiedOption(t, 'Definition', 'default/k')?.text, 'dflt');
    assert.equal(getQualifiedOption(t, 'Definition', 'known/k')?.text, 'def', 'no earlier layer: the value itself');
    assert.equal(getQualifiedOption(t, 'Definition', 'nosuch/k'), undefined);
  });

  for (const [name, text, expected] of [
    ['a loop', '[s]\na = x %(b)s\nb = %(c)s\nc = %(a)s\n', /^.*i\.conf:4: %\(a\)s refers back to itself \(a -> b -> c -> a\): %\(a\)s$/],
    ['a missing key', '[s]\na = %(nope)s\n', /^.*i\.conf:2: %\(nope\)s: no option "nope" in \[s\] or \[DEFAULT\]: %\(nope\)s$/],
    ['a lone %', '[s]\na = 50% off\n', /^.*i\.conf:2: a "%" must start %\(name\)s or be doubled as %%: 50% off$/],
  ] as const) {
    it(`refuses ${name} with file:line and the text`, () => {
      throwsInput(() => getOption(tree(text), 's', 'a'), expected);
    });
  }

  it('stops after 10 nested references, like Python\'s configparser', () => {
    const keys = Array.from({ length: 11 }, (_, i) => `k${i} = %(k${i + 1})s`).join('\n');
    const t = tree(`[s]\n${keys}\nk11 = end\n`);
    assert.equal(value(t, 's', 'k1'), 'end');
    throwsInput(() => value(t, 's', 'k0'), /i\.conf:11: %\(k10\)s: more than 10 nested %\(\.\.\.\)s: %\(k10\)s$/);
  });
});

describe('config tree: fail2ban\'s own configuration', () => {
  interface Fixture { configs: { name: string; sections: Record<string, Record<string, string | { error: string }>> }[] }
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/fail2ban-config/config-values.json', import.meta.url), 'utf8')) as Fixture;

  it('layers jail.conf with paths-*.conf and jail.d like fail2ban', () => {
    const tree = readConfig('/etc/fail2ban', 'jail');
    assert.deepEqual(tree.files.slice(0, 3), ['/etc/fail2ban/paths-common.conf', '/etc/fail2ban/paths-debian.conf', '/etc/fail2ban/jail.conf']);
    assert.equal(value(tree, 'sshd', 'logpath'), '/var/log/auth.log');
    assert.equal(value(tree, 'sshd', 'action'), 'iptables-multiport[port="ssh", protocol="tcp", chain="<known/chain>"]');
    assert.equal(value(tree, 'recidive', 'logpath'), '/var/log/fail2ban.log');
  });

  it('the fixture covers jail, fail2ban and every action.d file', () => {
    assert.ok(fixture.configs.length > 50, `only ${fixture.configs.length} configs in the fixture`);
    assert.ok(fixture.configs.some((c) => c.name === 'jail'), 'jail is not in the fixture');
  });

  for (const config of fixture.configs) {
    it(`${config.name}: every section, key and value equals fail2ban's (errors where fail2ban errs)`, () => {
      const tree = readConfig('/etc/fail2ban', config.name);
      assert.deepEqual(['DEFAULT', ...tree.sections.keys()], Object.keys(config.sections));
      for (const [section, values] of Object.entries(config.sections)) {
        const keys = section === 'DEFAULT' ? tree.defaults.keys() : (tree.sections.get(section)?.keys() ?? []);
        assert.deepEqual([...keys], Object.keys(values), `keys of [${section}]`);
        for (const [key, expected] of Object.entries(values)) {
          if (typeof expected === 'string') assert.equal(value(tree, section, key), expected, `[${section}] ${key}`);
          else throwsInput(() => value(tree, section, key), /^\/etc\/fail2ban\/.*:\d+: /);
        }
      }
    });
  }
});

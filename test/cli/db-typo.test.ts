import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

function oneLine(result: CliResult): void {
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
}

describe('a typo in --db never reads as "no bans", and never empties the firewall', () => {
  let tmp: ReturnType<typeof tempDir>;
  let typo: string;

  before(() => {
    tmp = tempDir();
    typo = join(tmp.dir, 'no-such-dir', 'bans.sqlite3');
  });
  after(() => tmp.cleanup());

  for (const args of [['list'], ['list', '--all'], ['show', '203.0.113.7'], ['export', 'plain'], ['export', 'hosts-deny'], ['status'], ['reconcile'],
    ['reconcile', '--dry-run'], ['unban', '203.0.113.7'], ['purge']]) {
    it(`${args.join(' ')} on a missing database: exit 1 naming it, and nothing is made`, () => {
      const result = runCli(['--db', typo, ...args]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^f2b-store: no database at ${typo}: check --db, F2B_STORE_DB`));
      oneLine(result);
      assert.ok(!existsSync(join(tmp.dir, 'no-such-dir')), 'not even its directory');
    });
  }

  it('stop on a missing database says no daemon runs, and makes nothing', () => {
    const result = runCli(['--db', typo, 'stop']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'no daemon running\n');
    assert.ok(!existsSync(join(tmp.dir, 'no-such-dir')));
  });

  it('--db \'\' and an empty F2B_STORE_DB are bad input (exit 2), not "use the default"', () => {
    for (const args of [['list'], ['ban', '203.0.113.7'], ['reconcile'], ['stop']]) {
      const viaOption = runCli(['--db', '', ...args]);
      assert.equal(viaOption.code, 2, viaOption.stderr);
      assert.match(viaOption.stderr, /^f2b-store: empty --db: name the database file/);
      oneLine(viaOption);
      const viaEnv = runCli(args, { env: { F2B_STORE_DB: '' } });
      assert.equal(viaEnv.code, 2, viaEnv.stderr);
      assert.match(viaEnv.stderr, /^f2b-store: F2B_STORE_DB is empty: name the database file, or unset it/);
      oneLine(viaEnv);
    }
  });

  describe('reconcile from a new database removing most of what a backend holds asks for --yes', () => {
    let file: string;
    let config: string;
    const real = (): string => join(tmp.dir, 'real.sqlite3');
    const wrong = (): string => join(tmp.dir, 'wrong.sqlite3');
    const cli = (db: string, ...args: string[]): CliResult => runCli(['--db', db, '--config', config, ...args]);
    const lines = (): number => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('ALL: ')).length;
    const addresses = Array.from({ length: 20 }, (_, i) => `203.0.113.${i + 1}`);

    before(() => {
      file = join(tmp.dir, 'hosts.deny');
      writeFileSync(file, 'sshd: 10.9.9.9\n');
      config = join(tmp.dir, 'etc');
      mkdirSync(config);
      writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${file}\n`);
      const imported = runCli(['--db', real(), '--config', config, 'import', 'list', '-'], { input: `${addresses.join('\n')}\n` });
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal(cli(real(), 'reconcile').code, 0);
      assert.equal(lines(), 20);
    });

    it('a database made by a ban a moment ago would remove all 20 entries: refused, nothing changed; --yes goes ahead', () => {
      assert.equal(cli(wrong(), '--backend', 'none', 'ban', '198.51.100.7').code, 0);
      const refused = cli(wrong(), 'reconcile');
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`refusing to remove 20 of the 20 entries hosts-deny holds: the database ${wrong()} knows only 1 bans .*--yes`));
      oneLine(refused);
      assert.equal(lines(), 20, 'the file is untouched');
      const dry = cli(wrong(), '--json', 'reconcile', '--dry-run');
      assert.equal(dry.code, 0, 'a dry run only tells');
      const forced = cli(wrong(), '--json', 'reconcile', '--yes');
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual((JSON.parse(forced.stdout) as { backends: { removed: number }[] }).backends.map((b) => b.removed), [20]);
      assert.equal(lines(), 1);
    });

    it('the right database, whose bans were lifted, removes them without asking', () => {
      assert.equal(cli(real(), 'reconcile', '--yes').code, 0, 'back to the 20');
      for (const address of addresses.slice(0, 15)) assert.equal(cli(real(), '--backend', 'none', 'unban', address).code, 0);
      const result = cli(real(), '--json', 'reconcile');
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual((JSON.parse(result.stdout) as { backends: { removed: number }[] }).backends.map((b) => b.removed), [15]);
      assert.equal(lines(), 5);
    });
  });
});

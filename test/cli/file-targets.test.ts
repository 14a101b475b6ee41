import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

/** What is at `path` itself, not behind a symlink. */
function kind(path: string): string {
  const stats = lstatSync(path);
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isCharacterDevice()) return 'char device';
  return stats.isFile() ? 'file' : 'other';
}

describe('where export --file and the hosts-deny backend write: the real file, never a stream', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  const cli = (...args: string[]): CliResult => runCli(['--db', db, ...args]);
  const refused = (result: CliResult, pattern: RegExp): void => {
    assert.equal(result.code, 2, `exit code 2: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line: ${result.stderr}`);
  };

  before(() => {
    tmp = tempDir();
    db = join(tmp.dir, 'bans.sqlite3');
    assert.equal(cli('ban', '203.0.113.7').code, 0);
    assert.equal(cli('ban', '2001:db8::66').code, 0);
  });
  after(() => tmp.cleanup());

  it('a symlinked --file stays a symlink; the file it leads to gets the export, written beside it', () => {
    const real = join(tmp.dir, 'lists', 'banned.txt');
    mkdirSync(join(tmp.dir, 'lists'));
    writeFileSync(real, 'old\n');
    const link = join(tmp.dir, 'banned-link.txt');
    symlinkSync('lists/banned.txt', link);
    for (const format of ['plain', 'hosts-deny']) {
      const result = cli('export', format, '--file', link);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(kind(link), 'symlink', `${format}: still a symlink`);
      assert.equal(readlinkSync(link), 'lists/banned.txt');
      assert.match(readFileSync(real, 'utf8'), /203\.0\.113\.7/, `${format}: the target holds the export`);
    }
    assert.deepEqual(readdirSync(join(tmp.dir, 'lists')), ['banned.txt'], 'no temporary file left beside the target');
  });

  it('a dangling symlink gets the file it names made', () => {
    const link = join(tmp.dir, 'dangling.txt');
    symlinkSync('made-by-export.txt', link);
    assert.equal(cli('export', 'plain', '--file', link).code, 0);
    assert.equal(kind(link), 'symlink');
    assert.equal(readFileSync(join(tmp.dir, 'made-by-export.txt'), 'utf8'), '2001:db8::66\n203.0.113.7\n');
  });

  it('a FIFO or a device node is refused with exit 2 and left as it is, for every format', () => {
    const fifo = join(tmp.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Our own node of /dev/full (1,7): the real one must never be at stake in a test.
    const full = join(tmp.dir, 'full');
    execFileSync('mknod', [full, 'c', '1', '7']);
    for (const [path, what] of [[fifo, 'a FIFO'], [full, 'a character device']] as const) {
      for (const format of ['plain', 'json', 'hosts-deny']) {
        refused(cli('export', format, '--file', path), new RegExp(`${path} is ${what}, not a regular file: .*--file -`));
      }
      const link = `${path}-link`;
      symlinkSync(path, link);
      refused(cli('export', 'plain', '--file', link), /not a regular file/);
      assert.equal(kind(link), 'symlink');
    }
    assert.equal(kind(fifo), 'fifo');
    assert.equal(kind(full), 'char device');
  });

  it('--file - writes to stdout', () => {
    const result = cli('export', 'plain', '--file', '-');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '2001:db8::66\n203.0.113.7\n');
    assert.ok(!readdirSync(tmp.dir).includes('-'), 'no file named "-"');
  });

  it('the hosts-deny backend writes through a symlinked hosts.deny (config management\'s), which stays a symlink', () => {
    const managed = join(tmp.dir, 'managed');
    mkdirSync(managed);
    writeFileSync(join(managed, 'hosts.deny'), '# managed elsewhere\nsshd: 10.9.9.9\n');
    const hostsDeny = join(tmp.dir, 'hosts.deny');
    symlinkSync(join(managed, 'hosts.deny'), hostsDeny);
    const config = join(tmp.dir, 'etc');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${hostsDeny}\n`);
    const withBackend = (...args: string[]): CliResult => runCli(['--db', db, '--config', config, ...args]);
    assert.equal(withBackend('ban', '198.51.100.9').code, 0);
    assert.equal(withBackend('reconcile').code, 0);
    assert.equal(kind(hostsDeny), 'symlink', 'hosts.deny is still the symlink');
    const text = readFileSync(join(managed, 'hosts.deny'), 'utf8');
    assert.match(text, /^# managed elsewhere\nsshd: 10\.9\.9\.9\n# BEGIN f2b-store\n/);
    assert.match(text, /ALL: 198\.51\.100\.9\n/);
    assert.match(text, /ALL: \[2001:db8::66\]\n/);
    assert.equal(withBackend('stop', '--flush').code, 0);
    assert.equal(kind(hostsDeny), 'symlink', 'still a symlink after a flush');
    assert.equal(readFileSync(join(managed, 'hosts.deny'), 'utf8'), '# managed elsewhere\nsshd: 10.9.9.9\n');
  });

  it('a FIFO configured as hosts.deny is never read (it would block) nor replaced: exit 1 naming it', () => {
    const fifo = join(tmp.dir, 'hosts.deny.fifo');
    execFileSync('mkfifo', [fifo]);
    const config = join(tmp.dir, 'etc-fifo');
    mkdirSync(config);
    writeFileSync(join(config, 'f2b-store.conf'), `[reconcile]\nbackends = hosts-deny\n[hosts-deny]\nfile = ${fifo}\n`);
    // Reading a FIFO blocks until a writer comes: a hang is the failure.
    const result = runCli(['--db', db, '--config', config, 'reconcile'], { timeoutMs: 30_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`${fifo} is a FIFO, not a regular file`));
    assert.equal(kind(fifo), 'fifo');
  });
});

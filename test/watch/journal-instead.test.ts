import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { compileLogPattern, journalInsteadOfFiles, matchingFiles, namesAFile } from '../../src/watch/index.js';
import { tempDir } from '../helpers/cli.js';

describe('backend = auto: a jail reads the journal only where no log path names a file and journald runs', () => {
  let tmp: ReturnType<typeof tempDir>;
  let socket: string;
  beforeEach(() => {
    tmp = tempDir();
    mkdirSync(join(tmp.dir, 'log', 'sshd'), { recursive: true });
    mkdirSync(join(tmp.dir, 'log', 'empty.d'));
    writeFileSync(join(tmp.dir, 'log', 'sshd', 'a.log'), '');
    writeFileSync(join(tmp.dir, 'log', '.hidden.log'), '');
    // Stands for journald's socket: its being there is what tells that journald runs.
    socket = join(tmp.dir, 'socket');
    writeFileSync(socket, '');
  });
  afterEach(() => tmp.cleanup());

  it('namesAFile says what matchingFiles finds, synchronously: literal names, globs over several levels, never a directory or a hidden file', async () => {
    const cases = ['log/sshd/a.log', 'log/sshd/b.log', 'log/sshd', 'log/*/a.log', 'log/*/*.log', 'log/s*/[ab].log', 'log/*.log', 'log/empty.d/*', 'missing/*/x', 'log/sshd/a.log/x'];
    for (const name of cases) {
      const pattern = compileLogPattern(join(tmp.dir, name), false);
      assert.equal(namesAFile(pattern), (await matchingFiles(pattern)).length > 0, name);
    }
    assert.deepEqual(cases.filter((name) => namesAFile(compileLogPattern(join(tmp.dir, name), false))), ['log/sshd/a.log', 'log/*/a.log', 'log/*/*.log', 'log/s*/[ab].log']);
  });

  it('the journal when none of the paths names a file and journald runs; the files otherwise', () => {
    const paths = (...names: string[]): { pattern: string; tail: boolean }[] => names.map((name) => ({ pattern: join(tmp.dir, name), tail: false }));
    assert.equal(journalInsteadOfFiles(paths('log/auth.log', 'log/*/secure'), socket), true);
    assert.equal(journalInsteadOfFiles(paths('log/auth.log', 'log/*/a.log'), socket), false, 'one path names a file');
    assert.equal(journalInsteadOfFiles(paths('log/auth.log'), join(tmp.dir, 'no-socket')), false, 'journald does not run');
  });
});

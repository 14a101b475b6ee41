import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openAtomicFile, rewriteFile, writeFileAtomic } from '../../src/backends/index.js';
import { tempDir } from '../helpers/cli.js';

describe('atomic file replacement', () => {
  it('keeps an existing file\'s mode and gives a new one 0644, whatever the umask (the daemon runs with 0077)', async () => {
    const tmp = tempDir();
    const old = process.umask(0o077);
    try {
      const existing = join(tmp.dir, 'hosts.deny');
      writeFileSync(existing, 'old\n');
      chmodSync(existing, 0o644);
      await writeFileAtomic(existing, 'new\n');
      assert.equal(readFileSync(existing, 'utf8'), 'new\n');
      assert.equal(statSync(existing).mode & 0o777, 0o644);
      const fresh = join(tmp.dir, 'bans.txt');
      await writeFileAtomic(fresh, 'x\n');
      assert.equal(statSync(fresh).mode & 0o777, 0o644);
      assert.deepEqual(readdirSync(tmp.dir).sort(), ['bans.txt', 'hosts.deny'], 'no temporary file left');
    } finally {
      process.umask(old);
      tmp.cleanup();
    }
  });

  it('a discarded write leaves the old file and no temporary file', () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, 'list');
      writeFileSync(path, 'old\n');
      const file = openAtomicFile(path);
      file.write('half');
      file.discard();
      assert.equal(readFileSync(path, 'utf8'), 'old\n');
      assert.deepEqual(readdirSync(tmp.dir), ['list']);
    } finally {
      tmp.cleanup();
    }
  });

  it('rewriteFile writes an existing file in place, keeping its inode (what a bind mount of it holds), and makes a missing one whole', async () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, 'hosts.deny');
      writeFileSync(path, 'sshd: 10.9.9.9\n# a long old text that the new one is shorter than\n');
      const { ino } = statSync(path);
      await rewriteFile(path, 'sshd: 10.9.9.9\n');
      assert.equal(readFileSync(path, 'utf8'), 'sshd: 10.9.9.9\n', 'cut to the new length');
      await rewriteFile(path, 'sshd: 10.9.9.9\nALL: 203.0.113.7\nALL: 203.0.113.8\n');
      assert.equal(readFileSync(path, 'utf8'), 'sshd: 10.9.9.9\nALL: 203.0.113.7\nALL: 203.0.113.8\n');
      await rewriteFile(path, 'no final newline');
      assert.equal(readFileSync(path, 'utf8'), 'no final newline');
      assert.equal(statSync(path).ino, ino, 'the same file all along');
      const fresh = join(tmp.dir, 'new.deny');
      await rewriteFile(fresh, 'ALL: 203.0.113.9\n');
      assert.equal(readFileSync(fresh, 'utf8'), 'ALL: 203.0.113.9\n');
      assert.deepEqual(readdirSync(tmp.dir).sort(), ['hosts.deny', 'new.deny'], 'no temporary file left');
    } finally {
      tmp.cleanup();
    }
  });
});

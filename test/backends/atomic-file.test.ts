import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openAtomicFile, writeFileAtomic } from '../../src/backends/index.js';
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
});

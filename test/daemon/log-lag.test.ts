import assert from 'node:assert/strict';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { bytesBehind } from '../../src/daemon/log-lag.js';
import { tempDir } from '../helpers/cli.js';

describe('a log file\'s bytes not read yet (metrics)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('from where reading stands in the file at the path; all of a file that replaced it; nothing for a missing one', () => {
    const path = join(tmp.dir, 'auth.log');
    writeFileSync(path, 'x'.repeat(1000));
    const { dev, ino } = statSync(path);
    const at = { path, device: dev, inode: ino, offset: 400, headHash: '' };
    assert.equal(bytesBehind(at), 600);
    // Rotated: reading still stands in the renamed file, and the new one is unread.
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'y'.repeat(30));
    assert.equal(bytesBehind(at), 30);
    assert.equal(bytesBehind({ ...at, path: join(tmp.dir, 'gone.log') }), undefined);
  });
});

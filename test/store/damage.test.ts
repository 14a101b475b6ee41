import assert from 'node:assert/strict';
import { readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EXIT_FAILED, type BanRequest } from '../../src/core/index.js';
import { BanStore, DatabaseDamagedError, isDamaged, repairDatabase } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';
import { damagePages, integrityProblems, leafPages } from '../helpers/damage.js';

const T0 = 1_800_000_000;

function requests(count: number): BanRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    address: `198.51.${i >> 8}.${i & 255}`, jail: i % 2 ? 'sshd' : 'postfix', expiresAt: i % 3 ? T0 + 3600 : null, source: 'filter',
    reason: 'many failures from this address in the log',
  }));
}

function damagedError(path: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof DatabaseDamagedError, `a DatabaseDamagedError, not ${String(e)}`);
    assert.equal(e.exitCode, EXIT_FAILED);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.ok(e.message.startsWith(`database ${path} is damaged (`), e.message);
    assert.match(e.message, /PRAGMA integrity_check.*backup.*f2b-store repair/);
    return true;
  };
}

describe('a damaged database (store)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'bans.sqlite3');
  });
  afterEach(() => tmp.cleanup());

  /** A store of 2,000 bans (dozens of pages), closed: everything is in the file itself. */
  const filled = (): void => {
    const store = BanStore.open(path);
    store.banMany(requests(2000), T0);
    store.commitLogBatch({
      bans: [], counters: [{ jail: 'sshd', address: '203.0.113.9', state: '{"times":[1799999990]}' }],
      positions: [{ path: '/var/log/auth.log', device: 1, inode: 2, offset: 300, headHash: 'abc' }],
      cursors: [{ source: 'system', cursor: 's=1;i=2', realtime: 1_799_999_990_000_000 }],
    }, T0);
    store.close();
  };

  it('creates a new database without ever leaving an empty or temporary file behind', () => {
    BanStore.open(path).close();
    assert.deepEqual(readdirSync(tmp.dir), ['bans.sqlite3']);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(statSync(path).size > 0, 'the file holds the schema from the start');
  });

  it('a creation cut short by a crash leaves only its temporary file, and the next open creates the database', () => {
    writeFileSync(`${path}.new-4242-0badf00d`, '');
    const store = BanStore.open(path);
    assert.equal(store.ban({ address: '203.0.113.7', jail: 'sshd', expiresAt: null, source: 'manual' }, T0).change, 'new');
    store.close();
  });

  it('refuses an empty file (it never reads as a database without bans)', () => {
    filled();
    truncateSync(path, 0);
    assert.throws(() => BanStore.open(path), damagedError(path));
    assert.equal(statSync(path).size, 0, 'left as it is');
  });

  it('refuses a file that is not a database', () => {
    writeFileSync(path, 'not a database, but long enough to have a header '.repeat(100));
    assert.throws(() => BanStore.open(path), damagedError(path));
  });

  it('names the file when a later query meets a damaged page, and tells the listener once', () => {
    filled();
    const [, leaf] = leafPages(path, 'bans');
    assert.ok(leaf !== undefined, 'the bans fill several leaf pages');
    damagePages(path, leaf.page, 1);
    assert.notDeepEqual(integrityProblems(path), [], 'SQLite sees the damage');
    const store = BanStore.open(path);
    const told: DatabaseDamagedError[] = [];
    store.onDamage((error) => told.push(error));
    assert.throws(() => [...store.activeAnyOrder(T0)], damagedError(path));
    assert.throws(() => store.jailCounts(T0), damagedError(path));
    assert.throws(() => store.checkPages(), damagedError(path));
    assert.equal(told.length, 1);
    store.close();
  });

  it('classifies by SQLite\'s result code, not by the message', () => {
    assert.equal(isDamaged(new Database.SqliteError('anything', 'SQLITE_CORRUPT_INDEX')), true);
    assert.equal(isDamaged(new Database.SqliteError('anything', 'SQLITE_NOTADB')), true);
    assert.equal(isDamaged(new Database.SqliteError('database disk image is malformed', 'SQLITE_BUSY')), false);
    assert.equal(isDamaged(new Error('database disk image is malformed')), false);
    assert.equal(isDamaged(new Error('wrapped', { cause: new Database.SqliteError('x', 'SQLITE_CORRUPT') })), true);
  });

  it('repair saves every row but those of the damaged page, and keeps the damaged file aside', () => {
    filled();
    const leaves = leafPages(path, 'bans');
    const leaf = leaves[Math.floor(leaves.length / 2)];
    assert.ok(leaf !== undefined && leaf.rows > 0, 'a leaf page in the middle holds bans');
    damagePages(path, leaf.page, 1);
    const report = repairDatabase(path, new Date('2026-12-01T10:00:00Z'));
    assert.equal(report.fine, false);
    assert.deepEqual(report.saved, { bans: 2000 - leaf.rows, log_positions: 1, failure_counters: 1, journal_cursors: 1 });
    assert.deepEqual(report.lost, { bans: leaf.rows, log_positions: 0, failure_counters: 0, journal_cursors: 0 });
    assert.equal(report.kept, `${path}.damaged-20261201T100000Z`);
    assert.equal(statSync(report.kept).mode & 0o777, 0o600);
    assert.notDeepEqual(integrityProblems(report.kept), [], 'the damaged file is kept as it was');
    assert.deepEqual(integrityProblems(path), []);
    const store = BanStore.open(path);
    assert.equal([...store.all()].length, 2000 - leaf.rows);
    assert.equal(store.logPosition('/var/log/auth.log')?.offset, 300);
    assert.equal(store.failureCounters('sshd').get('203.0.113.9'), '{"times":[1799999990]}');
    // Row ids were kept: a new ban of a saved address still extends its open ban.
    const saved = [...store.active(T0)].find((ban) => ban.expiresAt !== null);
    assert.ok(saved !== undefined);
    assert.equal(store.ban({ ...saved, expiresAt: null, source: 'manual' }, T0 + 1).change, 'extended');
    store.close();
    assert.equal(repairDatabase(path).fine, true, 'the new one is sound');
  });

  it('repair turns an empty file into a new database, and leaves a file it cannot read at all alone', () => {
    writeFileSync(path, '');
    const report = repairDatabase(path);
    assert.deepEqual([report.fine, report.problems, report.saved.bans], [false, ['the file is empty'], 0]);
    BanStore.open(path).close();
    writeFileSync(path, 'x'.repeat(10_000));
    assert.throws(() => repairDatabase(path), /cannot repair .*: nothing in it can be read \(file is not a database\); it was left as it is/);
    assert.equal(statSync(path).size, 10_000);
  });
});

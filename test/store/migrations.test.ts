import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { OperationError } from '../../src/core/index.js';
import { BanStore, loadMigrations, schemaVersion } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const FIXTURE_V1 = new URL('../fixtures/store-v1.sqlite3', import.meta.url).pathname;
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('schema migrations', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('numbers schema files 1, 2, … without gaps', () => {
    const migrations = loadMigrations();
    assert.ok(migrations.length >= 2);
    migrations.forEach((m, i) => assert.equal(m.version, i + 1));
  });

  it('creates a new database at the newest version', () => {
    const store = BanStore.open(join(tmp.dir, 'new.sqlite3'));
    assert.deepEqual(store.migration.applied, loadMigrations().map((m) => m.name));
    assert.equal(store.migration.backup, null, 'nothing to back up in a new file');
    store.close();
  });

  it('upgrades a version-1 database, keeping its bans and a copy of the old file', () => {
    const path = join(tmp.dir, 'old.sqlite3');
    copyFileSync(FIXTURE_V1, path);
    const before = sha(path);
    const store = BanStore.open(path);
    assert.equal(store.migration.from, 1);
    assert.equal(store.migration.to, loadMigrations().length);
    assert.equal(store.migration.backup, `${path}.v1.bak`);
    const active = [...store.active(1_800_000_000)];
    assert.deepEqual(active.map((b) => [b.address, b.jail, b.banCount]), [['198.51.100.0/24', 'manual', 1], ['203.0.113.7', 'sshd', 3]]);
    assert.equal(store.history('2001:db8::66')[0]!.liftedBy, 'unban');
    store.close();
    const backup = new Database(`${path}.v1.bak`, { readonly: true });
    assert.equal(schemaVersion(backup), 1);
    assert.equal((backup.prepare('SELECT count(*) AS n FROM bans').get() as { n: number }).n, 3);
    backup.close();
    assert.notEqual(sha(path), before);
    const reopened = BanStore.open(path);
    assert.deepEqual(reopened.migration.applied, []);
    reopened.close();
  });

  it('refuses a database from a newer f2b-store and leaves it untouched', () => {
    const path = join(tmp.dir, 'future.sqlite3');
    const db = new Database(path);
    db.exec('CREATE TABLE future_things (x)');
    db.pragma('user_version = 99');
    db.close();
    const before = sha(path);
    assert.throws(() => BanStore.open(path), (e: unknown) =>
      e instanceof OperationError && e.exitCode === 1 && /schema version 99, newer than this f2b-store knows/.test(e.message));
    assert.equal(sha(path), before);
  });
});

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { random } from '../../bench/workload.js';

/**
 * Overwrites `count` pages of the database at `path`, from page `first` (SQLite's numbering: the
 * header is page 1), with pseudo-random bytes from `seed`: the same damage on every run.
 */
export function damagePages(path: string, first: number, count: number, seed = 7): void {
  const fd = openSync(path, 'r+');
  try {
    // The page size is the header's big-endian 16-bit number at offset 16 (1 meaning 65536).
    const header = Buffer.alloc(2);
    readSync(fd, header, 0, 2, 16);
    const size = header.readUInt16BE(0) === 1 ? 65536 : header.readUInt16BE(0);
    const next = random(seed);
    const bytes = Buffer.from(Array.from({ length: size * count }, () => Math.floor(next() * 256)));
    writeSync(fd, bytes, 0, bytes.length, (first - 1) * size);
  } finally {
    closeSync(fd);
  }
}

/** SQLite's integrity_check of the database at `path`: empty when it is sound. */
export function integrityProblems(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).filter((line) => line !== 'ok');
  } catch (error) {
    return [String(error)];
  } finally {
    db.close();
  }
}

/** The pages of `table`'s b-tree leaves, in page order, with how many rows each holds (SQLite's dbstat). */
export function leafPages(path: string, table: string): { page: number; rows: number }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[string], { page: number; rows: number }>(
      "SELECT pageno AS page, ncell AS rows FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno").all(table);
  } finally {
    db.close();
  }
}

/** The page of `name`'s b-tree root (sqlite_schema's rootpage): where damage stops every reader of it. */
export function rootPage(path: string, name: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[string], number>('SELECT rootpage FROM sqlite_schema WHERE name = ?').pluck().get(name) ?? 0;
  } finally {
    db.close();
  }
}

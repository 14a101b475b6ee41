import type Database from 'better-sqlite3';
import type { JournalCursor, LogPosition } from '../core/index.js';
import { preparedOnUse } from './prepared-on-use.js';

/**
 * Where reading the logs stands (tables log_positions and journal_cursors) over the store's
 * database handle. Saving runs inside the caller's transaction: a position commits with what
 * the lines before it caused.
 */
export class ReadPositions {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = preparedOnUse({
      position: () => db.prepare<[string], { path: string; device: number; inode: number; offset: number; head_hash: string }>(
        'SELECT path, device, inode, offset, head_hash FROM log_positions WHERE path = ?'),
      savePosition: () => db.prepare(
        `INSERT INTO log_positions (path, device, inode, offset, head_hash, updated_at) VALUES (@path, @device, @inode, @offset, @headHash, @now)
         ON CONFLICT (path) DO UPDATE SET device = excluded.device, inode = excluded.inode, offset = excluded.offset,
           head_hash = excluded.head_hash, updated_at = excluded.updated_at`),
      cursor: () => db.prepare<[string], { source: string; cursor: string; realtime: number }>(
        'SELECT source, cursor, realtime FROM journal_cursors WHERE source = ?'),
      saveCursor: () => db.prepare(
        `INSERT INTO journal_cursors (source, cursor, realtime, updated_at) VALUES (@source, @cursor, @realtime, @now)
         ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, realtime = excluded.realtime, updated_at = excluded.updated_at`),
    });
  }

  /** Where `path` was read up to, if it was. */
  logPosition(path: string): LogPosition | undefined {
    const row = this.stmt.position.get(path);
    return row && { path: row.path, device: row.device, inode: row.inode, offset: row.offset, headHash: row.head_hash };
  }

  /** Where reading the journal `source` stood, if it was read. */
  journalCursor(source: string): JournalCursor | undefined {
    const row = this.stmt.cursor.get(source);
    return row && { source: row.source, cursor: row.cursor, realtime: row.realtime };
  }

  save(positions: readonly LogPosition[], cursors: readonly JournalCursor[], now: number): void {
    for (const position of positions) this.stmt.savePosition.run({ ...position, now });
    for (const cursor of cursors) this.stmt.saveCursor.run({ ...cursor, now });
  }
}

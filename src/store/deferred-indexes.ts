import type Database from 'better-sqlite3';

/**
 * Drops the indexes of `table`, in the caller's transaction, and returns what makes them again
 * from their own SQL: one sort per index after a bulk write instead of a B-tree insert per row and
 * index. Call it before the transaction commits: a crash or an error before then rolls the drop
 * back with everything else, so no reader ever sees the table without its indexes.
 */
export function dropIndexes(db: Database.Database, table: string): () => void {
  const indexes = db.prepare<[string], { name: string; sql: string }>(
    "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY rowid").all(table);
  for (const { name } of indexes) db.exec(`DROP INDEX "${name}"`);
  return () => {
    for (const { sql } of indexes) db.exec(sql);
  };
}

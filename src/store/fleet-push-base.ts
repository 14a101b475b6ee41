import type Database from 'better-sqlite3';
import { preparedOnUse } from './prepared-on-use.js';

/** What this host's fleet event seqs are offset by (schema/008_fleet_push_base.sql). */
export class FleetPushBase {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = preparedOnUse({
      get: () => db.prepare<[string], { base: number }>('SELECT base FROM fleet_push_base WHERE reader = ?'),
      save: () => db.prepare('INSERT INTO fleet_push_base (reader, base) VALUES (@reader, @base) ON CONFLICT (reader) DO UPDATE SET base = excluded.base'),
    });
  }

  get(reader: string): number | undefined {
    return this.stmt.get.get(reader)?.base;
  }

  save(reader: string, base: number): void {
    this.stmt.save.run({ reader, base });
  }
}

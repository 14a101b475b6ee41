import type Database from 'better-sqlite3';
import { preparedOnUse } from './prepared-on-use.js';

/** Where this host stands in each fleet's event stream (schema/007_fleet.sql), written in the transaction of what it took in. */
export class FleetCursors {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = preparedOnUse({
      get: () => db.prepare<[string], { after: number }>('SELECT after FROM fleet_cursors WHERE fleet = ?'),
      save: () => db.prepare(
        `INSERT INTO fleet_cursors (fleet, after, updated_at) VALUES (@fleet, @after, @now)
         ON CONFLICT (fleet) DO UPDATE SET after = excluded.after, updated_at = excluded.updated_at`),
    });
  }

  get(fleet: string): number | undefined {
    return this.stmt.get.get(fleet)?.after;
  }

  save(fleet: string, after: number, now: number): void {
    this.stmt.save.run({ fleet, after, now });
  }
}

import type Database from 'better-sqlite3';
import { preparedOnUse } from './prepared-on-use.js';

/** A jail's counted failures of one address, as the engine persists them; `state` null deletes them. */
export interface FailureCounter {
  readonly jail: string;
  readonly address: string;
  readonly state: string | null;
}

/**
 * The jails' persisted failure counters (table failure_counters) over the store's database
 * handle. Saving runs inside the caller's transaction (see BanStore.commitLogBatch).
 */
export class FailureCounters {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = preparedOnUse({
      ofJail: () => db.prepare<[string], { address: string; state: string }>('SELECT address, state FROM failure_counters WHERE jail = ?'),
      // Positional parameters: a burst saves tens of thousands of rows, and binding by name costs more.
      save: () => db.prepare<[string, string, string, number]>(
        `INSERT INTO failure_counters (jail, address, state, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (jail, address) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`),
      delete: () => db.prepare<[string, string]>('DELETE FROM failure_counters WHERE jail = ? AND address = ?'),
      deleteOf: () => db.prepare('DELETE FROM failure_counters WHERE address = ?'),
      counts: () => db.prepare<[], { jail: string; n: number }>('SELECT jail, count(*) AS n FROM failure_counters GROUP BY jail'),
    });
  }

  /** A jail's counters, by address. */
  ofJail(jail: string): Map<string, string> {
    return new Map(this.stmt.ofJail.all(jail).map((row) => [row.address, row.state]));
  }

  save(counters: Iterable<FailureCounter>, now: number): void {
    for (const { jail, address, state } of counters) {
      if (state === null) this.stmt.delete.run(jail, address);
      else this.stmt.save.run(jail, address, state, now);
    }
  }

  /** Drops every jail's counters of `address`. */
  forget(address: string): void {
    this.stmt.deleteOf.run(address);
  }

  /** Per jail: how many addresses have counted failures. */
  counts(): Map<string, number> {
    return new Map(this.stmt.counts.all().map((row) => [row.jail, row.n]));
  }
}

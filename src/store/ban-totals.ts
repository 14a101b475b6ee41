import type Database from 'better-sqlite3';
import type { BanCounts, JailSourceCount } from '../core/index.js';
import { ACTIVE } from './bans.js';

interface CountRow {
  jail: string;
  source: string;
  n: number;
}

const keyOf = (row: { readonly jail: string; readonly source: string }): string => `${row.jail}\u0000${row.source}`;

function add(into: Map<string, JailSourceCount>, rows: readonly CountRow[], sign = 1): void {
  for (const row of rows) {
    const key = keyOf(row);
    into.set(key, { jail: row.jail, source: row.source, count: (into.get(key)?.count ?? 0) + sign * row.n });
  }
}

/**
 * Running counts for metrics that never scan the bans table but once, at the first read: after
 * it, each read takes in only the change log's new rows (by id) and the bans whose expiry passed
 * since the read before (by the open-expiry index), so its cost follows what changed, not how
 * many bans there are. The change log's rows are taken in before the daemon prunes them
 * (BanStore.advanceChangeReader), so none is missed between reads.
 */
export class BanTotals {
  private readonly stmt;
  private readonly active = new Map<string, JailSourceCount>();
  private readonly banned = new Map<string, JailSourceCount>();
  private readonly lifted = new Map<string, JailSourceCount>();
  private readonly expired = new Map<string, JailSourceCount>();
  /** The last change taken in, and the time up to which expiries are; undefined before the first read. */
  private cursor: number | undefined;
  private seenUntil = 0;

  /** `latest`: the change log's latest id (ChangeLog.latest). */
  constructor(private readonly db: Database.Database, private readonly latest: () => number) {
    this.stmt = {
      // A plain scan: through the open-bans index it looks every row up again (twice as long at 100,000).
      activeNow: db.prepare<unknown[], CountRow>(
        `SELECT jail, source, count(*) AS n FROM bans NOT INDEXED WHERE ${ACTIVE}
         GROUP BY jail, source`),
      changes: db.prepare<unknown[], CountRow & { kind: string }>(
        `SELECT kind, jail, source, count(*) AS n FROM changes WHERE id > @after AND id <= @upTo AND kind <> 'extend'
         GROUP BY kind, jail, source`),
      // An expired ban stays open until something closes it: then its lifted_at is its expiry.
      expiredOpen: db.prepare<unknown[], CountRow>(
        `SELECT jail, source, count(*) AS n FROM bans WHERE lifted_at IS NULL AND expires_at > @from AND expires_at <= @to
         GROUP BY jail, source`),
      expiredClosed: db.prepare<unknown[], CountRow>(
        `SELECT jail, source, count(*) AS n FROM bans WHERE lifted_at > @from AND lifted_at <= @to AND lifted_by = 'expired'
         GROUP BY jail, source`),
    };
  }

  /** The counts at `now` (epoch seconds, not going back). */
  read(now: number): BanCounts {
    this.db.transaction(() => {
      if (this.cursor === undefined) {
        add(this.active, this.stmt.activeNow.all({ now }));
        this.cursor = this.latest();
        this.seenUntil = now;
        return;
      }
      this.takeChanges();
      if (now <= this.seenUntil) return;
      const window = { from: this.seenUntil, to: now };
      for (const rows of [this.stmt.expiredOpen.all(window), this.stmt.expiredClosed.all(window)]) {
        add(this.expired, rows);
        add(this.active, rows, -1);
      }
      this.seenUntil = now;
    })();
    const list = (counts: Map<string, JailSourceCount>): JailSourceCount[] => [...counts.values()];
    return { active: list(this.active), banned: list(this.banned), lifted: list(this.lifted), expired: list(this.expired) };
  }

  /** Takes in the change log's rows after the cursor: called before they may be pruned. */
  takeChanges(): void {
    if (this.cursor === undefined) return;
    const upTo = this.latest();
    if (upTo <= this.cursor) return;
    for (const row of this.stmt.changes.all({ after: this.cursor, upTo })) {
      add(row.kind === 'lift' ? this.lifted : this.banned, [row]);
      add(this.active, [row], row.kind === 'lift' ? -1 : 1);
    }
    this.cursor = upTo;
  }
}

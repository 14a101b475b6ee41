import type Database from 'better-sqlite3';
import { MAX_TIME, storedTime, type Ban, type BanSource } from '../core/index.js';
import { preparedOnUse } from './prepared-on-use.js';

/** What a change did to the active ban of (address, jail): made it, lengthened it (or forced it), lifted it. */
export type ChangeKind = 'ban' | 'extend' | 'lift';

/** One row of the change log (schema/006_changes.sql). */
export interface StoredChange {
  /** The local sequence number: increasing, never reused. */
  readonly id: number;
  readonly kind: ChangeKind;
  readonly address: string;
  readonly jail: string;
  /** The ban's expiry after the change (the lifted ban's for 'lift'); null = permanent. */
  readonly expiresAt: number | null;
  /** 'extend' only: the expiry before (null = permanent). */
  readonly previousExpiresAt: number | null;
  readonly forced: boolean;
  readonly source: BanSource;
  readonly at: number;
  /** Which process made it: 'daemon', 'cli' or 'fleet'. */
  readonly writer: string;
  /** The fleet host that decided it; null for this host's own decisions (those a fleet pushes); THIS_HOST_ONLY for one kept from the fleet. */
  readonly origin: string | null;
}

/** The change log's reader that pushes this host's decisions to a fleet (src/fleet/pusher.ts). */
export const FLEET_PUSHER = 'fleet';

/** The origin of this host's decisions that no fleet is told of (`unban --local`): no node is named ''. */
export const THIS_HOST_ONLY = '';

/** Which changes to read: ids in (after, upTo], at most `limit`, leaving out those of the writer `except`. */
export interface ChangeQuery {
  readonly after: number;
  readonly upTo: number;
  readonly except: string;
  readonly limit: number;
}

interface ChangeRow {
  id: number;
  kind: ChangeKind;
  address: string;
  jail: string;
  expires_at: number | null;
  previous_expires_at: number | null;
  forced: number;
  source: BanSource;
  at: number;
  writer: string;
  origin: string | null;
}

/**
 * The change log's statements over the store's database handle. Appending runs inside the
 * caller's transaction (the one that changes bans): a change and its row commit together or not
 * at all.
 */
export class ChangeLog {
  private readonly stmt;
  /** Written into every row this connection appends. */
  writer = 'cli';

  constructor(db: Database.Database) {
    this.stmt = preparedOnUse({
      append: () => db.prepare<[ChangeKind, string, string, number | null, number | null, number, BanSource, number, string, string | null]>(
        `INSERT INTO changes (kind, address, jail, expires_at, previous_expires_at, forced, source, at, writer, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // append('ban') of each row, as storedTime holds its expiry: one statement instead of one call per ban.
      appendBansAfter: () => db.prepare(
        `INSERT INTO changes (kind, address, jail, expires_at, previous_expires_at, forced, source, at, writer, origin)
         SELECT 'ban', address, jail, CASE WHEN expires_at IS NULL THEN NULL ELSE min(max(expires_at, 0), @max) END, NULL, forced, source, @at, @writer, NULL
         FROM bans WHERE id > @after ORDER BY id`),
      after: () => db.prepare<unknown[], ChangeRow>(
        `SELECT id, kind, address, jail, expires_at, previous_expires_at, forced, source, at, writer, origin FROM changes
         WHERE id > @after AND id <= @upTo AND writer <> @except ORDER BY id LIMIT @limit`),
      oldest: () => db.prepare<[], { id: number | null }>('SELECT min(id) AS id FROM changes'),
      // The highest id ever handed out, also when its row was pruned.
      latest: () => db.prepare<[], { seq: number }>('SELECT seq FROM sqlite_sequence WHERE name = \'changes\''),
      reader: () => db.prepare<[string], { after: number }>('SELECT after FROM change_readers WHERE reader = ?'),
      saveReader: () => db.prepare(
        `INSERT INTO change_readers (reader, after, updated_at) VALUES (@reader, @after, @now)
         ON CONFLICT (reader) DO UPDATE SET after = excluded.after, updated_at = excluded.updated_at`),
      // This host's own ban or extension of (address, jail) that the fleet's pusher has not sent yet.
      ownUnpushed: () => db.prepare<unknown[], number>(
        `SELECT 1 FROM changes WHERE id > coalesce((SELECT after FROM change_readers WHERE reader = @reader), 0)
           AND address = @address AND jail = @jail AND origin IS NULL AND kind <> 'lift' LIMIT 1`).pluck(),
      pruneRead: () => db.prepare('DELETE FROM changes WHERE id <= (SELECT min(after) FROM change_readers)'),
      pruneOlder: () => db.prepare('DELETE FROM changes WHERE at < ?'),
    });
  }

  /**
   * Appends what happened to `ban`'s (address, jail); `previous` is an extended ban's expiry before.
   * `origin` names the fleet host whose decision it carries out (null: this host's own).
   */
  append(kind: ChangeKind, ban: Pick<Ban, 'address' | 'jail' | 'expiresAt' | 'forced' | 'source'>, at: number, previous: number | null = null, origin: string | null = null): void {
    this.stmt.append.run(kind, ban.address, ban.jail, ban.expiresAt, kind === 'extend' ? previous : null, Number(ban.forced), ban.source, at,
      this.writer, origin);
  }

  /**
   * Appends a 'ban' change for each bans row after id `after`, in id order: the rows a bulk write
   * just inserted, each a new ban (ids grow, so no older row is among them).
   */
  appendBansAfter(after: number, at: number): void {
    this.stmt.appendBansAfter.run({ after, at, writer: this.writer, max: MAX_TIME });
  }

  /** Up to `limit` changes after `after` up to `upTo`, but those `except` made, oldest first. */
  after(query: ChangeQuery): StoredChange[] {
    return this.stmt.after.all(query).map((row) => ({
      id: row.id, kind: row.kind, address: row.address, jail: row.jail,
      expiresAt: row.expires_at === null ? null : storedTime(row.expires_at),
      previousExpiresAt: row.previous_expires_at === null ? null : storedTime(row.previous_expires_at),
      forced: row.forced === 1, source: row.source, at: row.at, writer: row.writer, origin: row.origin,
    }));
  }

  /** Whether this host banned or extended (address, jail) in a change its fleet's pusher has not sent yet. */
  ownUnpushed(address: string, jail: string): boolean {
    return this.stmt.ownUnpushed.get({ reader: FLEET_PUSHER, address, jail }) !== undefined;
  }

  /** The id of the latest change ever appended (0 before the first). */
  latest(): number {
    return this.stmt.latest.get()?.seq ?? 0;
  }

  /** The id of the oldest change still kept, if any. */
  oldest(): number | undefined {
    return this.stmt.oldest.get()?.id ?? undefined;
  }

  /** Where `reader` stands, if it ever read. */
  reader(reader: string): number | undefined {
    return this.stmt.reader.get(reader)?.after;
  }

  /** Records that `reader` took in every change up to `after`, and deletes those every reader has taken in. */
  advance(reader: string, after: number, now: number): void {
    this.stmt.saveReader.run({ reader, after, now });
    this.stmt.pruneRead.run();
  }

  /** Records where `reader` stands, deleting nothing (see BanStore.markChangeReader). */
  mark(reader: string, after: number, now: number): void {
    this.stmt.saveReader.run({ reader, after, now });
  }

  /** Deletes changes made before `before`, read or not (a reader left behind starts over from the bans). */
  pruneBefore(before: number): number {
    return this.stmt.pruneOlder.run(before).changes;
  }
}

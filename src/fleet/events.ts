import type pg from 'pg';
import type { FleetEvent, StoredChange } from '../store/index.js';
import { quoted } from './migrations.js';

/** An event as read back from PostgreSQL, with its id (the pullers' cursor). */
export interface PulledEvent extends FleetEvent {
  readonly id: number;
  /** A lift that an event of the pulling host's own (a ban or extension) follows: it decided after the lift, and keeps its ban. */
  readonly overtaken: boolean;
}

/** A host as the fleet knows it (fleet status). */
export interface FleetHost {
  readonly node: string;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  readonly pushedSeq: number;
  readonly lastPush: Date | null;
  readonly pulledId: number;
  readonly lastPull: Date | null;
  /** When its latest event reached PostgreSQL. */
  readonly lastEvent: Date | null;
  readonly events: number;
}

interface EventRow {
  id: string;
  origin: string;
  kind: FleetEvent['kind'];
  address: string;
  jail: string;
  expires_at: string | null;
  at: string;
  overtaken?: boolean;
}

const toEvent = (row: EventRow): PulledEvent => ({
  id: Number(row.id), origin: row.origin, kind: row.kind, address: row.address, jail: row.jail,
  expiresAt: row.expires_at === null ? null : Number(row.expires_at), at: Number(row.at), overtaken: row.overtaken === true,
});

/**
 * The fleet's statements over one PostgreSQL connection: every table is named with the schema, so
 * the connection's search_path does not matter. The only place that writes SQL for PostgreSQL.
 */
export class FleetEvents {
  private readonly hosts: string;
  private readonly events: string;

  constructor(private readonly client: pg.Client, schema: string) {
    this.hosts = `${quoted(schema)}.hosts`;
    this.events = `${quoted(schema)}.events`;
  }

  /** Records that `node` is here (a row in hosts, kept); true when it had no row (new, or forgotten since). */
  async join(node: string): Promise<boolean> {
    const result = await this.client.query<{ inserted: boolean }>(
      `INSERT INTO ${this.hosts} (node) VALUES ($1) ON CONFLICT (node) DO UPDATE SET last_seen = now() RETURNING (xmax = 0) AS inserted`, [node]);
    return result.rows[0]?.inserted === true;
  }

  /** Deletes `node`'s row in hosts, so pruning no longer waits for it; false when it had none. Its events stay. */
  async forget(node: string): Promise<boolean> {
    const result = await this.client.query(`DELETE FROM ${this.hosts} WHERE node = $1`, [node]);
    return (result.rowCount ?? 0) > 0;
  }

  /** Forgets (see forget) every host other than `node` unseen for longer than `seconds`; returns their names. */
  async forgetUnseen(node: string, seconds: number): Promise<string[]> {
    const result = await this.client.query<{ node: string }>(
      `DELETE FROM ${this.hosts} WHERE node <> $1 AND last_seen < now() - make_interval(secs => $2) RETURNING node`, [node, seconds]);
    return result.rows.map((row) => row.node).sort();
  }

  /**
   * Inserts `changes` (this host's, in order) as events of `node`, in one statement: a change
   * pushed before (same origin and seq) is left as it is. Returns how many were new.
   */
  async push(node: string, changes: readonly StoredChange[], upTo: number): Promise<number> {
    const column = <T>(pick: (change: StoredChange) => T): T[] => changes.map(pick);
    const result = await this.client.query<{ pushed: string }>(
      `WITH pushed AS (
         INSERT INTO ${this.events} (origin, seq, kind, address, jail, expires_at, source, at)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[])
         ON CONFLICT (origin, seq) DO NOTHING RETURNING 1),
       host AS (
         UPDATE ${this.hosts} SET pushed_seq = greatest(pushed_seq, $9), last_push = now(), last_seen = now() WHERE node = $1 RETURNING 1)
       SELECT (SELECT count(*) FROM pushed) AS pushed, (SELECT count(*) FROM host) AS hosts`,
      [node, column((c) => c.id), column((c) => c.kind), column((c) => c.address), column((c) => c.jail),
        column((c) => c.expiresAt), column((c) => c.source), column((c) => c.at), upTo]);
    return Number(result.rows[0]?.pushed ?? 0);
  }

  /** The highest seq, either sign, the fleet holds for `node` (0 for none): where a store joining under that name numbers from. */
  async highestSeq(node: string): Promise<number> {
    const result = await this.client.query<{ seq: string }>(
      `SELECT greatest(max(seq), -min(seq), 0) AS seq FROM ${this.events} WHERE origin = $1`, [node]);
    return Number(result.rows[0]?.seq ?? 0);
  }

  /**
   * Up to `limit` events of other hosts after `after`, oldest first; each lift says whether an
   * event of `node`'s own follows it (the order of ids is the order of commits: see
   * events_serialise), whatever the hosts' clocks say.
   */
  async after(node: string, after: number, limit: number): Promise<PulledEvent[]> {
    const result = await this.client.query<EventRow>(
      `SELECT id, origin, kind, address, jail, expires_at, at,
         kind = 'lift' AND EXISTS (SELECT 1 FROM ${this.events} AS o
           WHERE o.address = e.address AND o.jail = e.jail AND o.id > e.id AND o.origin = $2 AND o.kind <> 'lift') AS overtaken
       FROM ${this.events} AS e WHERE id > $1 AND origin <> $2 ORDER BY id LIMIT $3`, [after, node, limit]);
    return result.rows.map(toEvent);
  }

  /**
   * What a host joining the fleet loads instead of replaying every event: the bans other hosts
   * hold now (per address and jail, what they decided since its latest lift, the latest expiry
   * winning), and the event id they stand at — read in one snapshot, so following events after
   * that id misses nothing and repeats nothing. `node`'s own events with |seq| up to `ownUpTo`
   * count as another host's: those of an earlier store under the same name (see pushChanges).
   */
  async snapshot(node: string, now: number, ownUpTo: number): Promise<{ readonly events: PulledEvent[]; readonly upTo: number }> {
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const top = await this.client.query<{ id: string | null }>(`SELECT max(id) AS id FROM ${this.events}`);
      const upTo = Number(top.rows[0]?.id ?? 0);
      const active = await this.client.query<EventRow>(
        `WITH lifted AS (SELECT address, jail, max(id) AS id FROM ${this.events} WHERE kind = 'lift' GROUP BY address, jail)
         SELECT max(e.id) AS id, (array_agg(e.origin ORDER BY e.id DESC))[1] AS origin, 'ban' AS kind, e.address, e.jail,
           CASE WHEN bool_or(e.expires_at IS NULL) THEN NULL ELSE max(e.expires_at) END AS expires_at, max(e.at) AS at
         FROM ${this.events} AS e LEFT JOIN lifted AS l ON l.address = e.address AND l.jail = e.jail
         WHERE e.kind <> 'lift' AND e.id > coalesce(l.id, 0) AND (e.origin <> $1 OR abs(e.seq) <= $3)
         GROUP BY e.address, e.jail
         HAVING bool_or(e.expires_at IS NULL) OR max(e.expires_at) > $2
         ORDER BY 1`, [node, now, ownUpTo]);
      await this.client.query('COMMIT');
      return { events: active.rows.map(toEvent), upTo };
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * Deletes the events nobody needs any more, among those every host has pulled: of an address
   * and jail, every event up to its latest lift (a puller is past them, and a host joining by
   * snapshot reads only what follows the latest lift), and every event when all of them ended
   * before `now`. A permanent ban's events stay until a lift of it is pulled everywhere. A host
   * that left the fleet holds this back until it is forgotten (forget, forgetUnseen). Returns how
   * many went.
   */
  async prune(now: number): Promise<number> {
    const result = await this.client.query(
      `WITH horizon AS (SELECT coalesce(min(pulled_id), 0) AS id FROM ${this.hosts}),
       lifted AS (SELECT address, jail, max(id) AS id FROM ${this.events} WHERE kind = 'lift' AND id <= (SELECT id FROM horizon) GROUP BY address, jail)
       DELETE FROM ${this.events} AS e
       WHERE e.id <= (SELECT id FROM horizon)
         AND (e.id <= (SELECT l.id FROM lifted AS l WHERE l.address = e.address AND l.jail = e.jail)
           OR NOT EXISTS (SELECT 1 FROM ${this.events} AS o WHERE o.address = e.address AND o.jail = e.jail
             AND (o.expires_at IS NULL OR o.expires_at >= $1)))`, [now]);
    return result.rowCount ?? 0;
  }

  /** Records where `node`'s puller stands. */
  async pulled(node: string, id: number): Promise<void> {
    await this.client.query(`UPDATE ${this.hosts} SET pulled_id = greatest(pulled_id, $2), last_pull = now(), last_seen = now() WHERE node = $1`,
      [node, id]);
  }

  /** How many events of other hosts lie after `after`, and when the oldest of them reached PostgreSQL. */
  async lag(node: string, after: number): Promise<{ readonly events: number; readonly oldest: Date | null }> {
    const result = await this.client.query<{ events: string; oldest: Date | null }>(
      `SELECT count(*) AS events, min(created_at) AS oldest FROM ${this.events} WHERE id > $1 AND origin <> $2`, [after, node]);
    return { events: Number(result.rows[0]?.events ?? 0), oldest: result.rows[0]?.oldest ?? null };
  }

  /** Every host, with its latest event. */
  async hostList(): Promise<FleetHost[]> {
    const result = await this.client.query<{
      node: string; first_seen: Date; last_seen: Date; pushed_seq: string; last_push: Date | null; pulled_id: string; last_pull: Date | null;
      last_event: Date | null; events: string;
    }>(
      `SELECT h.*, (SELECT created_at FROM ${this.events} AS e WHERE e.origin = h.node ORDER BY seq DESC LIMIT 1) AS last_event,
         (SELECT count(*) FROM ${this.events} AS e WHERE e.origin = h.node) AS events
       FROM ${this.hosts} AS h ORDER BY h.node`);
    return result.rows.map((row) => ({
      node: row.node, firstSeen: row.first_seen, lastSeen: row.last_seen, pushedSeq: Number(row.pushed_seq), lastPush: row.last_push,
      pulledId: Number(row.pulled_id), lastPull: row.last_pull, lastEvent: row.last_event, events: Number(row.events),
    }));
  }
}

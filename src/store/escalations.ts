import type Database from 'better-sqlite3';
import { tryParseAddress, type Duration, type Family } from '../core/index.js';

/** A network whose banned addresses reached an escalation's count (see BanStore.escalations). */
export interface EscalationCount {
  /** Canonical `net/prefix`. */
  readonly network: string;
  /** Distinct addresses (and narrower networks) of it banned in the window. */
  readonly addresses: number;
  /** The longest bantime among those bans; null when one is permanent. */
  readonly longest: Duration;
}

export interface EscalationQuery {
  readonly jail: string;
  readonly family: Family;
  readonly prefix: number;
  /** Epoch seconds: bans from then on count. */
  readonly since: number;
  readonly least: number;
  /** Ban rows `after` < id <= `upTo` are the news: only their networks are counted. */
  readonly after: number;
  readonly upTo: number;
}

/**
 * The network of `prefix` bits of a stored address of `family`; NULL for the other family, a
 * network as wide or wider, or text that is no address (a row written by hand).
 */
function networkOf(address: unknown, family: unknown, prefix: unknown): string | null {
  if (typeof address !== 'string' || typeof prefix !== 'number') return null;
  const parsed = tryParseAddress(address);
  if (parsed === undefined || parsed.family !== family || parsed.prefix <= prefix) return null;
  const slash = parsed.text.indexOf('/');
  return tryParseAddress(`${slash === -1 ? parsed.text : parsed.text.slice(0, slash)}/${prefix}`)?.text ?? null;
}

/**
 * Counting the distinct addresses banned per network for escalation. SQLite has no address
 * arithmetic: a function of this connection names each ban's network.
 */
export class Escalations {
  private readonly count;

  constructor(db: Database.Database) {
    db.function('f2b_network', { deterministic: true }, networkOf);
    // A member lifted by hand (a false positive) does not count, nor one banned before the network's
    // own ban was last lifted by hand: lifting a network starts its count afresh.
    this.count = db.prepare<unknown[], { network: string; addresses: number; permanent: number; longest: number | null }>(
      `WITH fresh(network) AS (
         SELECT DISTINCT f2b_network(address, @family, @prefix) FROM bans
          WHERE id > @after AND id <= @upTo AND jail = @jail AND banned_at >= @since),
       members(network, address, banned_at, expires_at) AS (
         SELECT f2b_network(address, @family, @prefix), address, banned_at, expires_at FROM bans
          WHERE jail = @jail AND banned_at >= @since AND (lifted_by IS NULL OR lifted_by = 'expired'))
       SELECT m.network, count(DISTINCT m.address) AS addresses, max(m.expires_at IS NULL) AS permanent,
              max(m.expires_at - m.banned_at) AS longest
         FROM members AS m JOIN fresh USING (network)
        WHERE m.banned_at >= coalesce((SELECT max(l.lifted_at) FROM bans AS l
                WHERE l.address = m.network AND l.jail = @jail AND l.lifted_by <> 'expired'), -1)
        GROUP BY m.network HAVING count(DISTINCT m.address) >= @least ORDER BY m.network`);
  }

  /** The networks of the news of `query` with at least `least` distinct addresses banned since `since`. */
  networks(query: EscalationQuery): EscalationCount[] {
    if (query.upTo <= query.after) return [];
    return this.count.all(query).map((row) => ({
      network: row.network,
      addresses: row.addresses,
      longest: row.permanent === 1 ? null : Math.max(1, row.longest ?? 1),
    }));
  }
}

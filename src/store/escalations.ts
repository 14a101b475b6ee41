import type Database from 'better-sqlite3';
import { networkOf, tryParseAddress, type Duration, type Family } from '../core/index.js';

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
function storedNetwork(address: unknown, family: unknown, prefix: unknown): string | null {
  if (typeof address !== 'string' || typeof prefix !== 'number') return null;
  const parsed = tryParseAddress(address);
  if (parsed === undefined || parsed.family !== family || parsed.prefix <= prefix) return null;
  return networkOf(parsed, prefix).text;
}

/**
 * Text bounds [lo, hi) holding the canonical text of every address in `network`: its leading
 * groups that are whole and cannot be compressed (IPv4 octets; IPv6 groups before a zero one,
 * where `::` may start) are printed the same in each. A range of the address index instead of a
 * scan of every ban: with 100,000 bans in the window a check costs 3 ms of CPU, not 780 ms.
 */
function textRange(network: string, family: Family, prefix: number): { lo: string; hi: string } {
  const base = network.slice(0, network.indexOf('/'));
  const whole = Math.floor(prefix / (family === 4 ? 8 : 16));
  const separator = family === 4 ? '.' : ':';
  const groups = family === 4 ? base.split('.') : (base.split('::')[0] ?? '').split(':').filter((group) => group !== '');
  const kept: string[] = [];
  for (const group of groups.slice(0, whole)) {
    if (family === 6 && group === '0') break;
    kept.push(group);
  }
  if (kept.length === 0) return { lo: '', hi: '~' };
  const lo = kept.join(separator);
  // The separator's next character ends the range: '.' + 1 is '/', ':' + 1 is ';'.
  return { lo: `${lo}${separator}`, hi: `${lo}${String.fromCharCode(separator.charCodeAt(0) + 1)}` };
}

/**
 * Counting the distinct addresses banned per network for escalation. SQLite has no address
 * arithmetic: a function of this connection names each ban's network.
 */
export class Escalations {
  private readonly fresh;
  private readonly count;

  constructor(db: Database.Database) {
    db.function('f2b_network', { deterministic: true }, storedNetwork);
    this.fresh = db.prepare<unknown[], string | null>(
      `SELECT DISTINCT f2b_network(address, @family, @prefix) FROM bans
        WHERE id > @after AND id <= @upTo AND jail = @jail AND banned_at >= @since`).pluck();
    // A member lifted by hand (a false positive) does not count, nor one banned before the network's
    // own ban was last lifted by hand: lifting a network starts its count afresh.
    this.count = db.prepare<unknown[], { addresses: number; permanent: number | null; longest: number | null }>(
      `SELECT count(DISTINCT address) AS addresses, max(expires_at IS NULL) AS permanent, max(expires_at - banned_at) AS longest
         FROM bans
        WHERE address >= @lo AND address < @hi AND jail = @jail AND banned_at >= @since
          AND (lifted_by IS NULL OR lifted_by = 'expired') AND f2b_network(address, @family, @prefix) = @network
          AND banned_at >= coalesce((SELECT max(lifted_at) FROM bans
                WHERE address = @network AND jail = @jail AND lifted_by <> 'expired'), -1)`);
  }

  /** The networks of the news of `query` with at least `least` distinct addresses banned since `since`. */
  networks(query: EscalationQuery): EscalationCount[] {
    if (query.upTo <= query.after) return [];
    const { jail, family, prefix, since } = query;
    const networks = this.fresh.all({ jail, family, prefix, since, after: query.after, upTo: query.upTo })
      .filter((network): network is string => network !== null).sort();
    return networks.flatMap((network) => {
      const row = this.count.get({ jail, family, prefix, since, network, ...textRange(network, family, prefix) });
      if (!row || row.addresses < query.least) return [];
      return [{ network, addresses: row.addresses, longest: row.permanent === 1 ? null : Math.max(1, row.longest ?? 1) }];
    });
  }
}

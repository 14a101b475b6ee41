import type Database from 'better-sqlite3';
import { BAN_SOURCES, storedTime, tryParseAddress, type BanSource } from '../core/index.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
/** How many hours the hourly counts cover, the current one included. */
export const STATS_HOURS = 24;
/** How many days the daily counts cover, today included; also the default period. */
export const STATS_DAYS = 30;
/** How many networks and repeat offenders are named. */
const TOP = 10;

const SOURCES: readonly BanSource[] = [...BAN_SOURCES, 'fleet'];

/** Which bans `stats` counts: those made from `since` to `now` (epoch seconds, both included), of one jail or all. */
export interface StatsQuery {
  readonly now: number;
  /** Default: the start of the UTC day STATS_DAYS - 1 days before now's, so the daily counts cover the whole period. */
  readonly since?: number;
  readonly jail?: string;
}

/** A jail's bans in the period, and per bucket of `BanStats.hours` and `BanStats.days`. */
export interface JailCounts {
  readonly jail: string;
  readonly bans: number;
  readonly hourly: readonly number[];
  readonly daily: readonly number[];
}

/** A network by its bans in the period: a /24 or /48, or a banned network wider than that as it is. */
export interface NetworkCount {
  readonly network: string;
  readonly bans: number;
  /** Distinct addresses (and narrower networks) banned in it. */
  readonly addresses: number;
}

/** An address banned more than once in the period. */
export interface Offender {
  readonly address: string;
  readonly bans: number;
  readonly jails: readonly string[];
  readonly lastBannedAt: number;
}

/** Counts of the bans made in a period (a ban is a row: one more ban of an address already banned in that jail lengthens it instead). */
export interface BanStats {
  readonly since: number;
  readonly until: number;
  readonly bans: number;
  /** Starts of the hours counted: the last STATS_HOURS (those from `since` on), oldest first. */
  readonly hours: readonly number[];
  /** Starts of the UTC days counted: the last STATS_DAYS (those from `since` on), oldest first. */
  readonly days: readonly number[];
  /** The jails with bans in the period, by name. */
  readonly jails: readonly JailCounts[];
  /** Every source, also those with none. */
  readonly sources: ReadonlyMap<BanSource, number>;
  /** Most banned first, at most TOP. */
  readonly networks: readonly NetworkCount[];
  /** Most banned first, at most TOP. */
  readonly offenders: readonly Offender[];
}

/** The bans of the period, read from the bans_stats index (schema/009) alone. */
const PERIOD = `jail IN (SELECT value FROM json_each(@jails)) AND source IN (SELECT value FROM json_each(@sources))
  AND banned_at >= @since AND banned_at <= @now`;

const slash = "instr(address, '/')";
const colon = "instr(address, ':')";
const colon2 = `(${colon} + instr(substr(address, ${colon} + 1), ':'))`;
const colon3 = `(${colon2} + instr(substr(address, ${colon2} + 1), ':'))`;
const gap = "instr(address, '::')";
/** How many groups stand before the `::` (when it is not at the start). */
const groupsBeforeGap = `(length(substr(address, 1, ${gap})) - length(replace(substr(address, 1, ${gap}), ':', '')))`;

/**
 * The key of the /24 or /48 a stored address lies in, from its canonical text (core/address:
 * IPv4 dotted decimal, IPv6 as RFC 5952 prints it, networks as `net/prefix`), in SQL so that
 * grouping a million bans never leaves SQLite: an IPv4 /24 as `a.b.c.`; an IPv6 /48 as its first
 * three groups written out, `g0:g1:g2` (those before a `::` as they are, the `::` standing for two
 * or more zero groups); a network wider than /24 or /48 as itself. networkOfKey turns a key into
 * the network's canonical text; test/store/ban-stats.test.ts checks keys against ipaddr.js.
 */
const NETWORK_KEY = `CASE
  WHEN ${colon} = 0 THEN CASE
    WHEN ${slash} = 0 THEN rtrim(address, '0123456789')
    WHEN CAST(substr(address, ${slash} + 1) AS INTEGER) < 24 THEN address
    ELSE rtrim(substr(address, 1, ${slash} - 1), '0123456789') END
  WHEN ${slash} > 0 AND CAST(substr(address, ${slash} + 1) AS INTEGER) < 48 THEN address
  WHEN ${gap} = 0 OR ${groupsBeforeGap} >= 3 THEN substr(address, 1, ${colon3} - 1)
  WHEN ${gap} > 1 THEN substr(address, 1, ${gap} - 1) || substr(':0:0', 1, 2 * (3 - ${groupsBeforeGap}))
  WHEN length(address) - length(replace(address, ':', '')) = 7 THEN '0:0:' || substr(address, 3, instr(substr(address, 3), ':') - 1)
  ELSE '0:0:0' END`;

/** The canonical text of the network a NETWORK_KEY names (the key itself if it is not one, from a row written by hand). */
function networkOfKey(key: string): string {
  if (key.includes('/')) return key;
  const text = key.endsWith('.') ? `${key}0/24` : `${key}::/48`;
  return tryParseAddress(text)?.text ?? key;
}

/** Bucket starts of `size` seconds, the last one holding `now`, at most `count`, none ending before `since`. */
function bucketStarts(since: number, now: number, size: number, count: number): number[] {
  const last = Math.floor(now / size) * size;
  const first = Math.max(last - (count - 1) * size, Math.floor(since / size) * size);
  const starts: number[] = [];
  for (let start = first; start <= last; start += size) starts.push(start);
  return starts;
}

/** The start of the UTC day STATS_DAYS - 1 days before now's: the default period. */
export function defaultStatsSince(now: number): number {
  return Math.floor(now / DAY) * DAY - (STATS_DAYS - 1) * DAY;
}

/** The statements behind BanStore.stats. */
export class BanStatistics {
  private readonly stmt;

  constructor(db: Database.Database) {
    this.stmt = {
      // A skip-scan of the index for each source: one seek per source and jail, whatever the number of bans.
      jails: db.prepare<unknown[], string>(
        `WITH RECURSIVE seen(source, jail) AS (
           SELECT s.value, (SELECT min(jail) FROM bans WHERE source = s.value) FROM json_each(@sources) AS s
           UNION ALL
           SELECT source, (SELECT min(jail) FROM bans WHERE source = seen.source AND jail > seen.jail) FROM seen WHERE seen.jail IS NOT NULL)
         SELECT DISTINCT jail FROM seen WHERE jail IS NOT NULL ORDER BY jail`).pluck(),
      // Range counts on the index, one per jail, source and bucket: no sorting, whatever the period.
      buckets: db.prepare<unknown[], [string, BanSource, number, number]>(
        `SELECT * FROM (SELECT j.value AS jail, s.value AS source, b.key AS bucket,
           (SELECT count(*) FROM bans WHERE bans.jail = j.value AND bans.source = s.value
              AND banned_at >= max(b.value, @since) AND banned_at < b.value + @size AND banned_at <= @now) AS bans
         FROM json_each(@jails) AS j, json_each(@sources) AS s, json_each(@starts) AS b) WHERE bans > 0`).raw(),
      // One sort of the period's bans by address, then the networks from the addresses: each key is
      // computed once per address, not per ban, as its group is written (keying the addresses read
      // back from per_address made the query 7% slower).
      top: db.prepare<unknown[], ['offender' | 'network', string, number, number]>(
        `WITH per_address AS MATERIALIZED (SELECT address, count(*) AS bans, ${NETWORK_KEY} AS network FROM bans WHERE ${PERIOD} GROUP BY address)
         SELECT * FROM (SELECT 'offender', address, bans, 1 FROM per_address WHERE bans > 1 ORDER BY bans DESC, address LIMIT ${TOP})
         UNION ALL
         SELECT * FROM (SELECT 'network', network, sum(bans) AS bans, count(*) FROM per_address GROUP BY network ORDER BY bans DESC, network LIMIT ${TOP})`).raw(),
      offenderJails: db.prepare<unknown[], [string, string, number]>(
        `SELECT address, jail, max(banned_at) FROM bans WHERE address IN (SELECT value FROM json_each(@addresses)) AND ${PERIOD}
         GROUP BY address, jail ORDER BY address, jail`).raw(),
    };
  }

  /** Every jail that holds or held a ban, by name. */
  jails(): string[] {
    return this.stmt.jails.all({ sources: JSON.stringify(SOURCES) });
  }

  stats(query: StatsQuery): BanStats {
    const { now } = query;
    const since = query.since ?? defaultStatsSince(now);
    const period = {
      now, since, jails: JSON.stringify(query.jail === undefined ? this.jails() : [query.jail]), sources: JSON.stringify(SOURCES),
    };
    const count = (starts: readonly number[], size: number): [string, BanSource, number, number][] =>
      this.stmt.buckets.all({ ...period, starts: JSON.stringify(starts), size });
    const hours = bucketStarts(since, now, HOUR, STATS_HOURS);
    const days = bucketStarts(since, now, DAY, STATS_DAYS);
    const dayCounts = count(days, DAY);
    // A period of STATS_DAYS or less lies wholly in the days counted: its totals are theirs, one scan of the period fewer.
    const totals = (days[0] ?? now) <= since ? dayCounts : count([since], now - since + 1);
    const sources = new Map(SOURCES.map((source): [BanSource, number] => [source, 0]));
    const byJail = new Map<string, number>();
    for (const [jail, source, , bans] of totals) {
      sources.set(source, (sources.get(source) ?? 0) + bans);
      byJail.set(jail, (byJail.get(jail) ?? 0) + bans);
    }
    const perBucket = (starts: readonly number[], counts: readonly [string, BanSource, number, number][]): Map<string, number[]> => {
      const out = new Map([...byJail.keys()].map((jail): [string, number[]] => [jail, starts.map(() => 0)]));
      for (const [jail, , bucket, bans] of counts) {
        const row = out.get(jail);
        if (row) row[bucket] = (row[bucket] ?? 0) + bans;
      }
      return out;
    };
    const hourly = perBucket(hours, count(hours, HOUR));
    const daily = perBucket(days, dayCounts);
    const jails = [...byJail].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([jail, bans]) => ({
      jail, bans, hourly: hourly.get(jail) ?? [], daily: daily.get(jail) ?? [],
    }));
    const top = this.stmt.top.all(period);
    const networks = top.filter(([kind]) => kind === 'network').map(([, key, bans, addresses]) => ({ network: networkOfKey(key), bans, addresses }));
    const offenders = top.filter(([kind]) => kind === 'offender').map(([, address, bans]): [string, number] => [address, bans]);
    return {
      since, until: now, bans: [...byJail.values()].reduce((sum, n) => sum + n, 0), hours, days, jails, sources, networks,
      offenders: this.offenders(offenders, period),
    };
  }

  /** The offenders `top` names, with their jails and latest ban in the period. */
  private offenders(top: readonly [string, number][], period: Record<string, unknown>): Offender[] {
    const jails = new Map<string, { jails: string[]; last: number }>();
    for (const [address, jail, last] of this.stmt.offenderJails.all({ ...period, addresses: JSON.stringify(top.map(([address]) => address)) })) {
      const seen = jails.get(address);
      if (seen) {
        seen.jails.push(jail);
        seen.last = Math.max(seen.last, last);
      } else jails.set(address, { jails: [jail], last });
    }
    return top.map(([address, bans]) => ({
      address, bans, jails: jails.get(address)?.jails ?? [], lastBannedAt: storedTime(jails.get(address)?.last),
    }));
  }
}

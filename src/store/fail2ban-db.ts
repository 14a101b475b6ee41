import type Database from 'better-sqlite3';
import { capDuration, checkJailName, InputError, MAX_TIME, messageOf, OperationError, tryParseAddress } from '../core/index.js';
import type { BanRecord } from './bans.js';
import { openSqlite } from './sqlite.js';

/** A row of fail2ban's database that cannot become a ban: where it is and why. */
export interface Fail2banDbProblem {
  readonly table: 'bips' | 'bans';
  readonly rowid: number;
  readonly message: string;
}

export interface Fail2banDbBans {
  /** fail2ban's schema version (`fail2banDb.version`; 4 since fail2ban 0.11). */
  readonly version: number;
  /** Every ban found, current (`bips`) and past (`bans`), one per address, jail and time of ban. */
  readonly records: BanRecord[];
  readonly problems: Fail2banDbProblem[];
}

interface Fail2banRow {
  rowid: number;
  ip: unknown;
  jail: unknown;
  timeofban: unknown;
  bantime: unknown;
  bancount: unknown;
  data: unknown;
}

/** How long a read waits while fail2ban writes. */
const BUSY_TIMEOUT_MS = 15_000;
const COLUMNS = 'rowid, ip, jail, timeofban, bantime, bancount, data';

function open(path: string): Database.Database {
  try {
    return openSqlite(path, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw new InputError(`cannot open fail2ban database ${path}: ${messageOf(error)}`, { cause: error });
  }
}

function tables(db: Database.Database, path: string): Set<string> {
  try {
    return new Set(db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name));
  } catch (error) {
    // SQLITE_NOTADB: not a database at all.
    throw new InputError(`${path} is not a fail2ban database: ${messageOf(error)}`, { cause: error });
  }
}

/** fail2ban writes `data` as JSON text, through Python's sqlite3 as a BLOB; a bad one means no data (as fail2ban reads it). */
function parseData(data: unknown): { failures?: number; matches?: string[] } {
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : typeof data === 'string' ? data : undefined;
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof value !== 'object' || value === null) return {};
  const { failures, matches } = value as { failures?: unknown; matches?: unknown };
  return {
    ...(Number.isSafeInteger(failures) && (failures as number) >= 0 ? { failures: failures as number } : {}),
    ...(Array.isArray(matches) ? { matches: matches.filter((m): m is string => typeof m === 'string') } : {}),
  };
}

function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : undefined;
}

/** One fail2ban row as a ban, or why it cannot be one. */
function toRecord(row: Fail2banRow): BanRecord | string {
  const ip = typeof row.ip === 'string' ? row.ip.trim() : '';
  const address = tryParseAddress(ip);
  if (!address) return `not an IP address or CIDR: "${String(row.ip)}"`;
  if (typeof row.jail !== 'string') return `no jail name`;
  let jail: string;
  try {
    jail = checkJailName(row.jail);
  } catch (error) {
    return messageOf(error);
  }
  const bannedAt = integer(row.timeofban);
  const bantime = integer(row.bantime);
  if (bannedAt === undefined || bannedAt <= 0 || bannedAt > MAX_TIME) return `bad timeofban "${String(row.timeofban)}"`;
  if (bantime === undefined) return `bad bantime "${String(row.bantime)}"`;
  const bancount = integer(row.bancount);
  return {
    address: address.text,
    jail,
    bannedAt,
    // fail2ban reads any negative bantime as permanent; a longer one than we keep is held to our longest.
    expiresAt: bantime < 0 ? null : Math.min(bannedAt + capDuration(bantime), MAX_TIME),
    banCount: bancount !== undefined && bancount >= 1 ? bancount : 1,
    source: 'fail2ban',
    ...parseData(row.data),
  };
}

/**
 * Reads the bans of fail2ban's SQLite database at `path`, opened read-only (fail2ban may keep
 * running): `bips` holds each address's current ban per jail, `bans` every ban while fail2ban's
 * `dbpurgeage` keeps it. A ban found in both counts once, from `bips`.
 */
export function readFail2banDb(path: string): Fail2banDbBans {
  const db = open(path);
  try {
    const found = tables(db, path);
    if (!found.has('fail2banDb')) throw new InputError(`${path} is not a fail2ban database (it has no fail2banDb table)`);
    const version = db.prepare<[], { version: number }>('SELECT version FROM fail2banDb LIMIT 1').get()?.version ?? 0;
    if (!found.has('bips')) {
      throw new InputError(`${path}: fail2ban database version ${version} has no bips table: let fail2ban 0.11 or later open it once to upgrade it`);
    }
    const records: BanRecord[] = [];
    const problems: Fail2banDbProblem[] = [];
    const bansSeen = new Set<string>();
    const take = (table: 'bips' | 'bans', row: Fail2banRow): void => {
      const record = toRecord(row);
      if (typeof record === 'string') {
        problems.push({ table, rowid: row.rowid, message: record });
        return;
      }
      const key = `${record.jail} ${record.address} ${record.bannedAt}`;
      if (bansSeen.has(key)) return;
      bansSeen.add(key);
      records.push(record);
    };
    for (const row of db.prepare<[], Fail2banRow>(`SELECT ${COLUMNS} FROM bips ORDER BY rowid`).iterate()) take('bips', row);
    if (found.has('bans')) {
      // The current ban is in both tables: read it once, from bips (a bad one is reported once).
      const past = db.prepare<[], Fail2banRow>(
        `SELECT ${COLUMNS} FROM bans WHERE NOT EXISTS
           (SELECT 1 FROM bips WHERE bips.ip = bans.ip AND bips.jail = bans.jail AND bips.timeofban = bans.timeofban)
         ORDER BY rowid`);
      for (const row of past.iterate()) take('bans', row);
    }
    return { version, records, problems };
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new OperationError(`cannot read fail2ban database ${path}: ${messageOf(error)}`, { cause: error });
  } finally {
    db.close();
  }
}

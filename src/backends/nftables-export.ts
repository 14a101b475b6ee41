import { InputError, isoTime, type Family } from '../core/index.js';
import { MAX_TIMEOUT_SECONDS, nftTimeout, representEntries } from './nftables-plan.js';
import type { Entry } from './types.js';

export const DEFAULT_EXPORT_TABLE = 'f2b-export';

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const CHUNK = 10_000;

/** Checks a table name for an export; `f2b-store` is the nftables backend's own table. */
export function checkExportTable(name: string): string {
  if (!TABLE_NAME.test(name)) throw new InputError(`bad table name "${name}": use 1-64 letters, digits, '-', '_' or '.', starting with a letter`);
  if (name === 'f2b-store') throw new InputError('bad table name "f2b-store": it is the nftables backend\'s own table');
  return name;
}

interface ExportSet {
  readonly name: string;
  readonly type: string;
  readonly flags: string;
}

// As the backend keeps them: hosts in hash sets, networks in interval sets, which refuse an
// address inside a prefix they hold.
const SETS: Readonly<Record<'addr' | 'net', Readonly<Record<Family, ExportSet>>>> = {
  addr: {
    4: { name: 'addr4', type: 'ipv4_addr', flags: 'timeout' },
    6: { name: 'addr6', type: 'ipv6_addr', flags: 'timeout' },
  },
  net: {
    4: { name: 'net4', type: 'ipv4_addr', flags: 'interval, timeout' },
    6: { name: 'net6', type: 'ipv6_addr', flags: 'interval, timeout' },
  },
};
const ALL_SETS = [SETS.addr[4], SETS.net[4], SETS.addr[6], SETS.net[6]];

/**
 * The text of a file `nft -f` loads: table `inet <table>` with sets `addr4`, `net4`, `addr6`,
 * `net6`, each emptied and refilled in that one transaction (chains of the table are kept), each
 * element with its remaining time as the nftables backend writes it (permanent: no timeout).
 * Entries must be one per address; hosts stream through, networks are held to leave out those
 * inside a wider one.
 */
export function* nftExportLines(table: string, entries: Iterable<Entry>, now: number): Generator<string> {
  const element = (entry: Entry): string => entry.expiresAt === null
    ? entry.address
    : `${entry.address} timeout ${nftTimeout(Math.min(entry.expiresAt - now, MAX_TIMEOUT_SECONDS))}`;
  const statement = (set: ExportSet, elements: readonly string[]): string =>
    `add element inet ${table} ${set.name} { ${elements.join(', ')} }\n`;

  yield `# f2b-store export at ${isoTime(now)}, timeouts counted from then\n`;
  yield `table inet ${table} {\n${ALL_SETS.map((s) => `\tset ${s.name} {\n\t\ttype ${s.type}\n\t\tflags ${s.flags}\n\t}\n`).join('')}}\n`;
  for (const set of ALL_SETS) yield `flush set inet ${table} ${set.name}\n`;
  const pending: Record<Family, string[]> = { 4: [], 6: [] };
  const networks: Entry[] = [];
  for (const entry of entries) {
    if (entry.address.includes('/')) {
      networks.push(entry);
      continue;
    }
    const chunk = pending[entry.family];
    chunk.push(element(entry));
    if (chunk.length === CHUNK) {
      yield statement(SETS.addr[entry.family], chunk);
      pending[entry.family] = [];
    }
  }
  for (const family of [4, 6] as const) if (pending[family].length > 0) yield statement(SETS.addr[family], pending[family]);
  for (const family of [4, 6] as const) {
    const kept = representEntries(networks.filter((n) => n.family === family)).map(element);
    for (let at = 0; at < kept.length; at += CHUNK) yield statement(SETS.net[family], kept.slice(at, at + CHUNK));
  }
}

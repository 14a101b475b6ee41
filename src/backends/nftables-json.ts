import { OperationError, tryParseAddress } from '../core/index.js';
import { CHAIN, parseSetName, setName, type TableState } from './nftables-plan.js';
import type { EntryKey } from './types.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The objects of `nft -j` output that belong to table `inet f2b-store`, as [kind, body] pairs. */
function ourObjects(stdout: string): [string, Json][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (error) {
    throw new OperationError(`nft -j printed something that is not JSON: ${stdout.slice(0, 80)}`, { cause: error });
  }
  const items = isObject(parsed) && Array.isArray(parsed.nftables) ? parsed.nftables as unknown[] : undefined;
  if (!items) throw new OperationError(`nft -j output has no "nftables" array: ${stdout.slice(0, 80)}`);
  const found: [string, Json][] = [];
  for (const item of items) {
    if (!isObject(item)) continue;
    for (const [kind, body] of Object.entries(item)) {
      if (!isObject(body) || body.family !== 'inet') continue;
      const table = kind === 'table' ? body.name : body.table;
      if (table === 'f2b-store') found.push([kind, body]);
    }
  }
  return found;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The structure of our table (no elements needed) from `nft -j [-t] list ruleset inet` or `list table`. */
export function parseTableState(stdout: string): TableState {
  let table = false;
  let chain: TableState['chain'];
  const sets = new Map<string, { type: string; flags: string[] }>();
  const rules: { handle: number; comment?: string }[] = [];
  for (const [kind, body] of ourObjects(stdout)) {
    if (kind === 'table') table = true;
    else if (kind === 'chain' && body.name === CHAIN) {
      const [type, hook, policy] = [text(body.type), text(body.hook), text(body.policy)];
      chain = {
        ...(type === undefined ? {} : { type }),
        ...(hook === undefined ? {} : { hook }),
        ...(typeof body.prio === 'number' ? { prio: body.prio } : {}),
        ...(policy === undefined ? {} : { policy }),
      };
    } else if (kind === 'set' && typeof body.name === 'string') {
      const flags = Array.isArray(body.flags) ? body.flags.filter((f): f is string => typeof f === 'string') : [];
      sets.set(body.name, { type: text(body.type) ?? '', flags });
    } else if (kind === 'rule' && body.chain === CHAIN && typeof body.handle === 'number') {
      const comment = text(body.comment);
      rules.push({ handle: body.handle, ...(comment === undefined ? {} : { comment }) });
    }
  }
  return { table, ...(chain === undefined ? {} : { chain }), sets, rules };
}

function elementText(value: unknown, set: string): string {
  if (typeof value === 'string') return value;
  if (isObject(value)) {
    if (isObject(value.elem)) return elementText(value.elem.val, set);
    const prefix = value.prefix;
    if (isObject(prefix) && typeof prefix.addr === 'string' && typeof prefix.len === 'number') return `${prefix.addr}/${prefix.len}`;
  }
  throw new OperationError(
    `set ${set} of table inet f2b-store holds ${JSON.stringify(value)}, which f2b-store never adds and cannot lift: delete it by hand or run a flush`,
  );
}

/** How many elements each set of our table holds (sets not named by f2b-store left out), from `nft -j list table`. */
export function countElements(stdout: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [kind, body] of ourObjects(stdout)) {
    if (kind !== 'set' || typeof body.name !== 'string' || !parseSetName(body.name)) continue;
    counts.set(body.name, Array.isArray(body.elem) ? body.elem.length : 0);
  }
  return counts;
}

/** The entries of one set of our table as `nft -j` writes its elements; throws on anything else. */
function entriesOf(name: string, elements: readonly unknown[]): EntryKey[] {
  const id = parseSetName(name);
  if (!id) throw new OperationError(`no set of f2b-store: ${name}`);
  const set = setName(id);
  return elements.map((element) => {
    const raw = elementText(element, set);
    const address = tryParseAddress(raw);
    if (!address || address.family !== id.family || address.isNetwork !== (id.kind === 'net')) {
      throw new OperationError(`set ${set} of table inet f2b-store holds "${raw}", which does not belong in it: delete it by hand or run a flush`);
    }
    return { jail: id.jail, address: address.text, family: address.family };
  });
}

/**
 * The entries one line of `nft -j monitor destroy elements` says were removed from our table
 * (`{"delete": {"element": {"table": "f2b-store", "name": SET, "elem": {"set": [...]}}}}`), or
 * undefined when it cannot tell which.
 */
export function removedEntries(line: string): EntryKey[] | undefined {
  try {
    const parsed = JSON.parse(line) as unknown;
    const event = isObject(parsed) ? parsed.delete ?? parsed.destroy : undefined;
    const element = isObject(event) ? event.element : undefined;
    if (!isObject(element) || element.family !== 'inet' || element.table !== 'f2b-store' || typeof element.name !== 'string') return undefined;
    const elem = element.elem;
    return isObject(elem) && Array.isArray(elem.set) ? entriesOf(element.name, elem.set as unknown[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every entry held by a set of our table, from `nft -j list table inet f2b-store`. Sets whose name
 * is not one of ours are ignored; an element that is not exactly an address or prefix of the set's
 * family and kind (a range, a host in a prefix set) is an error, since it could never be lifted.
 */
export function parseEntries(stdout: string): EntryKey[] {
  const entries: EntryKey[] = [];
  for (const [kind, body] of ourObjects(stdout)) {
    if (kind !== 'set' || typeof body.name !== 'string' || !parseSetName(body.name) || !Array.isArray(body.elem)) continue;
    for (const entry of entriesOf(body.name, body.elem as unknown[])) entries.push(entry);
  }
  return entries;
}

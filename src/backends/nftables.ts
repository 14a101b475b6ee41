import { InputError, messageOf, OperationError } from '../core/index.js';
import { applyInBatches, type Triage } from './batch.js';
import { isExitError, type Exec, type ExecStream, type Follow } from './exec.js';
import { restoreTable } from './nftables-restore.js';
import { turnMemo } from './turn-memo.js';
import { countElements, parseEntries, parseTableState, removedEntries } from './nftables-json.js';
import {
  elementBatch, elementText, existingLines, parseSetName, planElements, planEnsure, planProbe, representEntries, setName, TABLE, type ElementOp, type TableState,
} from './nftables-plan.js';
import {
  ensured, type ApplyReport, type Backend, type Command, type Diff, type Ensured, type Entry, type EntryKey, type JailRule, type Restore,
} from './types.js';

export interface NftablesOptions {
  readonly exec: Exec;
  /** Follows `nft monitor` so the drift check hears of removed elements at once (see census.watch). */
  readonly follow?: Follow;
  /** Streams a restore into a missing table (see Backend.restore); without it, a restore is ensure then apply. */
  readonly stream?: ExecStream;
}

/**
 * Time for commands that grow with the elements, beyond the executor's minute: nft 1.0.6 lists a
 * table of 1,000,000 elements in about 2 minutes of wall time on a loaded machine (bench/RESULTS.md,
 * scale), and adds as many in about 40 s; a tenth of that rate still passes.
 */
const LIST_TIMEOUT_MS = 20 * 60_000;
const PER_ELEMENT_MS = 0.4;

/**
 * A table that held at most this many elements when last listed whole is read whole for its state
 * too: the drift check counts such a table at every tick (reconcile/drift.ts), and one listing
 * then serves the structural check and the count, one nft run a tick instead of two. A larger
 * table's state comes from the terse read, which skips the elements.
 */
const WHOLE_READ_MAX = 10_000;

const NO_TABLE: TableState = { table: false, sets: new Map(), rules: [] };

const batch = (stdin: string, elements = 0): Command => ({
  argv: ['nft', '-f', '-'], stdin, ...(elements * PER_ELEMENT_MS > 60_000 ? { timeoutMs: 60_000 + elements * PER_ELEMENT_MS } : {}),
});

/**
 * nft's own word on a failed command: a missing table, set or element, or no permission to change
 * anything. The kernel refuses a missing element of a hash set (ENOENT); nft 1.0.x refuses one of an
 * interval set itself, when it merges the set's ranges, in words of its own.
 */
function nftSaid(error: unknown): 'missing' | 'denied' | undefined {
  if (!isExitError(error)) return undefined;
  if (/Error: (?:(?:Could not process rule: )?No such file or directory|element does not exist)/.test(error.stderr)) return 'missing';
  return /Operation not permitted/.test(error.stderr) ? 'denied' : undefined;
}

/** Only what an address or prefix is written with: nothing else reaches a probe's batch. */
const ADDRESS_TEXT = /^[0-9a-f.:/]+$/;

const objectOf = (entry: EntryKey): string => setName({ kind: entry.address.includes('/') ? 'net' : 'addr', family: entry.family, jail: entry.jail });

const isMissingObject = (error: unknown): boolean => nftSaid(error) === 'missing';
// Failures no element is to blame for: retrying element by element would only repeat them.
const isHopeless = (error: unknown): boolean => !isExitError(error) || nftSaid(error) === 'denied';

/**
 * The nftables backend: table `inet f2b-store` with a chain hooked on input (priority filter - 1)
 * and, per jail, a hash set of addresses and an interval set of prefixes for each family, each
 * matched by one rule of the jail (ports, protocol and reject/drop from its JailRule). Element
 * timeouts are the remaining ban time, a safety net only; the store stays the truth.
 */
export function createNftablesBackend(options: NftablesOptions): Backend {
  /**
   * The state readState found (see turnMemo): a restore's survey and ensure then share one
   * listing, and a table the probe found missing is not listed in full. Nothing of ours runs in
   * between, and anyone else could as well change the table between ensure's own read and its
   * batch. `table` is the whole listing the state was read from, if it was: the census's count
   * parses it rather than list again.
   */
  const last = turnMemo<{ readonly state: TableState; readonly table?: string }>();
  /** About how many elements the table held at its last whole listing, counting our applies since; unknown at first. */
  let lastElements: number | undefined;
  const exec: Exec = last.clearingBefore(options.exec);
  const remember = (state: TableState, table?: string): TableState => last.set(table === undefined ? { state } : { state, table }).state;

  async function readTable(): Promise<string | undefined> {
    try {
      return await exec({ argv: ['nft', '-j', 'list', 'table', ...TABLE.split(' ')], timeoutMs: LIST_TIMEOUT_MS });
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  // A small table is listed whole (see WHOLE_READ_MAX). Otherwise: `-t` leaves set elements out,
  // but nft 1.0.6 still fetches every element for `list table` (about 1 s at 100,000); `list
  // ruleset inet` honours it. Only our table is kept from the answer.
  async function readState(): Promise<TableState> {
    const known = last.get();
    if (known) return known.state;
    if (lastElements !== undefined && lastElements <= WHOLE_READ_MAX) {
      const table = await readTable();
      return table === undefined ? remember(NO_TABLE) : remember(parseTableState(table), table);
    }
    try {
      return remember(parseTableState(await exec({ argv: ['nft', '-j', '-t', 'list', 'ruleset', 'inet'] })));
    } catch {
      const table = await readTable();
      return remember(table === undefined ? NO_TABLE : parseTableState(table));
    }
  }

  async function ensure(jails: readonly JailRule[], again = true): Promise<Ensured> {
    let lines: string[];
    try {
      lines = planEnsure(await readState(), jails);
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new OperationError(`nftables: reading table ${TABLE}: ${messageOf(error)}`, { cause: error });
    }
    if (lines.length === 0) return ensured([]);
    const command = batch(`${lines.join('\n')}\n`);
    try {
      await exec(command);
    } catch (error) {
      // Something else changed the table between the read and the batch (an administrator's nft, a
      // firewall reload; f2b-store's own processes take turns): nft -f applied none of it, so the
      // table is read again and the batch planned afresh, once.
      if (again && isMissingObject(error)) return ensure(jails, false);
      throw new OperationError(`nftables: creating table ${TABLE}, its chain, sets and rules: ${messageOf(error)}`, { cause: error });
    }
    return ensured([command]);
  }

  /** Our table listed and parsed; `reuse`: the listing readState just made, if it made one. */
  async function read<T>(parse: (table: string) => T, none: T, reuse = false): Promise<T> {
    if (last.get()?.state.table === false) return none;
    try {
      const table = (reuse ? last.get()?.table : undefined) ?? await readTable();
      return table === undefined ? none : parse(table);
    } catch (error) {
      throw new OperationError(`nftables: listing table ${TABLE}: ${messageOf(error)}`, { cause: error });
    }
  }

  async function apply(diff: Diff, now: number): Promise<ApplyReport> {
    const planned = planElements(diff, now);
    const run = async (ops: readonly ElementOp[]): Promise<void> => {
      try {
        await exec(batch(elementBatch(ops), ops.length));
      } catch (error) {
        // Deleting an element that is not there leaves it as asked.
        const [op] = ops;
        if (ops.length > 1 || op?.action !== 'delete' || !isMissingObject(error)) throw error;
      }
    };
    // What targets a missing set is settled without running anything (a deleted table fails every
    // element the same way); the rest is split until each failing element stands alone.
    const triage = async (ops: readonly ElementOp[]): Promise<Triage<ElementOp>> => {
      const state = await readState();
      const gone = ops.filter((op) => !state.sets.has(op.set));
      return {
        applied: gone.filter((op) => op.action === 'delete'),
        failed: gone.filter((op) => op.action === 'add').map((op) => ({ item: op, error: `set ${op.set} does not exist in table ${TABLE}: ensure() creates it` })),
        rest: ops.filter((op) => state.sets.has(op.set)),
      };
    };
    const outcome = await applyInBatches(planned.ops, run, { fatal: isHopeless, triage });
    if (lastElements !== undefined) {
      for (const op of outcome.applied) lastElements += op.action === 'add' ? 1 : -1;
    }
    return {
      added: outcome.applied.filter((op) => op.action === 'add').length,
      removed: outcome.applied.filter((op) => op.action === 'delete').length,
      failed: [
        ...planned.invalid,
        ...outcome.failed.map(({ item: op, error, alone }) => ({
          entry: op.entry,
          error: alone ? `nftables: ${op.action} ${elementText(op)} in set ${op.set}: ${messageOf(error)}` : `nftables: ${messageOf(error)}`,
        })),
      ],
    };
  }

  /** Whether set `name` holds exactly these addresses: read back whole (a prefix set, or one that should be empty). */
  async function holdsExactly(name: string, want: ReadonlySet<string>): Promise<boolean> {
    const held = parseEntries(await exec({ argv: ['nft', '-j', 'list', 'set', ...TABLE.split(' '), name], timeoutMs: LIST_TIMEOUT_MS }));
    return held.length === want.size && held.every((entry) => want.has(entry.address));
  }

  /**
   * The census's probe: each set exists; prefix sets and sets that should be empty are read back
   * whole (small, or drifted anyway); every hash set proves a sample of what it should hold
   * (planProbe) without being listed.
   */
  async function probe(entries: readonly Entry[]): Promise<string | undefined> {
    const state = await readState();
    if (!state.table) return `table ${TABLE} does not exist`;
    const sampled = new Map<string, string[]>();
    const whole = new Map<string, Set<string>>();
    for (const name of state.sets.keys()) if (parseSetName(name)?.kind === 'net') whole.set(name, new Set());
    for (const entry of entries) {
      if (!ADDRESS_TEXT.test(entry.address)) return `"${entry.address}" is no address nftables takes`;
      const set = objectOf(entry);
      if (!state.sets.has(set)) return `set ${set} does not exist`;
      const exact = whole.get(set);
      if (exact) exact.add(entry.address);
      else {
        let addresses = sampled.get(set);
        if (!addresses) sampled.set(set, addresses = []);
        addresses.push(entry.address);
      }
    }
    for (const name of state.sets.keys()) if (parseSetName(name)?.kind === 'addr' && !sampled.has(name)) whole.set(name, new Set());
    for (const [name, want] of whole) if (!await holdsExactly(name, want)) return `set ${name} does not hold exactly its ${want.size} entries`;
    if (sampled.size === 0) return undefined;
    const planned = planProbe(sampled, (n) => Math.floor(Math.random() * n));
    try {
      // Element commands make nft 1.0.6 fetch every element of the table first: as long as a listing.
      await exec({ ...batch(planned.text), timeoutMs: LIST_TIMEOUT_MS });
    } catch (error) {
      if (!isExitError(error)) throw error;
      const found = existingLines(error.stderr).size;
      return found === planned.lines ? undefined : `${planned.lines - found} of ${planned.lines - 1} sampled elements are missing`;
    }
    return 'the probe batch was applied: the table was missing';
  }

  async function restore(now: number): Promise<Restore | undefined> {
    if (!options.stream) return undefined;
    let state: TableState;
    try {
      state = await readState();
    } catch (error) {
      throw new OperationError(`nftables: reading table ${TABLE}: ${messageOf(error)}`, { cause: error });
    }
    if (state.table) return undefined;
    last.clear();
    // How many a restore brings is the store's to know: read tersely until the next whole listing.
    lastElements = undefined;
    const { stream } = options;
    return restoreTable(() => stream({ argv: ['nft', '-f', '-'], timeoutMs: LIST_TIMEOUT_MS }), dropTable, now);
  }

  async function dropTable(): Promise<void> {
    try {
      await exec({ argv: ['nft', 'delete', 'table', ...TABLE.split(' ')] });
    } catch (error) {
      if (!isMissingObject(error)) throw new OperationError(`nftables: deleting table ${TABLE}: ${messageOf(error)}`, { cause: error });
    }
  }

  return {
    name: 'nftables',
    ensure: (jails) => ensure(jails),
    restore,
    represent: representEntries,
    async list() {
      const entries = await read(parseEntries, []);
      lastElements = entries.length;
      return entries;
    },
    plan(diff, _jails, now) {
      const planned = planElements(diff, now);
      const [bad] = planned.invalid;
      if (bad) {
        const more = planned.invalid.length > 1 ? ` (and ${planned.invalid.length - 1} more)` : '';
        throw new InputError(`nftables: ${bad.error} in jail "${bad.entry.jail}"${more}`);
      }
      const text = elementBatch(planned.ops);
      return text === '' ? [] : [batch(text)];
    },
    apply: (diff, _jails, now) => apply(diff, now),
    async flush() {
      const state = await readState();
      if (state.table) await dropTable();
    },
    // nft 1.0.6 fetches every element of every set for any element command (0.5-1 s of CPU at
    // 100,000), so counting costs as much as listing. The kernel tells every removal to `nft
    // monitor` for nothing, though: with it, a costly count runs only after a removal.
    census: {
      objectOf,
      async count() {
        // What a drift tick's structural check just listed whole serves here (list() always reads the table afresh).
        const counts = await read(countElements, new Map(), true);
        lastElements = [...counts.values()].reduce((sum, n) => sum + n, 0);
        return counts;
      },
      probe: async (entries) => {
        try {
          return await probe(entries);
        } catch (error) {
          throw new OperationError(`nftables: probing table ${TABLE}: ${messageOf(error)}`, { cause: error });
        }
      },
      ...(options.follow ? { watch: watchRemovals(options.follow) } : {}),
    },
  };
}

/** Our table in `nft -j monitor` output: `"table": "f2b-store"`. */
const OUR_TABLE = new RegExp(`"table":\\s*"${TABLE.split(' ')[1]}"`);

function watchRemovals(follow: Follow): NonNullable<NonNullable<Backend['census']>['watch']> {
  return (onRemoved, onLost) => follow(['nft', '-j', 'monitor', 'destroy', 'elements'], {
    onLine: (line) => {
      if (OUR_TABLE.test(line)) onRemoved(removedEntries(line));
    },
    onExit: onLost,
  });
}

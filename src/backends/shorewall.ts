import { OperationError, messageOf, tryParseAddress, type Family } from '../core/index.js';
import { applyInBatches } from './batch.js';
import { ExecError, type Exec } from './exec.js';
import { ANY_JAIL, representHostsDeny } from './hosts-deny.js';
import { ensured, type ApplyReport, type Backend, type Command, type Diff, type EntryKey } from './types.js';

export interface ShorewallOptions {
  readonly exec: Exec;
}

const FAMILIES: readonly Family[] = [4, 6];

/** Addresses per `shorewall drop`/`allow`: it runs five iptables commands per address, and each command has a time limit. */
const CHUNK = 100;

/** The target `shorewall drop` gives its rules; `reject`, `logdrop` and `logreject` entries are the administrator's. */
const OURS = 'DROP';

const toolOf = (family: Family): string => (family === 4 ? 'shorewall' : 'shorewall6');
/**
 * What `shorewall show dynamic` runs after loading shorewall's shell library (over 0.1 s of CPU a
 * call): the listing of the dynamic chain. Shorewall's own iptables is the one on the PATH unless
 * its IPTABLES/IP6TABLES setting names another.
 */
const readCommand = (family: Family): Command => ({ argv: [family === 4 ? 'iptables' : 'ip6tables', '-w', '-n', '-v', '-L', 'dynamic'] });
const objectOf = (family: Family): string => `${toolOf(family)} dynamic`;
const anywhere = (family: Family): string => (family === 4 ? '0.0.0.0/0' : '::/0');

/**
 * An address as shorewall gets it on its command line: only a canonical address or network of
 * that family (entries come from log lines; `from`, `to` or a range `a-b` would mean something else).
 */
function argumentOf(entry: EntryKey): string {
  const address = tryParseAddress(entry.address);
  if (address?.text !== entry.address || address.family !== entry.family) {
    throw new OperationError(`shorewall: refusing "${entry.address}": not a canonical IPv${entry.family} address or network`);
  }
  return entry.address;
}

/**
 * Our entries in `shorewall show dynamic` (iptables -n -v -L dynamic): the rows
 * `DROP … SOURCE anywhere` with no further match. Hosts come without /32 or /128.
 */
export function parseShorewallDynamic(text: string, family: Family): EntryKey[] {
  const entries: EntryKey[] = [];
  let rows = false;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'pkts') {
      rows = true;
      continue;
    }
    if (!rows || fields.length < 8 || fields[2] !== OURS || fields.at(-1) !== anywhere(family)) continue;
    const address = tryParseAddress(fields.at(-2) ?? '');
    if (address?.family === family) entries.push({ jail: ANY_JAIL, address: address.text, family });
  }
  return entries;
}

type Verb = 'drop' | 'allow';

/** `shorewall drop` (or `allow`) for these entries, all of one family. */
const command = (verb: Verb, family: Family, entries: readonly EntryKey[]): Command => ({ argv: [toolOf(family), verb, ...entries.map(argumentOf)] });

/** `shorewall drop` (or `allow`) for these entries, per family, CHUNK addresses a command. */
function commands(verb: Verb, entries: readonly EntryKey[]): Command[] {
  return FAMILIES.flatMap((family) => {
    const mine = entries.filter((entry) => entry.family === family);
    const chunks: Command[] = [];
    for (let at = 0; at < mine.length; at += CHUNK) chunks.push(command(verb, family, mine.slice(at, at + CHUNK)));
    return chunks;
  });
}

/** A command that exited 0 but left some of its addresses undone, as the read-back shows. */
class Undone extends OperationError {}

/**
 * Shorewall's dynamic blacklist (`shorewall drop ADDR`, `shorewall allow ADDR`, and shorewall6 for
 * IPv6): it survives `shorewall restart` and `stop`/`start`. It has no jails, so like hosts.deny
 * it holds each address once. Its entries are ours when their target is DROP; the reject,
 * logdrop and logreject entries an administrator makes by hand are left alone. Shorewall must be
 * started with DYNAMIC_BLACKLIST=Yes; f2b-store never starts, stops or reloads it. Changes go
 * through shorewall; reads list its `dynamic` chain directly (see readCommand).
 */
export function createShorewallBackend(options: ShorewallOptions): Backend {
  const { exec } = options;

  /** The error of a missing tool, or undefined when it is there (asked only once its chain could not be read). */
  async function missing(family: Family): Promise<ExecError | undefined> {
    try {
      await exec({ argv: [toolOf(family), 'version'] });
      return undefined;
    } catch (error) {
      return error instanceof ExecError && error.kind === 'missing' ? error : undefined;
    }
  }

  async function read(family: Family): Promise<EntryKey[]> {
    let text: string;
    try {
      text = await exec(readCommand(family));
    } catch (error) {
      const absent = await missing(family);
      // A host with shorewall but no shorewall6 has no IPv6 blacklist to read; banning an IPv6 address there fails, saying what to install.
      if (family === 6 && absent) return [];
      // No shorewall at all: that is what to say (with its package), not the chain iptables could not list.
      const cause = absent ?? error;
      throw new OperationError(`${toolOf(family)}: cannot read its dynamic blacklist (is it started, with DYNAMIC_BLACKLIST=Yes?): ${messageOf(cause)}`, { cause });
    }
    return parseShorewallDynamic(text, family);
  }

  async function list(): Promise<EntryKey[]> {
    return (await Promise.all(FAMILIES.map(read))).flat();
  }

  /** Runs `verb` for the entries of `family` through the one partial-failure algorithm (batch.ts). */
  async function settle(verb: Verb, family: Family, entries: readonly EntryKey[]): Promise<{ applied: EntryKey[]; failed: { entry: EntryKey; error: string }[] }> {
    // shorewall drop stops at an address iptables refuses and still exits 0: the read-back is each command's outcome.
    const run = async (batch: readonly EntryKey[]): Promise<void> => {
      await exec(command(verb, family, batch));
      const held = new Set((await read(family)).map((entry) => entry.address));
      const undone = batch.filter((entry) => held.has(entry.address) !== (verb === 'drop'));
      if (undone.length > 0) throw new Undone(`did not ${verb} ${undone.map((e) => e.address).join(', ')} (see its messages)`);
    };
    const mine = entries.filter((entry) => entry.family === family);
    // Any other failure (not started, not installed, a timeout) is the same for every address.
    const outcome = await applyInBatches(mine, run, { chunk: CHUNK, fatal: (error) => !(error instanceof Undone) });
    return { applied: outcome.applied, failed: outcome.failed.map(({ item, error }) => ({ entry: item, error: `${toolOf(family)}: ${messageOf(error)}` })) };
  }

  function plan(diff: Diff): Command[] {
    return [...commands('allow', diff.remove), ...commands('drop', diff.add)];
  }

  return {
    name: 'shorewall',
    represent: representHostsDeny,
    async ensure() {
      return ensured([]);
    },
    list,
    plan,
    async apply(diff: Diff): Promise<ApplyReport> {
      // Every address is checked before anything runs, as plan() does.
      plan(diff);
      // The families go side by side (shorewall and shorewall6 keep apart); within one, allow before drop.
      const outcomes = await Promise.all(FAMILIES.map(async (family) => [await settle('allow', family, diff.remove), await settle('drop', family, diff.add)] as const));
      return {
        added: outcomes.reduce((n, [, drop]) => n + drop.applied.length, 0),
        removed: outcomes.reduce((n, [allow]) => n + allow.applied.length, 0),
        failed: outcomes.flat().flatMap((o) => o.failed),
      };
    },
    async flush() {
      for (const allow of commands('allow', await list())) await exec(allow);
    },
    census: {
      objectOf: (entry) => objectOf(entry.family),
      async count() {
        const counts = new Map<string, number>();
        for (const entry of await list()) counts.set(objectOf(entry.family), (counts.get(objectOf(entry.family)) ?? 0) + 1);
        return counts;
      },
    },
  };
}

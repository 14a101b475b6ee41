import { mergeByKey, OperationError, messageOf, tryParseAddress } from '../core/index.js';
import { replacedUnderMount, rewriteFile } from './atomic-file.js';
import { blockLine, joinHostsDeny, parseHostsDenyLine, readHostsDeny, type HostsDenyFile } from './hosts-deny-file.js';
import { ensured, type ApplyReport, type Backend, type Command, type Diff, type Entry, type EntryKey } from './types.js';

/** hosts.deny has no jails: every entry it holds belongs to this pseudo-jail. */
export const ANY_JAIL = '*';

export interface HostsDenyOptions {
  readonly file: string;
  /** The daemon list of each line, `ALL` by default. */
  readonly daemons: string;
}

/** One line per blocked address, whichever jails hold it; the longest ban wins. */
export function representHostsDeny(desired: readonly Entry[]): Entry[] {
  return mergeByKey(desired, (entry) => entry.address).map((entry) => ({ ...entry, jail: ANY_JAIL }));
}

/** The lines of our block holding exactly `entries`, IPv4 first, in address order. */
export function hostsDenyBlock(entries: readonly EntryKey[], daemons: string): string[] {
  return [...entries]
    .sort((a, b) => a.family - b.family || a.address.localeCompare(b.address, 'en', { numeric: true }))
    .flatMap((e) => {
      const address = tryParseAddress(e.address);
      return address ? [blockLine(daemons, address)] : [];
    });
}

/**
 * `/etc/hosts.deny` (tcp_wrappers): a block between `# BEGIN f2b-store` and `# END f2b-store`,
 * written in place into the file a symlink leads to, keeping its inode, or made by a rename when
 * missing (see rewriteFile); everything outside the block is kept byte for byte.
 */
export function createHostsDenyBackend(options: HostsDenyOptions): Backend {
  const { file, daemons } = options;

  async function read(): Promise<HostsDenyFile> {
    try {
      return await readHostsDeny(file);
    } catch (error) {
      throw new OperationError(`hosts-deny: cannot read ${file}: ${messageOf(error)}`, { cause: error });
    }
  }

  function entriesOf(current: HostsDenyFile): EntryKey[] {
    return current.block.flatMap((line) => {
      const address = parseHostsDenyLine(line);
      return address ? [{ jail: ANY_JAIL, address: address.text, family: address.family }] : [];
    });
  }

  function changed(current: readonly EntryKey[], diff: Diff): EntryKey[] {
    const gone = new Set(diff.remove.map((e) => e.address));
    const kept = new Map(current.filter((e) => !gone.has(e.address)).map((e) => [e.address, e]));
    for (const entry of diff.add) kept.set(entry.address, entry);
    return [...kept.values()];
  }

  return {
    name: 'hosts-deny',
    represent: representHostsDeny,
    async ensure() {
      return ensured([]);
    },
    async list() {
      return entriesOf(await read());
    },
    plan(diff: Diff): readonly Command[] {
      if (diff.add.length === 0 && diff.remove.length === 0) return [];
      // A file backend's plan is the block edit, shown the way diff(1) would.
      const lines = [
        ...hostsDenyBlock(diff.remove, daemons).map((l) => `- ${l}`),
        ...hostsDenyBlock(diff.add, daemons).map((l) => `+ ${l}`),
      ];
      return [{ argv: ['rewrite', file], stdin: `${lines.join('\n')}\n` }];
    },
    async apply(diff: Diff): Promise<ApplyReport> {
      if (diff.add.length === 0 && diff.remove.length === 0) return { added: 0, removed: 0, failed: [] };
      const current = await read();
      const entries = changed(entriesOf(current), diff);
      try {
        await rewriteFile(file, joinHostsDeny({ ...current, block: hostsDenyBlock(entries, daemons) }));
      } catch (error) {
        throw new OperationError(`hosts-deny: cannot write ${file}: ${messageOf(error)}`, { cause: error });
      }
      return { added: diff.add.length, removed: diff.remove.length, failed: [] };
    },
    async flush() {
      const current = await read();
      if (current.found) await rewriteFile(file, `${current.before}${current.after}`);
    },
    replaced: () => replacedUnderMount(file),
    census: {
      objectOf: () => file,
      async count() {
        const current = await read();
        return new Map(current.found ? [[file, current.block.length]] : []);
      },
    },
  };
}

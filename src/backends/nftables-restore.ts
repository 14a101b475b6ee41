import type { StreamedCommand } from './exec.js';
import { addBatch, jailSetLines, madeState, NO_TABLE, planEnsure, representEntries } from './nftables-plan.js';
import type { ApplyReport, Entry, EntryKey, JailRule, Restore } from './types.js';

/**
 * Host elements of an `nft -f -` run of a restore: at least RESTORE_RUN, closed as soon as nft
 * has committed the run before (so nft works while the bans are read and never waits for them),
 * at most RESTORE_RUN_MAX (then the reading waits for nft). nft 1.0.6 parses nothing before its
 * input ends: a single run would only start once the last ban was read. Each run costs 10 to
 * 20 ms of CPU beyond its elements (starting it here, and nft's own start), 100,000 elements
 * about 0.4 s: few runs, but the last, which nft parses after the last ban was read, small.
 */
export const RESTORE_RUN = 25_000;
const RESTORE_RUN_MAX = 4 * RESTORE_RUN;

/** A closed run: its command, nft's answer, and whether that has come. */
interface Closed {
  readonly command: StreamedCommand;
  readonly done: Promise<string>;
  settled: boolean;
}

/**
 * A restore into a missing table as `nft -f -` runs (`start` starts one), written while the bans
 * are read: the table and chain first, each jail's sets when its first element comes, host
 * elements as they come, and at the end the prefixes (made overlap-free over all of them), the
 * rules, and the sets of jails without elements. A run closed (see RESTORE_RUN) is committed
 * by nft while the next is written, each run as one transaction and only after the one before.
 * Until the last run no rule exists: what the sets hold meanwhile blocks nothing, and the bans
 * take effect together, as with a single run. A run refused, or the restore aborted, leaves no
 * table behind: `discard` deletes what the runs before committed, and the usual way starts from
 * nothing. Host elements are written `create`: one that comes twice (an active ban given twice,
 * which the store never holds) fails its run, and the usual way, which keeps the later expiry,
 * takes over.
 */
export async function restoreTable(start: () => StreamedCommand, discard: () => Promise<void>, now: number): Promise<Restore> {
  const made = new Set<string>();
  const networks: Entry[] = [];
  const invalid: { entry: EntryKey; error: string }[] = [];
  let added = 0;
  let current = start();
  let inCurrent = 0;
  /** The run closed last, until the next one is closed. */
  let closed: Closed | undefined;

  /** The batch text of these entries, with the sets of jails seen for the first time before their elements. */
  const text = (entries: readonly Entry[], add: 'add' | 'create'): string => {
    const batch = addBatch(entries, now, add);
    for (const bad of batch.invalid) invalid.push(bad);
    const sets: string[] = [];
    for (const jail of batch.jails) {
      if (made.has(jail)) continue;
      made.add(jail);
      for (const line of jailSetLines(jail)) sets.push(`${line}\n`);
    }
    added += batch.added;
    inCurrent += batch.added;
    return `${sets.join('')}${batch.text}`;
  };

  /** Closes the current run once the one before it has committed; rejects when that one was refused. */
  const close = async (): Promise<void> => {
    await closed?.done;
    const run: Closed = { command: current, done: current.end(), settled: false };
    // Awaited at the next close; a refusal meanwhile must not count as unhandled.
    run.done.then(() => { run.settled = true; }, () => { run.settled = true; });
    closed = run;
  };

  const abort = async (): Promise<void> => {
    current.abort();
    closed?.command.abort();
    // A run killed may have committed still: once it has ended, nothing changes the table but us.
    await closed?.done.catch(() => undefined);
    if (closed) await discard().catch(() => undefined);
  };

  await current.write(`${planEnsure(NO_TABLE, []).join('\n')}\n`);
  return {
    async write(entries) {
      const hosts: Entry[] = [];
      // A canonical network always has a prefix length, a host never: what is neither addBatch refuses.
      for (const entry of entries) (entry.address.includes('/') ? networks : hosts).push(entry);
      await current.write(text(hosts, 'create'));
      // The store is read synchronously: only a turn of the event loop takes a closed run's end
      // to nft (and tells us it committed); without it, every run would wait for the last ban.
      await new Promise((resolve) => setImmediate(resolve));
      if (inCurrent < RESTORE_RUN || (inCurrent < RESTORE_RUN_MAX && closed?.settled === false)) return;
      await close();
      current = start();
      inCurrent = 0;
    },
    async end(jails: readonly JailRule[]): Promise<ApplyReport> {
      try {
        // Made overlap-free, each prefix once; `create` would refuse two that touch (their ends meet in the kernel).
        const prefixes = text(representEntries(networks), 'add');
        await current.write(`${prefixes}${planEnsure(madeState(made), jails).map((line) => `${line}\n`).join('')}`);
        await close();
        await closed?.done;
      } catch (error) {
        await abort();
        throw error;
      }
      return { added, removed: 0, failed: invalid };
    },
    abort,
  };
}

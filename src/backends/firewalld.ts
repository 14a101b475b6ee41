import { OperationError, messageOf, tryParseAddress, type Family } from '../core/index.js';
import { applyInBatches } from './batch.js';
import { describeCommand, isExitError, type Exec } from './exec.js';
import {
  FIREWALLD_DEFAULT_MAXELEM, FIREWALLD_POLICY, batchCommands, entriesCommand, firewalldBatches, firewalldIpset, firewalldRichRules, isOwnIpset,
  jailOfIpset, legacyIpsetOfRichRule, newIpsetCommand, newPolicyCommand, oneByOne, policyChanges, policyInfo, reloadCommand, representFirewalld,
  UNREADABLE_FILE, type BatchItem, type EntryBatch, type PolicyInfo,
} from './firewalld-commands.js';
import {
  permanentEntryCall, permanentIpsetPathCall, permanentIpsetsCall, permanentPoliciesCall, permanentPolicyCall, permanentPolicyPathCall,
  permanentPolicyUpdateCall, permanentRemoveCall, replyDictionary, replyString, replyStrings, runtimeEntriesCall, runtimeEntryCall, runtimeIpsetsCall,
  runtimePoliciesCall, runtimePolicyCall, runtimePolicyUpdateCall, type BusctlValue,
} from './firewalld-dbus.js';
import { turnMemo } from './turn-memo.js';
import { ensured, type ApplyReport, type Backend, type Command, type Diff, type Ensured, type EntryKey, type JailRule } from './types.js';

export { FIREWALLD_DEFAULT_MAXELEM, FIREWALLD_POLICY, firewalldIpset, firewalldRichRules, representFirewalld } from './firewalld-commands.js';

export interface FirewalldOptions {
  /** Runs dbus-send, busctl and firewall-cmd; they talk D-Bus, so the system bus they reach is the firewalld they change. */
  readonly exec: Exec;
  /** `maxelem` of the ipsets it creates (FIREWALLD_DEFAULT_MAXELEM by default). */
  readonly maxelem?: number;
}

const FAMILIES: readonly Family[] = [4, 6];

/** Our policy as found, runtime or permanent, with the call that changes these of its settings. */
interface OurPolicy extends PolicyInfo {
  update(changes: Readonly<Record<string, BusctlValue>>): Command;
}

/**
 * firewalld's error code in what a failed command printed: `Error: INVALID_ENTRY: …` from
 * firewall-cmd, `Error org.fedoraproject.FirewallD1.Exception: ALREADY_ENABLED: …` from dbus-send.
 */
function firewalldSaid(error: unknown): string | undefined {
  return isExitError(error) ? /^Error(?::| \S+:) ([A-Z][A-Z_]*[A-Z])\b/m.exec(error.stderr)?.[1] : undefined;
}

/**
 * firewalld: an ipset per jail and family (`f2bs4-<jail>`, `f2bs6-<jail>`, hash:net) and rich rules
 * in our own policy `f2b-store` (every zone → the host, priority -32000) that reject or drop what
 * they hold. Everything is kept both in the runtime and in the permanent configuration, so
 * `firewall-cmd --reload` (and a reboot) brings the bans straight back. State is read, a few
 * entries changed, objects made, changed and deleted and firewalld reloaded through its D-Bus API
 * (dbus-send and busctl, milliseconds a call); firewall-cmd (half a second a call) only takes
 * files of entries.
 *
 * firewalld creates ipsets and policies only in the permanent configuration, so `ensure` reloads
 * firewalld when it had to create one (only then), and so does `flush` to remove them. No kernel
 * timeouts: firewalld keeps no entries of an ipset with a timeout in its permanent configuration,
 * so expiry is the store's alone.
 */
export function createFirewalldBackend(options: FirewalldOptions): Backend {
  /** Our runtime ipsets as an ensure that changed nothing found them, for the count that follows it in the drift tick (see turnMemo). */
  const ensuredIpsets = turnMemo<ReadonlySet<string>>();
  const exec: Exec = ensuredIpsets.clearingBefore(options.exec);
  const maxelem = options.maxelem ?? FIREWALLD_DEFAULT_MAXELEM;

  async function run(command: Command, doing: string): Promise<string> {
    try {
      return await exec(command);
    } catch (error) {
      throw new OperationError(`firewalld: ${doing}: ${messageOf(error)}`, { cause: error });
    }
  }

  const ownIpsets = async (permanent: boolean): Promise<Set<string>> =>
    new Set(replyStrings(await run(permanent ? permanentIpsetsCall() : runtimeIpsetsCall(), 'listing ipsets')).filter(isOwnIpset));

  const entriesOf = async (ipset: string): Promise<string[]> => replyStrings(await run(runtimeEntriesCall(ipset), `reading ipset ${ipset}`));

  /**
   * Our policy and the call that changes its settings, or undefined when it does not exist: its
   * name is looked up first, so firewalld never logs asking for a missing one.
   */
  async function policy(permanent: boolean): Promise<OurPolicy | undefined> {
    const names = replyStrings(await run(permanent ? permanentPoliciesCall() : runtimePoliciesCall(), 'listing policies'));
    if (!names.includes(FIREWALLD_POLICY)) return undefined;
    const path = permanent ? replyString(await run(permanentPolicyPathCall(FIREWALLD_POLICY), 'finding policy')) : undefined;
    const settings = path === undefined ? runtimePolicyCall(FIREWALLD_POLICY) : permanentPolicyCall(path);
    const info = policyInfo(replyDictionary(await run(settings, 'reading policy')));
    return { ...info, update: (changes) => (path === undefined ? runtimePolicyUpdateCall(FIREWALLD_POLICY, changes) : permanentPolicyUpdateCall(path, changes)) };
  }

  /** The call that makes an existing policy of ours hold these rules on our ipsets, if it needs one. */
  const policyUpdate = (found: OurPolicy, rules: readonly string[], ours: ReadonlySet<string>): Command[] => {
    const changes = policyChanges(found, rules, ours);
    return changes ? [found.update(changes)] : [];
  };

  async function runAll(commands: readonly Command[], doing: string): Promise<readonly Command[]> {
    for (const command of commands) await run(command, doing);
    return commands;
  }

  /** Deletes our policy (first: its rules use the ipsets) and these ipsets from the permanent configuration; returns the deletions. */
  async function removePermanent(withPolicy: boolean, ipsets: readonly string[]): Promise<Command[]> {
    const removed: Command[] = [];
    const remove = async (lookup: Command, kind: 'ipset' | 'policy', name: string): Promise<void> => {
      const command = permanentRemoveCall(replyString(await run(lookup, `finding ${kind} ${name}`)), kind);
      await run(command, `removing ${kind} ${name}`);
      removed.push(command);
    };
    if (withPolicy) await remove(permanentPolicyPathCall(FIREWALLD_POLICY), 'policy', FIREWALLD_POLICY);
    for (const ipset of ipsets) await remove(permanentIpsetPathCall(ipset), 'ipset', ipset);
    return removed;
  }

  /**
   * Changes these entries of one batch, runtime or permanent; returns the refused ones. Adding
   * what is there, removing what is not, and removing from a missing ipset leave it as asked. A few
   * go one D-Bus call each (permanent: on the ipset's object path, looked up once), every one
   * tried; a file that firewalld refuses for an entry (INVALID_ENTRY: malformed, overlapping) is
   * split until the refused entries stand alone — firewalld checks the whole file before changing
   * anything — while any other error would fail the same way for each one.
   */
  async function attempt(batch: EntryBatch, permanent: boolean, items: readonly BatchItem[]): Promise<{ item: BatchItem; error: string }[]> {
    const done = batch.op === 'add' ? ['ALREADY_ENABLED'] : ['NOT_ENABLED', 'INVALID_IPSET'];
    let path: Promise<string> | undefined;
    const commandFor = async (some: readonly BatchItem[]): Promise<Command> => {
      const [only] = some;
      if (some.length !== 1 || !only) return entriesCommand(batch.ipset, batch.op, permanent, some.map((i) => i.text));
      if (!permanent) return runtimeEntryCall(batch.ipset, batch.op, only.text);
      path ??= exec(permanentIpsetPathCall(batch.ipset)).then(replyString);
      return permanentEntryCall(await path, batch.op, only.text);
    };
    const run = async (some: readonly BatchItem[]): Promise<void> => {
      let command: Command;
      let output: string;
      try {
        command = await commandFor(some);
        output = await exec(command);
      } catch (error) {
        if (done.includes(firewalldSaid(error) ?? '')) return;
        throw error;
      }
      if (output.includes(UNREADABLE_FILE)) throw new OperationError(`${describeCommand(command)}: ${output.trim()}`);
    };
    const outcome = await applyInBatches(items, run, oneByOne(items.length)
      ? { chunk: 1 }
      : { fatal: (error) => firewalldSaid(error) !== 'INVALID_ENTRY' });
    return outcome.failed.map(({ item, error }) => ({ item, error: `firewalld: ${messageOf(error)}` }));
  }

  return {
    name: 'firewalld',
    represent: representFirewalld,

    /**
     * The ipsets of an earlier f2b-store (`f2b-<jail>`, `f2b-<jail>-6`) are told from fail2ban's
     * by the rules of our policy that bind them: those rules go, their ipsets are deleted, and
     * what one held for a jail served here goes into the jail's new ipset as it is made.
     */
    async ensure(jails: readonly JailRule[]): Promise<Ensured> {
      if (jails.length === 0) return ensured([]);
      const wanted = [...new Set(jails.flatMap((j) => FAMILIES.map((f) => firewalldIpset(j.name, f))))];
      const familyOf = new Map(jails.flatMap((j) => FAMILIES.map((f) => [firewalldIpset(j.name, f), f] as const)));
      const rules = [...new Set(jails.flatMap(firewalldRichRules))];
      const ours = new Set(wanted);
      const [permanentIpsets, runtimeIpsets, permanentPolicy, runtimePolicy] =
        await Promise.all([ownIpsets(true), ownIpsets(false), policy(true), policy(false)]);
      const legacy = new Map([...permanentPolicy?.richRules ?? [], ...runtimePolicy?.richRules ?? []].flatMap((rule) => {
        const old = legacyIpsetOfRichRule(rule);
        return old ? [[old.ipset, old] as const] : [];
      }));
      const legacyIpsets = async (permanent: boolean): Promise<string[]> => legacy.size === 0 ? []
        : replyStrings(await run(permanent ? permanentIpsetsCall() : runtimeIpsetsCall(), 'listing ipsets')).filter((name) => legacy.has(name));
      const [legacyRuntime, legacyPermanent] = await Promise.all([legacyIpsets(false), legacyIpsets(true)]);

      const missing = wanted.filter((name) => !permanentIpsets.has(name));
      // A permanent ipset (re)made beside a runtime one, or made for one of an earlier f2b-store,
      // starts with the runtime's entries, so a reload keeps them.
      const copied: string[] = [];
      const copies = await Promise.all(missing.map(async (name) => {
        const owner = { jail: jailOfIpset(name), family: familyOf.get(name) };
        const old = legacyRuntime.find((from) => legacy.get(from)?.jail === owner.jail && legacy.get(from)?.family === owner.family);
        const from = runtimeIpsets.has(name) ? name : old;
        if (from === undefined) return [];
        if (from === old) copied.push(`${old} into ${name}`);
        const entries = await entriesOf(from);
        return entries.length === 0 ? [] : [entriesCommand(name, 'add', true, entries)];
      }));
      const permanent: Command[] = [
        ...missing.map((name) => newIpsetCommand(name, familyOf.get(name) ?? 4, maxelem)),
        ...copies.flat(),
        ...(permanentPolicy ? policyUpdate(permanentPolicy, rules, ours) : [newPolicyCommand(jails)]),
      ];
      const reload = runtimePolicy === undefined || legacyPermanent.length > 0 || wanted.some((name) => !runtimeIpsets.has(name));
      const runtime: Command[] = reload ? [reloadCommand] : policyUpdate(runtimePolicy, rules, ours);
      const ran = [
        ...await runAll(permanent, 'ensuring ipsets and rules'),
        // After the rules that used them.
        ...await removePermanent(false, legacyPermanent),
        ...await runAll(runtime, 'ensuring ipsets and rules'),
      ];
      const notes = legacyPermanent.length === 0 ? [] : [
        `firewalld: ipsets of an earlier f2b-store removed with their rules: ${legacyPermanent.join(', ')}`
          + `${copied.length === 0 ? '' : ` (entries copied: ${copied.join(', ')})`}`,
      ];
      if (ran.length === 0) ensuredIpsets.set(runtimeIpsets);
      return { ran, skipped: [], notes };
    },

    async list() {
      const names = [...await ownIpsets(false)].sort();
      const outputs = await Promise.all(names.map(entriesOf));
      const entries: EntryKey[] = [];
      names.forEach((name, i) => {
        for (const line of outputs[i] ?? []) {
          const address = tryParseAddress(line);
          const jail = jailOfIpset(name);
          if (address && jail !== undefined) entries.push({ jail, address: address.text, family: address.family });
        }
      });
      return entries;
    },

    plan(diff: Diff) {
      return batchCommands(firewalldBatches(diff).batches);
    },

    async apply(diff: Diff): Promise<ApplyReport> {
      const { batches, invalid } = firewalldBatches(diff);
      const failed = [...invalid];
      let added = 0;
      let removed = 0;
      for (const batch of batches) {
        const refused = await attempt(batch, false, batch.items);
        const refusedItems = new Set(refused.map((r) => r.item));
        // Only what the runtime took goes into the permanent configuration; removals go from both regardless.
        const next = batch.op === 'add' ? batch.items.filter((i) => !refusedItems.has(i)) : batch.items;
        for (const r of await attempt(batch, true, next)) {
          if (!refusedItems.has(r.item)) refused.push(r);
          refusedItems.add(r.item);
        }
        failed.push(...refused.map((r) => ({ entry: r.item.key, error: r.error })));
        const done = batch.items.length - refusedItems.size;
        if (batch.op === 'add') added += done;
        else removed += done;
      }
      return { added, removed, failed };
    },

    async flush() {
      const [permanentIpsets, runtimeIpsets, permanentPolicy, runtimePolicy] =
        await Promise.all([ownIpsets(true), ownIpsets(false), policy(true), policy(false)]);
      const reload = runtimePolicy !== undefined || runtimeIpsets.size > 0;
      await removePermanent(permanentPolicy !== undefined, [...permanentIpsets].sort());
      if (reload) await run(reloadCommand, 'reloading');
    },

    census: {
      objectOf: (entry) => firewalldIpset(entry.jail, entry.family),
      async count() {
        const names = [...ensuredIpsets.get() ?? await ownIpsets(false)];
        const counts = await Promise.all(names.map(async (name) => (await entriesOf(name)).length));
        return new Map(names.map((name, i) => [name, counts[i] ?? 0]));
      },
    },
  };
}

import { messageOf, OperationError, type Family } from '../core/index.js';
import { isExitError, type Exec } from './exec.js';
import { checkCommand, parseFilterTable, saveCommand, toolOf, type FilterTable, type SavedRule } from './iptables-rules.js';
import type { Command } from './types.js';

// What the ipset and iptables backends ask iptables itself: the filter table as saved, and `-C`.

export async function readFilterTable(exec: Exec, family: Family): Promise<FilterTable> {
  try {
    return parseFilterTable(await exec(saveCommand(family)));
  } catch (error) {
    throw new OperationError(`reading the ${toolOf(family)} filter table: ${messageOf(error)}`, { cause: error });
  }
}

/** Whether `iptables -C` finds the rule (semantically: service names, default options); throws when it cannot run. */
export async function succeeds(exec: Exec, command: Command): Promise<boolean> {
  try {
    await exec(command);
    return true;
  } catch (error) {
    if (isExitError(error)) return false;
    throw error;
  }
}

const sameArgs = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((arg, i) => arg === b[i]);

/**
 * Restore lines that leave exactly one rule equal to `desired` at the head of INPUT, given the
 * INPUT rules this backend owns for that object (`ours`, as saved). Nothing when the only one is
 * already equal (asked with `-C`, which understands service names). Otherwise the new rule goes in
 * before the old ones are deleted by their saved text, so there is no moment without it, and
 * stale rules (ports or blocktype changed) and duplicates go away.
 */
export async function settleInputRule(exec: Exec, family: Family, desired: readonly string[], ours: readonly SavedRule[]): Promise<string[]> {
  const [only] = ours;
  // Equal as saved needs no process; otherwise -C decides (it knows `ssh` is the saved `22`).
  if (ours.length === 1 && only && sameArgs(only.args, desired)) return [];
  if (ours.length === 1 && await succeeds(exec, checkCommand(family, 'INPUT', desired))) return [];
  return [`-I INPUT ${desired.join(' ')}`, ...ours.map((rule) => `-D INPUT ${rule.spec}`)];
}

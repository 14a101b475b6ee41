import type { EnforcedBan } from '../core/index.js';
import type { Entry, JailRule } from '../backends/index.js';

export function entryOf(ban: EnforcedBan): Entry {
  return { jail: ban.jail, address: ban.address, family: ban.address.includes(':') ? 6 : 4, expiresAt: ban.expiresAt };
}

/** A jail's firewall parameters; jails without configuration block every port with reject. */
export type JailRules = (jail: string) => JailRule;

export const defaultJailRules: JailRules = (name) => ({ name, blocktype: 'reject' });

/**
 * The rules of these configured jails (their ports, protocol and blocktype), the default for any
 * other: what the daemon and every command build alike from the same configuration.
 */
export function jailRulesOf(jails: readonly JailRule[]): JailRules {
  const byName = new Map(jails.map((jail): [string, JailRule] => [jail.name, {
    name: jail.name, blocktype: jail.blocktype,
    ...(jail.port === undefined ? {} : { port: jail.port }), ...(jail.protocol === undefined ? {} : { protocol: jail.protocol }),
  }]));
  return (name) => byName.get(name) ?? defaultJailRules(name);
}

/** The rules of every jail that appears in `entries`, plus `extra`, each once, in name order. */
export function rulesFor(entries: readonly { jail: string }[], rules: JailRules, extra: readonly string[] = []): JailRule[] {
  const names = new Set(extra);
  for (const entry of entries) names.add(entry.jail);
  return [...names].sort().map(rules);
}

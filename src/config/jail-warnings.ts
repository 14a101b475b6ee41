import { ACTION_COMMANDS } from '../core/index.js';
import { loadAction } from './action-definition.js';
import { readConfig } from './config-tree.js';
import { nearest } from './did-you-mean.js';
import { readIniFile, type IniOptions } from './ini-file.js';
import type { JailDefinition } from './jail-config.js';
import { onPath, scriptPrograms } from './script-programs.js';
import { where } from './sourced-text.js';

/**
 * The options fail2ban's jail reader acts on (1.0.2's, and the later skip_if_nologs and
 * systemd_if_nologs), the variables its jail.conf defines for the actions, and f2b-store's (the same).
 */
const JAIL_OPTIONS: readonly string[] = [
  'enabled', 'backend', 'filter', 'logpath', 'logencoding', 'logformat', 'logtimezone', 'action', 'maxretry', 'maxmatches', 'findtime', 'bantime',
  'bantime.increment', 'bantime.factor', 'bantime.formula', 'bantime.multipliers', 'bantime.maxtime', 'bantime.rndtime',
  'bantime.overalljails', 'source', 'bans.jails', 'escalate', 'escalate6', 'ipv4prefix', 'ipv6prefix', 'ignoreip', 'ignoreself', 'ignorecommand', 'ignorecache', 'skip_if_nologs', 'systemd_if_nologs',
  'usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch',
  'banaction', 'banaction_allports', 'port', 'protocol', 'chain', 'mta', 'destemail', 'sender', 'sendername', 'fail2ban_agent', 'mode',
  'action_', 'action_mw', 'action_mwl', 'action_xarf', 'action_cf_mwl', 'action_blocklist_de', 'action_abuseipdb',
];

/** Shorter keys (`port`, `mode`) are too near too many words for a guess. */
const MIN_GUESSED_LENGTH = 5;

/** `%(name)s` and `<name>` in a value; `known/x`, `default/x`, `sshd/x` read `x`. */
const REFERENCE = /%\(([^)]+)\)s|<([^<>\s]+)>/g;

/** The option names the values refer to: keys that are variables, read through interpolation, whatever their name. */
function referencedNames(sections: readonly IniOptions[]): Set<string> {
  const names = new Set<string>();
  for (const options of sections) {
    for (const option of options.values()) {
      for (const match of option.value.text.matchAll(REFERENCE)) {
        const name = (match[1] ?? match[2] ?? '').toLowerCase();
        names.add(name.slice(name.lastIndexOf('/') + 1));
      }
    }
  }
  return names;
}

/**
 * Options in the jail files of `configDir` that nothing reads (no jail option, no `%(…)s` or
 * `<…>` refers to them) and that are a small edit away from one that is read: `maxrety`,
 * `fitler`. fail2ban takes any other key as a variable for interpolation (`port`, `mytime`),
 * so only near misses are told.
 */
export function misspeltJailOptions(configDir: string): string[] {
  const files = [...new Set(readConfig(configDir, 'jail').files)].map((file) => readIniFile(file));
  const sections = files.flatMap((file) => [
    { name: 'DEFAULT', file: file.file, options: file.defaults },
    ...file.sections.filter((section) => section.name !== 'INCLUDES').map((section) => ({ name: section.name, file: file.file, options: section.options })),
  ]);
  const referenced = referencedNames(sections.map((section) => section.options));
  const known = new Set([...JAIL_OPTIONS, ...referenced]);
  const warnings: string[] = [];
  for (const section of sections) {
    for (const option of section.options.values()) {
      if (option.key.length < MIN_GUESSED_LENGTH || known.has(option.key)) continue;
      const near = nearest(option.key, known);
      if (near !== undefined) warnings.push(`${where(option)}: unknown option "${option.key}" in [${section.name}] (did you mean ${near}?): ignored`);
    }
  }
  return warnings;
}

/**
 * The enabled jails' action.d actions that cannot run on this host: a program their commands
 * call (see scriptPrograms) is not an executable file, looked up on `path` (a PATH value).
 */
export function unrunnableActions(jails: readonly JailDefinition[], path: string): string[] {
  const warnings: string[] = [];
  for (const jail of jails) {
    if (!jail.enabled) continue;
    // f2b-store's own action is fail2ban's way to call f2b-store: the daemon never runs it.
    for (const action of jail.actions.filter((a) => a.name !== 'f2b-store')) {
      const { commands } = loadAction(action, jail);
      const scripts = ACTION_COMMANDS.flatMap((command) => [commands.inet4[command], commands.inet6[command]]);
      const missing = [...new Set(scripts.flatMap(scriptPrograms))].filter((program) => !onPath(program, path));
      if (missing.length === 0) continue;
      warnings.push(`${where(action.origin)}: jail ${jail.name}: action "${action.name}" cannot run here: ${missing.join(', ')} not found `
        + `(${missing.length > 1 ? 'install them' : 'install it'}, or choose another action)`);
    }
  }
  return warnings;
}

/** Tags a regex keeps until it is compiled: fail2ban's address and field tags. */
const REGEX_TAG = /^(?:HOST|ADDR|IP4|IP6|DNS|CIDR|SUBNET|SKIPLINES|F-.+)$/;

/**
 * `<name>` tags left in an enabled jail's filter regexes that are a small edit away from an
 * option of the filter: a misspelt choice of a closed set, most often the mode
 * (`filter = sshd[mode=agressive]` leaves `<mdre-agressive>`, taken as literal text). The
 * warning names the option whose value made the tag, and the value meant.
 */
export function unresolvedFilterTags(jails: readonly JailDefinition[]): string[] {
  const warnings = new Set<string>();
  for (const jail of jails) {
    if (!jail.enabled || jail.filter === undefined) continue;
    const { filter } = jail;
    const keys = Object.keys(filter.options);
    for (const regex of [...filter.failregex, ...filter.ignoreregex, ...(filter.prefregex === undefined ? [] : [filter.prefregex])]) {
      for (const [, tag = ''] of regex.text.matchAll(/<([\w.-]+)>/g)) {
        const near = REGEX_TAG.test(tag) || keys.includes(tag) ? undefined : nearest(tag, keys);
        if (near === undefined) continue;
        // The option whose value the tag holds (`mode = agressive` in `mdre-agressive`), and the value that makes the known key.
        const cause = Object.entries(filter.options).find(([key, value]) => key !== tag && value.length >= 3 && tag.includes(value));
        const [before = '', after = ''] = cause === undefined ? [] : tag.split(cause[1]);
        const fits = near.length > before.length + after.length && near.startsWith(before) && near.endsWith(after);
        const meant = cause !== undefined && fits ? near.slice(before.length, near.length - after.length) : undefined;
        const what = cause === undefined || meant === undefined ? `<${tag}> (did you mean <${near}>?)` : `${cause[0]} = ${cause[1]} (did you mean ${meant}?)`;
        warnings.add(`${where(jail.origin)}: jail ${jail.name}: filter ${filter.name}: ${what}: <${tag}> names no option of the filter `
          + `and stays literal text in its regex (${where(regex)})`);
      }
    }
  }
  return [...warnings];
}

/**
 * What `check` and `start` warn of in the jails loaded from `configDir`: misspelt options, a
 * misspelt choice left in a filter's regexes, and actions that cannot run here. `path` is where
 * programs are looked up, by default the PATH the daemon's actions run with (its own).
 */
export function jailWarnings(configDir: string, jails: readonly JailDefinition[], path = process.env.PATH ?? ''): string[] {
  return [...misspeltJailOptions(configDir), ...unresolvedFilterTags(jails), ...unrunnableActions(jails, path)];
}

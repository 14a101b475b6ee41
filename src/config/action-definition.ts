import { basename, dirname } from 'node:path';
import {
  ACTION_COMMANDS, InputError, type ActionCommand, type ActionDefinition, type ActionFamily, type ActionScripts, type Duration,
} from '../core/index.js';
import type { JailAction } from './action-mapping.js';
import { readConfig, type ConfigTree, type ReadConfigOptions } from './config-tree.js';
import { DEFINITION, resolveDefinition } from './definition-section.js';
import { parseBool, parseJailDuration } from './jail-values.js';
import { textAt, where, type SourcedText } from './sourced-text.js';
import { substituteTags } from './tag-substitution.js';

/** What a jail's options give an action (fail2ban passes them as `action[port=…]` in jail.conf's `action_`). */
export interface ActionJail {
  readonly name: string;
  readonly port?: string;
  readonly protocol?: string;
  /** Seconds; null = permanent. `<bantime>` of commands that run without a ban (actionstart). */
  readonly bantime: Duration;
}

/** An action as config loads it for a jail: the definition a backend runs, and its resolved [Init] values and arguments (without `known/`). */
export interface LoadedAction extends ActionDefinition {
  readonly init: Readonly<Record<string, string>>;
}

/** [Definition] keys fail2ban's action reader acts on. */
const ACTION_KEYS = [...ACTION_COMMANDS, 'actionstart_on_demand', 'actionrepair_on_unban', 'norestored'];
const DEFAULT_TIMEOUT = 60;
/** Constants fail2ban substitutes in every command. */
const CONSTANT_TAGS: ReadonlyMap<string, string> = new Map([['br', '\n'], ['sp', ' ']]);
const CONDITIONAL = /^(\w+)\?family=(inet4|inet6)$/;

/** fail2ban's `<actname>`: the file name, made unique when the action is given another `name`. */
function actnameOf(action: JailAction, jail: string, name: string): string {
  if (action.options.actname !== undefined) return action.options.actname;
  if (name === jail) return action.name;
  return action.name + (name.startsWith(jail) ? name.slice(jail.length) : `-${name}`);
}

function definedIn(tree: ConfigTree, key: string): boolean {
  return tree.defaults.has(key) || ['Init', DEFINITION].some((section) => tree.sections.get(section)?.has(key));
}

function familyScripts(values: ReadonlyMap<string, SourcedText>, family: ActionFamily, perFamily: boolean): ActionScripts {
  const lookup = (tag: string): SourcedText | undefined => {
    const value = (perFamily ? values.get(`${tag}?family=${family}`) : undefined) ?? values.get(tag);
    if (value !== undefined) return value;
    const constant = CONSTANT_TAGS.get(tag) ?? (perFamily && tag === 'family' ? family : undefined);
    return constant === undefined ? undefined : textAt(constant, { file: '(fail2ban built-in)', line: 0 });
  };
  const scripts = ACTION_COMMANDS.map((key) => {
    const value = values.get(key);
    if (value === undefined) return [key, ''] as const;
    return [key, substituteTags(new Map([[key, value]]), { lookup }).get(key)?.text.trim() ?? ''] as const;
  });
  return Object.fromEntries(scripts) as Record<ActionCommand, string>;
}

/**
 * Loads `action` (a non-native entry of a jail's `action =`, its file found) as fail2ban's
 * action reader and CommandAction do: the jail's arguments override the file's [Init], `name`
 * defaults to the jail's name, the jail's `port` and `protocol` fill tags the action does not
 * define. Every problem is an InputError naming file and line.
 */
export function loadAction(action: JailAction, jail: ActionJail, options: ReadConfigOptions = {}): LoadedAction {
  const label = `${where(action.origin)}: [${jail.name}] action "${action.name}"`;
  const { file } = action;
  if (file === undefined) throw new InputError(`${label}: no such action file`);
  if (file.endsWith('.py')) throw new InputError(`${label}: Python actions (${file}) are not supported; use an action.d .conf file`);
  const tree = readConfig(dirname(file), basename(file).replace(/\.(conf|local)$/, ''), options);
  if (tree.files.length === 0) throw new InputError(`${label}: cannot read ${file}`);

  const name = action.options.name ?? jail.name;
  const actname = actnameOf(action, jail.name, name);
  const given: Record<string, string> = { ...action.options, name, actname };
  for (const [key, value] of [['port', jail.port], ['protocol', jail.protocol]] as const) {
    if (value !== undefined && given[key] === undefined && !definedIn(tree, key)) given[key] = value;
  }
  const args = new Map(Object.entries(given).map(([k, v]) => [k, textAt(v, action.origin)]));
  const values = resolveDefinition(tree, args, ACTION_KEYS);

  const perFamily = [...values.keys()].some((key) => CONDITIONAL.test(key));
  const flag = (key: string, fallback: boolean): boolean => {
    const value = values.get(key);
    return value === undefined || value.text.trim() === '' ? fallback : parseBool({ jail: jail.name, key, value });
  };
  const timeoutValue = values.get('timeout');
  const timeout = timeoutValue === undefined || timeoutValue.text.trim() === ''
    ? DEFAULT_TIMEOUT
    : (parseJailDuration({ jail: jail.name, key: 'timeout', value: timeoutValue }, false) ?? DEFAULT_TIMEOUT);
  const inet4 = familyScripts(values, 'inet4', perFamily);
  const initKeys = new Set([...(tree.sections.get('Init')?.keys() ?? []), ...args.keys()]);
  const init = Object.fromEntries([...initKeys].flatMap((key) => {
    const value = values.get(key);
    return key.startsWith('known/') || value === undefined ? [] : [[key, value.text]];
  }));
  return {
    name: action.name,
    actname,
    file,
    perFamily,
    startOnDemand: flag('actionstart_on_demand', perFamily),
    commands: { inet4, inet6: perFamily ? familyScripts(values, 'inet6', true) : inet4 },
    timeout,
    norestored: flag('norestored', false),
    repairOnUnban: flag('actionrepair_on_unban', false),
    bantime: jail.bantime ?? -1,
    init,
  };
}

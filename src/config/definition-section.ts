import { InputError } from '../core/index.js';
import type { ConfigTree } from './config-tree.js';
import { getOption, getQualifiedOption } from './interpolation.js';
import type { SourcedText } from './sourced-text.js';
import { substituteTags } from './tag-substitution.js';

export const DEFINITION = 'Definition';
const INIT = 'Init';
const CONDITIONAL_KEY = /^(\w+)\?.+$/;

/**
 * The values of a filter or action file, resolved as fail2ban resolves them for a jail:
 *
 * - `keys` (the [Definition] keys the reader acts on) get `%(...)s` resolved with `args` (the
 *   options given with the name, `sshd[mode=aggressive]`) as variables; a key given in `args`
 *   takes the argument instead;
 * - every [Init] key is also available as `known/key`, and is overridden by an argument;
 * - then `<tag>`s are substituted throughout, a tag naming any [Definition] key, [DEFAULT] key or
 *   `section/key` when it is none of the values above.
 *
 * The result also holds every other [Definition] key that resolves the same way (fail2ban never
 * resolves those; callers may want e.g. `mode`), and leaves out the ones that do not.
 */
export function resolveDefinition(tree: ConfigTree, args: ReadonlyMap<string, SourcedText>, keys: readonly string[]): Map<string, SourcedText> {
  const vars = new Map([...args].map(([k, v]) => [k.toLowerCase(), v]));
  const values = new Map<string, SourcedText>();
  for (const key of keys) {
    if (args.has(key)) continue;
    const value = getOption(tree, DEFINITION, key, vars);
    if (value !== undefined) values.set(key, value);
  }
  const init = new Map(args);
  for (const key of tree.sections.get(INIT)?.keys() ?? []) {
    const value = getOption(tree, INIT, key);
    if (value === undefined) continue;
    if (!key.startsWith('known/')) init.set(`known/${key}`, value);
    if (!init.has(key)) init.set(key, value);
  }
  for (const [key, value] of init) values.set(key, value);

  const lookups = new Map<string, SourcedText | undefined>();
  const lookup = (tag: string): SourcedText | undefined => {
    if (!lookups.has(tag)) lookups.set(tag, getQualifiedOption(tree, DEFINITION, tag, vars));
    return lookups.get(tag);
  };
  const ignore = new Set([...values.keys()].flatMap((key) => CONDITIONAL_KEY.exec(key)?.[1] ?? []));
  const resolved = substituteTags(values, { ignore, lookup });

  const known = (tag: string): SourcedText | undefined => resolved.get(tag) ?? lookup(tag);
  for (const key of tree.sections.get(DEFINITION)?.keys() ?? []) {
    if (resolved.has(key)) continue;
    try {
      const value = getOption(tree, DEFINITION, key, vars);
      const result = value === undefined ? undefined : substituteTags(new Map([[key, value]]), { ignore, lookup: known }).get(key);
      if (result !== undefined) resolved.set(key, result);
    } catch (error) {
      // fail2ban never resolves the keys it does not act on, so one that cannot be resolved must not stop the file loading.
      if (!(error instanceof InputError)) throw error;
    }
  }
  return resolved;
}

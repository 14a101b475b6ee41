import { InputError } from '../core/index.js';
import type { ConfigTree } from './config-tree.js';
import { DEFAULT_SECTION, type IniOptions } from './ini-file.js';
import { concatText, lineTextAt, nested, originAt, sliceText, textAt, where, type SourcedText } from './sourced-text.js';

/** Values given from outside the files (a filter's arguments): found before the section's own. Keys lower-case. */
export type Vars = ReadonlyMap<string, SourcedText>;

/** Python's configparser stops after this many nested `%(...)s`; fail2ban inherits the limit. */
const MAX_DEPTH = 10;
const KNOWN_PREFIX = 'KNOWN/';
const REFERENCE = /^%\(([^)]+)\)s/;
const SECTION_REFERENCE = /^([\w-]+)\/(.+)$/s;
const SECTION_KEY = /^([\w-]+)\/([^\s>]+)$/;

interface Context {
  readonly tree: ConfigTree;
  readonly section: string;
  readonly vars: Vars | undefined;
}

function ownOptions(tree: ConfigTree, section: string): IniOptions | undefined {
  if (section.startsWith(KNOWN_PREFIX)) return tree.known.get(section.slice(KNOWN_PREFIX.length));
  return tree.sections.get(section);
}

/** The raw value `%(name)s` stands for in `ctx`, including fail2ban's `section/key`, `known/key`, `default/key`. */
function referenced(ctx: Context, name: string): SourcedText | undefined {
  const { tree, section } = ctx;
  const plain = ctx.vars?.get(name) ?? ownOptions(tree, section)?.get(name)?.value ?? tree.defaults.get(name)?.value;
  if (plain !== undefined) return plain;
  const qualified = SECTION_REFERENCE.exec(name);
  if (qualified?.[1] === undefined || qualified[2] === undefined) return undefined;
  const [, other, key] = qualified;
  const fallback = tree.defaults.get(key)?.value;
  if (other === 'default') return fallback;
  if (other === 'known') return tree.known.get(section)?.get(key)?.value ?? fallback;
  const options = tree.sections.get(other);
  return options === undefined ? undefined : (options.get(key)?.value ?? fallback);
}

function interpolate(ctx: Context, raw: SourcedText, chain: readonly string[]): SourcedText {
  const { text } = raw;
  function fail(at: number, problem: string): never {
    throw new InputError(`${where(originAt(raw, at))}: ${problem}: ${lineTextAt(raw, at)}`);
  }
  const parts: SourcedText[] = [];
  let from = 0;
  for (let at = text.indexOf('%'); at >= 0; at = text.indexOf('%', from)) {
    parts.push(sliceText(raw, from, at));
    if (text.charAt(at + 1) === '%') {
      parts.push(sliceText(raw, at, at + 1));
      from = at + 2;
      continue;
    }
    const reference = REFERENCE.exec(text.slice(at));
    if (reference?.[1] === undefined) fail(at, 'a "%" must start %(name)s or be doubled as %%');
    const name = reference[1].toLowerCase();
    const value = name === '__name__' ? textAt(ctx.section, originAt(raw, at)) : referenced(ctx, name);
    if (value === undefined) {
      const scope = ctx.section === DEFAULT_SECTION ? '[DEFAULT]' : `[${ctx.section}] or [DEFAULT]`;
      fail(at, `%(${name})s: no option "${name}" in ${scope}`);
    }
    if (chain.includes(name)) fail(at, `%(${name})s refers back to itself (${[...chain, name].join(' -> ')})`);
    let expansion = value;
    if (value.text.includes('%')) {
      if (chain.length >= MAX_DEPTH) fail(at, `%(${name})s: more than ${MAX_DEPTH} nested %(...)s`);
      expansion = interpolate(ctx, value, [...chain, name]);
    }
    parts.push(nested(expansion, originAt(raw, at).depth + 1));
    from = at + reference[0].length;
  }
  parts.push(sliceText(raw, from, text.length));
  return concatText(parts);
}

/**
 * The value of `key` in `section` with `%(...)s` resolved, as fail2ban's `get` gives it: from
 * `vars`, the section, then `[DEFAULT]`. Undefined when the section or the key does not exist.
 * `section` may be `KNOWN/<name>`: the values a later layer of `<name>` replaced.
 */
export function getOption(tree: ConfigTree, section: string, key: string, vars?: Vars): SourcedText | undefined {
  const own = ownOptions(tree, section);
  if (own === undefined && section !== DEFAULT_SECTION) return undefined;
  const name = key.toLowerCase();
  const raw = vars?.get(name) ?? own?.get(name)?.value ?? tree.defaults.get(name)?.value;
  return raw === undefined ? undefined : interpolate({ tree, section, vars }, raw, [name]);
}

/**
 * Like `getOption`, but `name` may be `section/key` (that section's value), `known/key` (the
 * value a later layer of `section` replaced) or `default/key`, as fail2ban looks up `<tags>`.
 */
export function getQualifiedOption(tree: ConfigTree, section: string, name: string, vars?: Vars): SourcedText | undefined {
  const qualified = SECTION_KEY.exec(name);
  if (qualified?.[1] !== undefined && qualified[2] !== undefined) {
    const [, other, key] = qualified;
    const lower = other.toLowerCase();
    const candidates = lower === 'known' ? [KNOWN_PREFIX + section, section] : lower === 'default' ? [DEFAULT_SECTION] : [other];
    for (const candidate of candidates) {
      const value = getOption(tree, candidate, key);
      if (value !== undefined) return value;
    }
  }
  return getOption(tree, section, name, vars);
}

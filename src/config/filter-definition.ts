import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/index.js';
import { readConfig, readConfigFiles, type ConfigTree, type ReadConfigOptions } from './config-tree.js';
import { DEFINITION, resolveDefinition } from './definition-section.js';
import { parseOptionSpec } from './option-list.js';
import { asSourceLine, sourceLines, textAt, where, type Origin, type SourceLine, type SourcedText } from './sourced-text.js';

/** One regex of a filter after `%(...)s` and `<tag>` resolution, and the file line that wrote it. */
export type RegexSource = SourceLine;

/** A fail2ban filter as the filter engine needs it. */
export interface FilterDefinition {
  readonly name: string;
  /** The filter file asked for (`filter.d/sshd.conf`); includes and `.local` files are read too. */
  readonly file: string;
  readonly failregex: readonly RegexSource[];
  readonly ignoreregex: readonly RegexSource[];
  /** Absent when the filter has none or an empty one. */
  readonly prefregex?: RegexSource;
  /** One date pattern per line; absent means fail2ban's default templates, "" means none at all. */
  readonly datepattern?: string;
  /** At least 1. */
  readonly maxlines: number;
  readonly journalmatch?: string;
  /** Every resolved [Init] value, argument and [Definition] value (`mode`, `logtype`, `usedns`, …). */
  readonly options: Readonly<Record<string, string>>;
}

export interface LoadFilterOptions extends ReadConfigOptions {
  /** Options that win over the spec's own (`name[...]`) and over the filter's [Init]. */
  readonly overrides?: Readonly<Record<string, string>>;
  /** The jail's backend: a `systemd` backend makes `logtype` default to `journal` instead of `file`, as in fail2ban. */
  readonly backend?: string;
  /** Where the spec was written (a jail file's `filter =` line), for error messages. */
  readonly specOrigin?: Origin;
}

/** The filters shipped with f2b-store: two levels up from `src/config/` and from the bundle in `dist/cli/`. */
export const SHIPPED_FILTER_DIR = fileURLToPath(new URL('../../filters/', import.meta.url));
/** fail2ban's own filters, where Debian's package puts them. */
export const FAIL2BAN_FILTER_DIR = '/etc/fail2ban/filter.d';

/** Where a filter name is looked up: the config dir's `filter.d`, the shipped filters, then fail2ban's. */
export function filterSearchDirs(configDir: string): string[] {
  return [join(configDir, 'filter.d'), SHIPPED_FILTER_DIR, FAIL2BAN_FILTER_DIR];
}

/** The [Definition] keys fail2ban's filter reader acts on. */
const FILTER_KEYS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'];

interface FoundFilter {
  readonly name: string;
  readonly file: string;
  readonly tree: ConfigTree;
}

function findFilter(ref: string, searchDirs: readonly string[], options: ReadConfigOptions, label: string): FoundFilter {
  if (ref.includes('/')) {
    const file = resolve(ref);
    if (!existsSync(file)) throw new InputError(`${label}: filter file not found: ${file}`);
    if (file.endsWith('.conf')) {
      const name = basename(file, '.conf');
      return { name, file, tree: readConfig(dirname(file), name, options) };
    }
    return { name: basename(file).replace(/\.[^.]*$/, ''), file, tree: readConfigFiles([file], options) };
  }
  const name = ref.replace(/\.(conf|local)$/, '');
  for (const dir of searchDirs) {
    for (const extension of ['.conf', '.local']) {
      const file = join(dir, name + extension);
      if (existsSync(file)) return { name, file, tree: readConfig(dir, name, options) };
    }
  }
  throw new InputError(`${label}: no filter "${name}" in ${searchDirs.join(', ') || '(no filter directories)'}`);
}

function maxLines(value: SourcedText | undefined): number {
  if (value === undefined) return 1;
  if (!/^\s*[+-]?\d+\s*$/.test(value.text)) {
    const { file, line } = asSourceLine(value);
    throw new InputError(`${where({ file, line })}: maxlines must be a whole number: ${value.text}`);
  }
  return Math.max(1, Number.parseInt(value.text, 10));
}

/**
 * Loads a filter as a fail2ban jail would with `filter = <spec>`. `spec` is a name (`sshd`,
 * looked up as `<dir>/sshd.conf` or `.local` in `searchDirs`, first dir that has it wins), a
 * path (`/x/y.conf`: `y.conf`, `y.d/`, `y.local` are layered as for a name; another path is read
 * alone with its includes), either followed by options (`sshd[mode=aggressive, logtype=journal]`)
 * that override the filter's [Init]. Every problem is an InputError naming file and line.
 */
export function loadFilter(spec: string, searchDirs: readonly string[], options: LoadFilterOptions = {}): FilterDefinition {
  const label = options.specOrigin === undefined ? `filter "${spec}"` : `${where(options.specOrigin)}: filter "${spec}"`;
  const parsed = parseOptionSpec(spec, () => label);
  const { name, file, tree } = findFilter(parsed.name, searchDirs, options, label);
  const argsOrigin = options.specOrigin ?? { file: `filter "${spec}"`, line: 0 };
  const args = new Map(Object.entries({ ...parsed.options, ...options.overrides }).map(([k, v]) => [k, textAt(v, argsOrigin)]));
  if (!args.get('logtype')?.text && !tree.sections.get(DEFINITION)?.has('logtype')) {
    args.set('logtype', textAt(options.backend?.startsWith('systemd') ? 'journal' : 'file', argsOrigin));
  }
  const values = resolveDefinition(tree, args, FILTER_KEYS);
  const regexes = (key: string): RegexSource[] => {
    const value = values.get(key);
    return value === undefined ? [] : sourceLines(value).filter((l) => l.text !== '');
  };
  const prefregex = values.get('prefregex');
  const journalmatch = values.get('journalmatch')?.text;
  const datepattern = values.get('datepattern');
  return {
    name,
    file,
    failregex: regexes('failregex'),
    ignoreregex: regexes('ignoreregex'),
    ...(prefregex !== undefined && prefregex.text !== '' ? { prefregex: asSourceLine(prefregex) } : {}),
    ...(datepattern === undefined ? {} : { datepattern: datepattern.text }),
    maxlines: maxLines(values.get('maxlines')),
    ...(journalmatch ? { journalmatch } : {}),
    options: Object.fromEntries([...values].map(([k, v]) => [k, v.text])),
  };
}

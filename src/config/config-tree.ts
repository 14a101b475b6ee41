import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../core/index.js';
import { readIniFile, type IniFile, type IniOption, type IniOptions } from './ini-file.js';
import { getOption } from './interpolation.js';
import { sourceLines, where } from './sourced-text.js';

/** The merged sections of a layered configuration (`.conf`, `.d/`, `.local`, includes). */
export interface ConfigTree {
  /** Files in the order their values were layered; a file included twice appears twice. */
  readonly files: readonly string[];
  readonly defaults: IniOptions;
  /** Sections by case-sensitive name; `[Init?family=inet6]` is merged into `Init` as keys `key?family=inet6`. */
  readonly sections: ReadonlyMap<string, IniOptions>;
  /** Per section, the values a later layer replaced: what `%(known/key)s` and `<known/key>` see. */
  readonly known: ReadonlyMap<string, IniOptions>;
}

export interface ReadConfigOptions {
  /**
   * Maps an `[INCLUDES]` entry as written to the path to read (relative paths are taken from the
   * including file's directory). Default: the entry itself.
   */
  readonly resolveInclude?: (path: string, from: string) => string;
}

const INCLUDES = 'INCLUDES';
const CONDITIONAL_SECTION = /^(\w+)(\?.+)$/;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function filesIn(dir: string, extension: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(extension) && !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n))
    .filter(isFile);
}

/** Each file followed by its `.local` twin when that exists and is not listed anyway. */
function withLocal(files: readonly string[]): string[] {
  return files.flatMap((file) => {
    const local = file.replace(/\.[^./]*$/, '') + '.local';
    return local !== file && !files.includes(local) && isFile(local) ? [file, local] : [file];
  });
}

function merge(files: readonly string[], parsed: ReadonlyMap<string, IniFile>): ConfigTree {
  const defaults = new Map<string, IniOption>();
  const sections = new Map<string, Map<string, IniOption>>();
  const known = new Map<string, Map<string, IniOption>>();
  for (const file of files) {
    const ini = parsed.get(file);
    if (ini === undefined) continue;
    for (const [key, option] of ini.defaults) defaults.set(key, option);
    for (const section of ini.sections) {
      const conditional = CONDITIONAL_SECTION.exec(section.name);
      const name = conditional?.[1] ?? section.name;
      const suffix = conditional?.[2] ?? '';
      const options = [...section.options.values()].map((o) => ({ ...o, key: o.key + suffix }));
      const existing = sections.get(name);
      if (existing === undefined) {
        sections.set(name, new Map(options.map((o) => [o.key, o])));
        continue;
      }
      const previous = known.get(name) ?? new Map<string, IniOption>();
      for (const option of options) {
        const old = existing.get(option.key);
        if (old !== undefined) previous.set(option.key, old);
        existing.set(option.key, option);
      }
      known.set(name, previous);
    }
  }
  return { files, defaults, sections, known };
}

/** Reads files with their includes, parsing each file once. */
function layeredFiles(tops: readonly string[], options: ReadConfigOptions): { files: string[]; parsed: Map<string, IniFile> } {
  const parsed = new Map<string, IniFile>();
  const parse = (file: string): IniFile => {
    let ini = parsed.get(file);
    if (ini === undefined) {
      ini = readIniFile(file);
      parsed.set(file, ini);
    }
    return ini;
  };
  const expand = (file: string, chain: readonly string[]): string[] => {
    const ini = parse(file);
    const own = merge([file], parsed);
    const included = (key: 'before' | 'after'): string[] => {
      const value = own.sections.has(INCLUDES) ? getOption(own, INCLUDES, key) : undefined;
      if (value === undefined) return [];
      return sourceLines(value).flatMap((entry) => {
        if (entry.text === '') return [];
        const target = resolve(dirname(ini.file), options.resolveInclude?.(entry.text, file) ?? entry.text);
        // fail2ban skips an include already being read further up, which also ends include loops.
        if (target === file || chain.includes(target)) return [];
        if (!isFile(target)) {
          // `after = common.local` and the like name optional files: fail2ban's own configs rely on that.
          if (target.endsWith('.local')) return [];
          throw new InputError(`${where(entry)}: included file not found: ${entry.text}${target === entry.text ? '' : ` (${target})`}`);
        }
        return withLocal([target]).flatMap((f) => expand(f, [...chain, file]));
      });
    };
    return [...included('before'), file, ...included('after')];
  };
  return { files: withLocal(tops).flatMap((f) => expand(resolve(f), [])), parsed };
}

/**
 * Reads `files` as fail2ban reads a list of config files: each one's `[INCLUDES] before`, the
 * file, its `.local` twin, its `after`, all merged in that order (later values win; replaced ones
 * stay visible as `known/`). Every file must exist.
 */
export function readConfigFiles(files: readonly string[], options: ReadConfigOptions = {}): ConfigTree {
  for (const file of files) {
    if (!isFile(file)) throw new InputError(`config file not found: ${file}`);
  }
  const { files: ordered, parsed } = layeredFiles(files, options);
  return merge(ordered, parsed);
}

/**
 * Reads the named configuration in `dir` in fail2ban's order: `name.conf`, `name.d/*.conf`,
 * `name.local`, `name.d/*.local` (sorted), each with its includes. Files that do not exist are
 * skipped; with none at all (or no `dir`) the tree is empty and `files` is `[]`.
 */
export function readConfig(dir: string, name: string, options: ReadConfigOptions = {}): ConfigTree {
  const base = join(dir, name);
  const files = [`${base}.conf`, ...filesIn(`${base}.d`, '.conf'), `${base}.local`, ...filesIn(`${base}.d`, '.local')];
  return readConfigFiles(files.filter(isFile), options);
}

import { readFileSync } from 'node:fs';
import { InputError, OperationError, messageOf } from '../core/index.js';
import { textOfLines, where, type SourcedText } from './sourced-text.js';

/** One `key = value` as written; `key` is lower-cased, as fail2ban (Python's configparser) does. */
export interface IniOption {
  readonly key: string;
  readonly value: SourcedText;
  readonly file: string;
  readonly line: number;
}

export type IniOptions = ReadonlyMap<string, IniOption>;

export interface IniSection {
  readonly name: string;
  readonly line: number;
  readonly options: IniOptions;
}

/** One file of fail2ban's INI dialect, before includes and layering. */
export interface IniFile {
  readonly file: string;
  readonly defaults: IniOptions;
  /** Sections other than `[DEFAULT]`, in file order; names are case-sensitive. */
  readonly sections: readonly IniSection[];
}

export const DEFAULT_SECTION = 'DEFAULT';

interface PendingOption {
  readonly key: string;
  readonly line: number;
  readonly indent: number;
  readonly lines: { text: string; line: number }[];
}

/** Where `;` starts an inline comment: at the start of the line or after whitespace. */
function inlineCommentStart(line: string): number | undefined {
  for (let at = line.indexOf(';'); at >= 0; at = line.indexOf(';', at + 1)) {
    if (at === 0 || /\s/.test(line.charAt(at - 1))) return at;
  }
  return undefined;
}

/**
 * Parses one file the way fail2ban's configparser does: `key = value` or `key: value`, values
 * continued on lines indented deeper than their key (blank lines inside kept), `#`/`;` comment
 * lines, inline comments from ` ;`, `[DEFAULT]`. A duplicate section or key in one file is an error.
 */
export function parseIni(content: string, file: string): IniFile {
  const defaults = new Map<string, IniOption>();
  const sections: IniSection[] = [];
  let current: { name: string; options: Map<string, IniOption> } | undefined;
  let pending: PendingOption | undefined;
  function fail(lineno: number, problem: string, text: string): never {
    throw new InputError(`${where({ file, line: lineno })}: ${problem}: ${text}`);
  }
  const finish = (): void => {
    if (pending === undefined || current === undefined) return;
    const lines = [...pending.lines];
    while (lines.length > 1 && lines[lines.length - 1]?.text === '') lines.pop();
    current.options.set(pending.key, { key: pending.key, value: textOfLines(lines, file), file, line: pending.line });
    pending = undefined;
  };

  const rawLines = content.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  for (const [i, raw] of rawLines.entries()) {
    const lineno = i + 1;
    const trimmed = raw.trim();
    const comment = trimmed.startsWith('#') || trimmed.startsWith(';') ? 0 : inlineCommentStart(raw);
    const value = raw.slice(0, comment).trim();
    if (value === '') {
      if (comment === undefined) pending?.lines.push({ text: '', line: lineno });
      continue;
    }
    const indent = raw.search(/\S/);
    if (pending !== undefined && indent > pending.indent) {
      pending.lines.push({ text: value, line: lineno });
      continue;
    }
    finish();
    const header = /^\[(.+)\]/.exec(value);
    if (header?.[1] !== undefined) {
      const name = header[1];
      if (name === DEFAULT_SECTION) {
        current = { name, options: defaults };
      } else {
        if (sections.some((s) => s.name === name)) fail(lineno, `section [${name}] appears twice in this file`, value);
        current = { name, options: new Map() };
        sections.push({ name, line: lineno, options: current.options });
      }
      continue;
    }
    if (value.startsWith('[')) fail(lineno, 'a section header needs its closing "]"', value);
    if (current === undefined) fail(lineno, 'expected a [section] before this line', value);
    const option = /^(.*?)\s*[=:]\s*(.*)$/.exec(value);
    const key = option?.[1]?.toLowerCase();
    if (option === null || key === undefined) fail(lineno, 'expected "key = value"', value);
    if (key === '') fail(lineno, 'missing key before "=" or ":"', value);
    if (current.options.has(key)) fail(lineno, `key "${key}" appears twice in [${current.name}]`, value);
    pending = { key, line: lineno, indent, lines: [{ text: option[2] ?? '', line: lineno }] };
  }
  finish();
  return { file, defaults, sections };
}

/** Reads and parses `path`; a file that cannot be read is an OperationError. */
export function readIniFile(path: string): IniFile {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OperationError(`cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
  return parseIni(content, path);
}

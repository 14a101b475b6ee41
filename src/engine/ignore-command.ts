import { execFile } from 'node:child_process';
import ipaddr from 'ipaddr.js';
import { InputError, type Address } from '../core/index.js';

/** Runs an argument vector (no shell); resolves to its exit status, rejects when it could not run or timed out. */
export type RunCommand = (argv: readonly string[]) => Promise<number>;

/** An ignorecommand taking longer is stopped, and the address is not ignored. */
export const IGNORE_COMMAND_TIMEOUT_MS = 10_000;

export const runCommand: RunCommand = ([file, ...args]) => new Promise((resolve, reject) => {
  if (file === undefined) {
    reject(new Error('empty command'));
    return;
  }
  execFile(file, args, { timeout: IGNORE_COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', windowsHide: true }, (error) => {
    if (!error) resolve(0);
    else if (typeof error.code === 'number') resolve(error.code);
    else reject(error.killed ? new Error(`timed out after ${IGNORE_COMMAND_TIMEOUT_MS / 1000} s`) : error);
  });
});

/** `203.0.113.7` → `7.113.0.203.`, as fail2ban's `<ip-rev>` (a DNSBL query name without its zone). */
function reversed(address: Address): string {
  const host = address.text.split('/')[0] ?? address.text;
  const parts = address.family === 4
    ? host.split('.')
    : ipaddr.IPv6.parse(host).toByteArray().flatMap((byte) => [(byte >> 4).toString(16), (byte & 15).toString(16)]);
  return `${parts.reverse().join('.')}.`;
}

// Only tags made from the validated address: text from a log line never reaches a command.
const TAGS: ReadonlyMap<string, (address: Address) => string> = new Map([
  ['ip', (a: Address) => a.text],
  ['fid', (a: Address) => a.text],
  ['family', (a: Address) => (a.family === 4 ? 'inet4' : 'inet6')],
  ['ip-rev', reversed],
]);

const TAG = /<([A-Za-z][A-Za-z0-9_.-]*)>/g;

/** Splits a command line into words as a POSIX shell would, for quotes and backslashes only. */
function splitWords(text: string, fail: (why: string) => never): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text.charAt(i + 1))) word += text.charAt(++i);
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= text.length) fail('ends with a backslash');
      word += text.charAt(++i);
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== '') fail(`unclosed ${quote}`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Reads fail2ban's `ignorecommand` into an argument vector builder: the line is split into words
 * once (quotes and backslashes as in a shell; no pipes, redirections or variables — for those,
 * run `/bin/sh -c '…' sh <ip>`), and `<ip>`, `<fid>`, `<family>`, `<ip-rev>` are filled in
 * per address. Other tags are refused: they would carry log text.
 */
export function parseIgnoreCommand(text: string): (address: Address) => string[] {
  const fail = (why: string): never => {
    throw new InputError(`ignorecommand "${text}": ${why}`);
  };
  const words = splitWords(text, fail);
  if (words.length === 0) fail('empty');
  for (const word of words) {
    for (const [, tag] of word.matchAll(TAG)) {
      if (tag === undefined || !TAGS.has(tag)) fail(`unsupported tag <${tag}> (only <${[...TAGS.keys()].join('>, <')}> are filled in)`);
    }
  }
  return (address) => words.map((word) => word.replace(TAG, (_, tag: string) => TAGS.get(tag)?.(address) ?? ''));
}

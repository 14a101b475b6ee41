import { readFileSync } from 'node:fs';
import { InputError, messageOf, readAddressList } from '../core/index.js';

/**
 * The addresses a command is given: its arguments, then those of `--file` (`-` for standard
 * input), read as import list reads a list (plain, ip.deny, hosts.deny or Apache lines; comments
 * and blank lines skipped). At least one is needed. Each comes with where it came from for error
 * messages; the command parses them all before it changes anything, so one bad line changes nothing.
 */
export function addressArguments(args: readonly string[], file: string | undefined, verb: string): { text: string; from: string }[] {
  const given = args.map((text, index) => ({ text, from: `argument ${index + 1}` }));
  if (file !== undefined) {
    const name = file === '-' ? 'stdin' : file;
    let content: string;
    try {
      content = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read the address list ${file === '-' ? 'on standard input' : file}: ${messageOf(error)}`);
    }
    for (const item of readAddressList(content.split('\n'))) {
      if (!('address' in item)) throw new InputError(`${name}:${item.lineno}: ${item.problem}: "${item.text}"; nothing was changed`);
      given.push({ text: item.address.text, from: `${name}:${item.lineno}` });
    }
  }
  if (given.length === 0) throw new InputError(`give an address to ${verb}, or --file with one address per line`);
  return given;
}

/** Runs `parse` on each address, naming the one that fails and where it came from. */
export async function parseEach<T>(given: readonly { text: string; from: string }[], parse: (text: string) => T | Promise<T>): Promise<T[]> {
  const parsed: T[] = [];
  for (const { text, from } of given) {
    try {
      parsed.push(await parse(text));
    } catch (error) {
      if (given.length === 1 || !(error instanceof InputError)) throw error;
      throw new InputError(`${from}: ${error.message}; nothing was changed`, { cause: error });
    }
  }
  return parsed;
}

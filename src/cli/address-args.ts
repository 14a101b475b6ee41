import { readFileSync } from 'node:fs';
import { InputError, messageOf } from '../core/index.js';

/**
 * The addresses a command is given: its arguments, then the lines of `--file` (`-` for standard
 * input; blank lines and `#` comments skipped). At least one is needed. Each is returned as
 * written, with where it came from for error messages; the command parses them all before it
 * changes anything, so one bad line changes nothing.
 */
export function addressArguments(args: readonly string[], file: string | undefined, verb: string): { text: string; from: string }[] {
  const given = args.map((text, index) => ({ text, from: `argument ${index + 1}` }));
  if (file !== undefined) {
    let content: string;
    try {
      content = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read the address list ${file === '-' ? 'on standard input' : file}: ${messageOf(error)}`);
    }
    content.split('\n').forEach((line, index) => {
      const text = line.replace(/#.*/, '').trim();
      if (text !== '') given.push({ text, from: `${file === '-' ? 'stdin' : file}:${index + 1}` });
    });
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

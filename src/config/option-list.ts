import { InputError } from '../core/index.js';

/** `name[key=value, key2="a,b"]`: a filter or an action with its arguments. */
export interface OptionSpec {
  readonly name: string;
  readonly options: Readonly<Record<string, string>>;
}

/** Says where an offset of the parsed text was written (`file:line`), for error messages. */
export type Locate = (offset: number) => string;

const OPTION_NAME = /[\p{L}\p{N}_.-]+/uy;
const SPACE = /\s/;

class SpecReader {
  at = 0;

  constructor(
    readonly text: string,
    readonly locate: Locate,
  ) {}

  fail(problem: string, at = this.at): never {
    const rest = this.text.slice(at).trim();
    throw new InputError(`${this.locate(at)}: ${problem}: ${rest === '' ? this.text.trim() : rest}`);
  }

  skipSpace(): void {
    while (SPACE.test(this.text.charAt(this.at))) this.at++;
  }

  /** One or more `[k=v, …]` groups from `[`, as fail2ban reads them (`name[a=1][b=2]` is allowed). */
  groups(): Record<string, string> {
    const options = new Map<string, string>();
    const { text } = this;
    while (text.charAt(this.at) === '[') {
      this.at++;
      for (;;) {
        this.skipSpace();
        if (text.charAt(this.at) === ']') {
          this.at++;
          break;
        }
        OPTION_NAME.lastIndex = this.at;
        const name = OPTION_NAME.exec(text)?.[0];
        if (name === undefined) this.fail(this.at >= text.length ? 'missing "]"' : 'expected name=value');
        this.at += name.length;
        if (text.charAt(this.at) !== '=') this.fail(`expected "=" after "${name}"`);
        this.at++;
        options.set(name, this.value().trim());
        const next = text.charAt(this.at);
        if (next === ',') {
          this.at++;
        } else if (next === ']') {
          this.at++;
          break;
        } else {
          this.fail(this.at >= text.length ? 'missing "]"' : `expected "," or "]" after the value of "${name}"`);
        }
      }
      const end = this.at;
      this.skipSpace();
      if (text.charAt(this.at) !== '[') this.at = end;
    }
    return Object.fromEntries(options);
  }

  /** A value quoted with " or ' (no escapes; may hold `,` and `]`), or up to the next `,` or `]`. */
  value(): string {
    const { text } = this;
    const quote = text.charAt(this.at);
    const close = quote === '"' || quote === "'" ? text.indexOf(quote, this.at + 1) : -1;
    if (close >= 0) {
      const value = text.slice(this.at + 1, close);
      this.at = close + 1;
      return value;
    }
    const start = this.at;
    while (this.at < text.length && text.charAt(this.at) !== ',' && text.charAt(this.at) !== ']') this.at++;
    return text.slice(start, this.at);
  }
}

/** Parses one `name[k=v, k2="a,b"]`: the whole text is the spec (a jail's `filter =`). */
export function parseOptionSpec(text: string, locate: Locate): OptionSpec {
  const reader = new SpecReader(text, locate);
  const bracket = text.indexOf('[');
  const name = (bracket < 0 ? text : text.slice(0, bracket)).trim();
  if (name === '') reader.fail('expected a name', 0);
  if (bracket < 0) return { name, options: {} };
  reader.at = bracket;
  const options = reader.groups();
  reader.skipSpace();
  if (reader.at < text.length) reader.fail('unexpected text after "]"');
  return { name, options };
}

/** Parses specs separated by whitespace or new lines (a jail's `action =`); a `[…]` may span lines. */
export function parseOptionSpecList(text: string, locate: Locate): OptionSpec[] {
  const reader = new SpecReader(text, locate);
  const specs: OptionSpec[] = [];
  for (reader.skipSpace(); reader.at < text.length; reader.skipSpace()) {
    const start = reader.at;
    while (reader.at < text.length && text.charAt(reader.at) !== '[' && !SPACE.test(text.charAt(reader.at))) reader.at++;
    const name = text.slice(start, reader.at);
    if (name === '') reader.fail('expected a name before "["');
    const end = reader.at;
    reader.skipSpace();
    if (text.charAt(reader.at) !== '[') {
      reader.at = end;
      specs.push({ name, options: {} });
      continue;
    }
    const options = reader.groups();
    if (reader.at < text.length && !SPACE.test(text.charAt(reader.at))) reader.fail('expected a space or a new line after "]"');
    specs.push({ name, options });
  }
  return specs;
}
